"""Encoder export (SavedModel + `.keras` + manifest, written atomically) and reuse as a layer."""

import hashlib
import json
import os
import pathlib
import platform
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from sdae_tf import package

SERVING_ENDPOINT = "serve"
INPUT_NAME = "images"
OUTPUT_NAME = "embedding"
KERAS_FILE = "encoder.keras"
MANIFEST_FILE = "manifest.json"
# Largest |difference| allowed between the reloaded SavedModel's embeddings and the encoder's
# on the check sample (float32 through the same kernels: differences are rounding).
RELOAD_TOLERANCE = 1e-4


class ExportMismatchError(ValueError):
    """The exported SavedModel, reloaded, does not compute what the encoder computes."""


def check_export_target(export_dir, overwrite=False):
    """Fails early if `export_dir` holds something and `overwrite` is False."""
    path = pathlib.Path(export_dir)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"Export directory {path} already exists; pass --overwrite_export (or "
            "overwrite=True) to replace it, or choose another --export_dir"
        )
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"Export target {path} exists and is not a directory")


def library_versions():
    return {
        package.NAME: package.version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def weight_files(export_dir):
    """The files of an export that hold weights: the SavedModel variables and the .keras copy."""
    export_dir = pathlib.Path(export_dir)
    files = sorted((export_dir / "variables").glob("variables.*")) + [export_dir / KERAS_FILE]
    return [f for f in files if f.is_file()]


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weight_checksums(export_dir):
    """{relative path: sha256} of `weight_files(export_dir)`."""
    export_dir = pathlib.Path(export_dir)
    return {f.relative_to(export_dir).as_posix(): _sha256(f) for f in weight_files(export_dir)}


def verify_checksums(export_dir):
    """Raises ValueError naming the file whose checksum differs from the manifest's."""
    expected = load_manifest(export_dir).get("weights_sha256")
    if not expected:
        raise ValueError(f"{export_dir}: manifest.json records no weights_sha256")
    actual = weight_checksums(export_dir)
    for name in sorted(set(expected) | set(actual)):
        if expected.get(name) != actual.get(name):
            raise ValueError(
                f"{export_dir}: checksum of {name} does not match manifest.json "
                f"(expected {expected.get(name)}, found {actual.get(name)}); the export is "
                "damaged or was modified"
            )
    return actual


def _write_saved_model(encoder, path):
    """A plain `tf.Module` SavedModel with the two endpoints. It tracks the encoder's
    underlying `tf.Variable`s once: `keras.export.ExportArchive` writes every weight twice
    (as the Keras variable and as the `tf.Variable` the traced functions capture), doubling
    the export's size."""
    spec = tf.TensorSpec((None, *encoder.input_shape[1:]), tf.float32, name=INPUT_NAME)
    module = tf.Module()
    module.encoder_variables = [v.value for v in encoder.variables]

    @tf.function(input_signature=[spec])
    def serve(x):
        return encoder(x, training=False)

    @tf.function(input_signature=[spec])
    def serving_default(x):
        return {OUTPUT_NAME: encoder(x, training=False)}

    module.serve = serve
    module.serving_default = serving_default
    tf.saved_model.save(module, str(path), signatures={"serving_default": serving_default})


def reload_difference(export_dir, encoder, sample):
    """Max |reloaded SavedModel(sample) - encoder(sample)| of an export."""
    reloaded = load_encoder(export_dir)
    return float(np.max(np.abs(np.asarray(reloaded(sample))
                               - np.asarray(encoder(sample, training=False)))))


def export_encoder(encoder, export_dir, manifest, overwrite=False, check_sample=None,
                   tolerance=RELOAD_TOLERANCE):
    """Writes `encoder` to `export_dir`: a TF SavedModel (endpoints `serve` -> tensor and
    `serving_default` -> {"embedding": tensor}, any batch size, inference mode), the same
    encoder as `encoder.keras`, and `manifest.json`.

    Everything is written to a temporary sibling folder first and moved into place at the
    end, so an interrupted export leaves no half-written directory. An existing export is
    replaced only with `overwrite=True`. With `check_sample`, the staged SavedModel is reloaded
    and run on it before anything is moved into place: a difference above `tolerance` raises
    `ExportMismatchError` (an existing export stays as it was); the difference is recorded in
    the manifest (`export_check`).

    Returns:
        The export directory as a `pathlib.Path`.
    """
    export_dir = pathlib.Path(export_dir)
    check_export_target(export_dir, overwrite)
    export_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{export_dir.name}.partial-",
                                        dir=export_dir.parent))
    try:
        staged = tmp / export_dir.name
        _write_saved_model(encoder, staged)
        encoder.save(staged / KERAS_FILE)
        if check_sample is not None:
            diff = reload_difference(staged, encoder, check_sample)
            if not diff <= tolerance:
                raise ExportMismatchError(
                    f"Export to {export_dir}: the reloaded SavedModel differs from the encoder "
                    f"by up to {diff:.3g} on {len(check_sample)} examples (tolerance "
                    f"{tolerance:g}); nothing was exported")
            manifest = {**manifest, "export_check": {
                "reload_max_abs_diff": diff, "tolerance": tolerance,
                "examples": len(check_sample)}}
        manifest = {
            **manifest,
            "input": {
                "name": INPUT_NAME,
                "shape": list(encoder.input_shape[1:]),
                "dtype": "float32",
                **manifest.get("input", {}),
            },
            "embedding_size": int(np.prod(encoder.output_shape[1:])),
            "output_shape": list(encoder.output_shape[1:]),
            "endpoints": {SERVING_ENDPOINT: "tensor", "serving_default": {OUTPUT_NAME: "tensor"}},
            "keras_file": KERAS_FILE,
            "versions": library_versions(),
            "weights_sha256": weight_checksums(staged),
        }
        (staged / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if export_dir.exists():  # overwrite: move the old export aside, restore it on failure
            old = tmp / "previous"
            os.replace(export_dir, old)
            try:
                os.replace(staged, export_dir)
            except OSError:
                os.replace(old, export_dir)
                raise
        else:
            os.replace(staged, export_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return export_dir


def load_manifest(export_dir):
    """The `manifest.json` of an export as a dict."""
    path = pathlib.Path(export_dir) / MANIFEST_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: {export_dir} is not an sdae_tf export")
    return json.loads(path.read_text())


def load_encoder(export_dir, trainable=False, name=None):
    """Loads an exported encoder as a Keras layer (images -> embedding) to put under a head.

    Args:
        export_dir: a folder written by `export_encoder`.
        trainable: False (default) gives a frozen `keras.layers.TFSMLayer` on the SavedModel's
            `serve` endpoint. True loads the `.keras` copy (plain Keras layers, safe mode),
            which fine-tunes with any optimizer.
        name: optional layer name (frozen layer only).
    """
    export_dir = pathlib.Path(export_dir)
    if not (export_dir / "saved_model.pb").exists():
        raise FileNotFoundError(f"{export_dir} holds no SavedModel (saved_model.pb missing)")
    if trainable:
        model = keras.saving.load_model(export_dir / KERAS_FILE, compile=False, safe_mode=True)
        model.trainable = True
        return model
    return keras.layers.TFSMLayer(
        str(export_dir), call_endpoint=SERVING_ENDPOINT, trainable=False,
        name=name or f"{export_dir.name}_encoder",
    )
