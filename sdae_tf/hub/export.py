"""Encoder export (SavedModel + `.keras` + manifest, written atomically) and reuse as a layer.

An export may also carry the whole autoencoder as the SavedModel's `reconstruct` endpoint
(images in, reconstruction out): the denoiser of `sdae_tf.denoiser`. Every file but the manifest
has its SHA-256 in the manifest (`files_sha256`), and the loaders check the files they read."""

import hashlib
import json
import pathlib
import platform
import zipfile

import keras
import numpy as np
import tensorflow as tf

from sdae_tf import layers as _layers  # noqa: F401  registers the layers an encoder.keras holds
from sdae_tf import package
from sdae_tf.utils import faults, storage

SERVING_ENDPOINT = "serve"
RECONSTRUCT_ENDPOINT = "reconstruct"
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
    """Fails early if `export_dir` holds something and `overwrite` is False.

    Args:
        export_dir: an export folder.
        overwrite: whether an existing export may be replaced.

    Raises:
        FileExistsError: the folder exists (and `overwrite` is False), or is a file.
    """
    path = pathlib.Path(export_dir)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"Export directory {path} already exists; pass --overwrite_export (or "
            "overwrite=True) to replace it, or choose another --export_dir"
        )
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"Export target {path} exists and is not a directory")


def library_versions():
    """{package: version} of sdae_tf, TensorFlow, Keras, NumPy and Python, as manifests record."""
    return {
        package.NAME: package.version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def export_files(export_dir):
    """Every file of an export but its manifest, relative paths (posix).

    Args:
        export_dir: an export folder.

    Returns:
        A sorted list of relative posix paths.
    """
    export_dir = pathlib.Path(export_dir)
    return sorted(f.relative_to(export_dir).as_posix() for f in export_dir.rglob("*")
                  if f.is_file() and f.name != MANIFEST_FILE)


def file_sha256(path):
    """The SHA-256 of a file, hex.

    Args:
        path: a file.

    Returns:
        The hex digest, a str.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weight_checksums(export_dir):
    """{relative path: sha256} of every file of the export but the manifest.

    Args:
        export_dir: an export folder.

    Returns:
        A dict relative path -> hex digest.
    """
    export_dir = pathlib.Path(export_dir)
    return {name: file_sha256(export_dir / name) for name in export_files(export_dir)}


def recorded_checksums(manifest):
    """The manifest's {relative path: sha256}: `files_sha256` (every file), or the
    `weights_sha256` of exports written before it (weight files only).

    Args:
        manifest: an export's manifest, a dict.

    Returns:
        A dict relative path -> hex digest (empty if it records none).
    """
    return manifest.get("files_sha256") or manifest.get("weights_sha256") or {}


def verify_checksums(export_dir, files=None):
    """Checks files of an export against the SHA-256 its manifest records: `files` (relative
    paths; default every file the manifest records, plus every file present). A file whose
    checksum differs, or that the manifest records but is missing, raises ValueError naming it;
    so does a manifest that records none. Files an older manifest did not record (it recorded
    weights only) are not checked. Returns {file: sha256} of the checked files.

    Args:
        export_dir: an export folder.
        files: relative paths to check, or None (all).

    Returns:
        A dict file -> hex digest of the files checked.

    Raises:
        ValueError: a differing or missing file, or a manifest without checksums.

    Example:

    ```python
    from sdae_tf.hub import export
    checked = export.verify_checksums("exported_models/cdae_mnist")
    ```
    """
    export_dir = pathlib.Path(export_dir)
    manifest = load_manifest(export_dir)
    expected = recorded_checksums(manifest)
    if not expected:
        raise ValueError(f"{export_dir}: manifest.json records no checksums (files_sha256)")
    names = sorted(set(expected) | set(export_files(export_dir))) if files is None else files
    checked = {}
    for name in names:
        if name not in expected:
            if "files_sha256" in manifest:
                raise ValueError(f"{export_dir}: {name} is not recorded in manifest.json; the "
                                 "export was modified")
            continue
        path = export_dir / name
        actual = file_sha256(path) if path.is_file() else None
        if actual != expected[name]:
            raise ValueError(
                f"{export_dir}: checksum of {name} does not match manifest.json "
                f"(expected {expected[name]}, found {actual or 'no file'}); the export is "
                "damaged or was modified"
            )
        checked[name] = actual
    return checked


def saved_model_files(export_dir):
    """The files the frozen loaders read: the SavedModel (graph, fingerprint, variables), as
    the manifest lists them and as the folder holds them (a listed file that is missing and a
    file that is not listed are both caught by `verify_checksums`).

    Args:
        export_dir: an export folder.

    Returns:
        The relative paths of the SavedModel's files.
    """
    listed = set(recorded_checksums(load_manifest(export_dir)))
    return sorted((listed | set(export_files(export_dir))) - {KERAS_FILE})


def write_saved_model(encoder, path, autoencoder=None, endpoints=None):
    """A plain `tf.Module` SavedModel with the two endpoints (and `reconstruct` when an
    `autoencoder` is given, and the family's `endpoints`, whose layers are the
    autoencoder's). It tracks the underlying `tf.Variable`s once: `keras.export.ExportArchive`
    writes every weight twice (as the Keras variable and as the `tf.Variable` the traced
    functions capture), doubling the export's size.

    Args:
        encoder: the Keras encoder (TensorFlow backend), images -> embedding.
        path: the folder the SavedModel is written to.
        autoencoder: the whole autoencoder for `reconstruct`, or None.
        endpoints: more endpoints, `{name: zoo.family.Endpoint}`, or None.
    """
    spec = tf.TensorSpec((None, *encoder.input_shape[1:]), tf.float32, name=INPUT_NAME)
    module = tf.Module()
    module.encoder_variables = [v.value for v in encoder.variables]
    if autoencoder is not None:
        module.autoencoder_variables = [v.value for v in autoencoder.variables]

        @tf.function(input_signature=[spec])
        def reconstruct(x):
            return autoencoder(x, training=False)

        module.reconstruct = reconstruct
    for name, endpoint in (endpoints or {}).items():
        specs = [tf.TensorSpec((None, *shape), dtype, name=arg)
                 for arg, shape, dtype in endpoint.inputs]
        # No autograph: the graph is plain layer calls (autograph once mistook a method of the
        # family for another when converting it).
        setattr(module, name, tf.function(endpoint.function, input_signature=specs,
                                          autograph=False))

    @tf.function(input_signature=[spec])
    def serve(x):
        return encoder(x, training=False)

    @tf.function(input_signature=[spec])
    def serving_default(x):
        return {OUTPUT_NAME: encoder(x, training=False)}

    module.serve = serve
    module.serving_default = serving_default
    tf.saved_model.save(module, str(path), signatures={"serving_default": serving_default})


def reload_difference(export_dir, model, sample, endpoint=SERVING_ENDPOINT):
    """Max |reloaded SavedModel endpoint(sample) - model(sample)| of an export (`sample` a
    tuple: the arguments of an endpoint that takes several, `model` the function it runs).

    Args:
        export_dir: a written (or staged) export.
        model: the Keras model (or the function) the endpoint should equal.
        sample: images, or a tuple of the endpoint's arguments.
        endpoint: the endpoint's name.

    Returns:
        The largest absolute difference, a float.
    """
    return _difference(tf.saved_model.load(str(export_dir)), model, sample, endpoint)


def _difference(reloaded, model, sample, endpoint):
    """`reload_difference` on a SavedModel loaded already (one load checks every endpoint)."""
    if isinstance(sample, tuple):
        args = [tf.constant(a) for a in sample]
        # (a model on another Keras backend than TensorFlow takes arrays, not TF tensors)
        want = model(*(args if keras.backend.backend() == "tensorflow" else sample))
    else:
        args, want = [tf.constant(sample, tf.float32)], model(sample, training=False)
    got = getattr(reloaded, endpoint)(*args)
    return float(np.max(np.abs(np.asarray(got) - np.asarray(want))))


def endpoint_records(endpoints):
    """The manifest's `extra_endpoints`: each endpoint's inputs and description.

    Args:
        endpoints: `{name: zoo.family.Endpoint}`.

    Returns:
        A JSON-ready dict name -> {"inputs", "description"}.
    """
    return {name: {"inputs": [{"name": arg, "shape": [int(d) for d in shape], "dtype": dtype}
                              for arg, shape, dtype in e.inputs],
                   "description": e.description}
            for name, e in endpoints.items()}


def export_encoder(encoder, export_dir, manifest, overwrite=False, check_sample=None,
                   tolerance=RELOAD_TOLERANCE, autoencoder=None, denoiser=None,
                   on_staged=None, endpoints=None, write=None):
    """Writes `encoder` to `export_dir`: a TF SavedModel (endpoints `serve` -> tensor and
    `serving_default` -> {"embedding": tensor}, any batch size, inference mode), the same
    encoder as `encoder.keras`, and `manifest.json`.

    Everything is written to a temporary sibling folder first and moved into place at the
    end, so an interrupted export leaves no half-written directory. An existing export is
    replaced only with `overwrite=True`. With `check_sample`, the staged SavedModel is reloaded
    and run on it before anything is moved into place: a difference above `tolerance` raises
    `ExportMismatchError` (an existing export stays as it was); the difference is recorded in
    the manifest (`export_check`).

    `on_staged(manifest_path)`, when given, is called once everything is staged and checked,
    just before it is moved into place (a run records there which export is its own).

    With `autoencoder` (a Keras model images -> reconstructed images), the SavedModel also has
    the `reconstruct` endpoint, checked the same way; `denoiser` (a dict: the noise it was
    trained to remove, where its weights come from) goes into the manifest's `denoiser`.
    `endpoints` (`{name: zoo.family.Endpoint}`, a family's `export_endpoints()`, its layers
    the autoencoder's) adds those endpoints, checked the same way on their `example` of the
    sample, and recorded in the manifest's `extra_endpoints`.

    Args:
        encoder: the Keras encoder, images -> embedding.
        export_dir: the folder to write.
        manifest: the manifest's entries (model, dataset, metrics, ...).
        overwrite: replace an existing export.
        check_sample: images the reloaded SavedModel is compared on, or None.
        tolerance: the largest difference accepted.
        autoencoder: the whole autoencoder for the `reconstruct` endpoint, or None.
        denoiser: the manifest's `denoiser` entries (noise, weights), or None.
        on_staged: called with the staged manifest's path before the move, or None.
        endpoints: more endpoints, `{name: zoo.family.Endpoint}`, or None.
        write: writes the SavedModel into the staged folder it is given (default:
            `write_saved_model` in this process; a process on another Keras backend passes
            `sdae_tf.zoo.saved_model_writer.write_through_tensorflow`).

    Returns:
        The export directory as a `pathlib.Path`.

    Raises:
        FileExistsError: the export exists and `overwrite` is False.
        ExportMismatchError: the reloaded export differs by more than `tolerance`.
    """
    export_dir = pathlib.Path(export_dir)
    check_export_target(export_dir, overwrite)
    with storage.staged_dir(export_dir, overwrite) as staged:
        extra = dict(endpoints or {})
        if extra and autoencoder is None:
            raise ValueError(f"Export to {export_dir}: the endpoints {', '.join(extra)} run the "
                             "autoencoder's layers; give the autoencoder too")
        if write is None:
            write_saved_model(encoder, staged, autoencoder, extra)
        else:
            write(staged)
        encoder.save(staged / KERAS_FILE)
        endpoints = {SERVING_ENDPOINT: "tensor", "serving_default": {OUTPUT_NAME: "tensor"}}
        if extra:
            endpoints.update(dict.fromkeys(extra, "tensor"))
            manifest = {**manifest, "extra_endpoints": endpoint_records(extra)}
        if autoencoder is not None:
            endpoints[RECONSTRUCT_ENDPOINT] = "tensor"
            manifest = {**manifest, "denoiser": {
                "endpoint": RECONSTRUCT_ENDPOINT,
                "output_shape": list(autoencoder.output_shape[1:]), **(denoiser or {})}}
        if check_sample is not None:
            check = {"examples": len(check_sample), "tolerance": tolerance}
            checked = [(SERVING_ENDPOINT, encoder, "reload_max_abs_diff")]
            if autoencoder is not None:
                checked.append((RECONSTRUCT_ENDPOINT, autoencoder, "reconstruct_max_abs_diff"))
            checked = [(e, m, key, check_sample) for e, m, key in checked]
            checked += [(name, e.function, f"{name}_max_abs_diff",
                         tuple(np.asarray(a, np.float32) for a in e.example(check_sample)))
                        for name, e in extra.items()]
            reloaded = tf.saved_model.load(str(staged))
            for endpoint, model, key, sample in checked:
                diff = _difference(reloaded, model, sample, endpoint)
                if not diff <= tolerance:
                    raise ExportMismatchError(
                        f"Export to {export_dir}: the reloaded SavedModel's {endpoint!r} "
                        f"differs from the model by up to {diff:.3g} on {len(check_sample)} "
                        f"examples (tolerance {tolerance:g}); nothing was exported")
                check[key] = diff
            manifest = {**manifest, "export_check": check}
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
            "endpoints": endpoints,
            "keras_file": KERAS_FILE,
            "versions": library_versions(),
            "files_sha256": weight_checksums(staged),
        }
        (staged / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        faults.point("export:staged")
        if on_staged is not None:
            on_staged(staged / MANIFEST_FILE)
    return export_dir


def load_manifest(export_dir):
    """The `manifest.json` of an export as a dict.

    Args:
        export_dir: an export folder.

    Returns:
        The manifest, a dict.

    Raises:
        FileNotFoundError: no manifest.json. DamagedFileError: one that cannot be read.
    """
    storage.recover(export_dir)  # an export a kill left aside mid-replacement is put back
    path = pathlib.Path(export_dir) / MANIFEST_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: {export_dir} is not an sdae_tf export")
    manifest = storage.read_json(path, "export manifest")
    if not isinstance(manifest, dict):
        raise storage.DamagedFileError(f"export manifest {path} is damaged (not a JSON object)")
    return manifest


def load_encoder(export_dir, trainable=False, name=None, verify=True):
    """Loads an exported encoder as a Keras layer (images -> embedding) to put under a head.

    Args:
        export_dir: a folder written by `export_encoder`.
        trainable: False (default) gives a frozen `keras.layers.TFSMLayer` on the SavedModel's
            `serve` endpoint. True loads the `.keras` copy (plain Keras layers, safe mode),
            which fine-tunes with any optimizer.
        name: optional layer name (frozen layer only).
        verify: check the SHA-256 of every file read against the manifest first (a damaged
            or altered export is refused with a ValueError naming the file).
    """
    export_dir = pathlib.Path(export_dir)
    if not (export_dir / "saved_model.pb").exists():
        raise FileNotFoundError(f"{export_dir} holds no SavedModel (saved_model.pb missing)")
    if verify:
        verify_checksums(export_dir, [KERAS_FILE] if trainable else saved_model_files(export_dir))
    if trainable:
        if not zipfile.is_zipfile(export_dir / KERAS_FILE):
            raise storage.DamagedFileError(f"{export_dir / KERAS_FILE} cannot be read as a Keras "
                                           "file (not a zip archive); the export is damaged")
        try:
            model = keras.saving.load_model(export_dir / KERAS_FILE, compile=False,
                                            safe_mode=True)
        except (zipfile.BadZipFile, OSError, KeyError, EOFError) as err:
            raise storage.DamagedFileError(
                f"{export_dir / KERAS_FILE} cannot be read as a Keras file ({err}); the export "
                "is damaged") from err
        model.trainable = True
        return model
    return keras.layers.TFSMLayer(
        str(export_dir), call_endpoint=SERVING_ENDPOINT, trainable=False,
        name=name or f"{export_dir.name}_encoder",
    )


def load_reconstructor(export_dir, name=None, verify=True):
    """The export's whole autoencoder (its `reconstruct` endpoint: images -> reconstruction)
    as a frozen `keras.layers.TFSMLayer`; the SHA-256 of the files read are checked first.
    An export without one (an encoder-only export) is refused, naming what it has.

    Args:
        export_dir: an export folder.
        name: the layer's name.
        verify: check the SHA-256 of the files read first.

    Returns:
        A frozen `keras.layers.TFSMLayer`, images -> reconstruction.

    Raises:
        ValueError: an export without `reconstruct`, or a damaged one.
    """
    export_dir = pathlib.Path(export_dir)
    manifest = load_manifest(export_dir)
    if RECONSTRUCT_ENDPOINT not in manifest.get("endpoints", {}):
        raise ValueError(
            f"{export_dir} has no {RECONSTRUCT_ENDPOINT!r} endpoint (it exports the encoder "
            f"only: {', '.join(manifest.get('endpoints', {})) or 'no endpoints'}); re-export "
            "it with this version, from a model with a decoder")
    if verify:
        verify_checksums(export_dir, saved_model_files(export_dir))
    return keras.layers.TFSMLayer(
        str(export_dir), call_endpoint=RECONSTRUCT_ENDPOINT, trainable=False,
        name=name or f"{export_dir.name}_reconstruct")


class _EndpointLayer(keras.layers.TFSMLayer):
    """A `TFSMLayer` on an endpoint that takes several tensors: called on a list of them."""

    def call(self, inputs, training=False):
        return self.call_endpoint_fn(*inputs)


def load_endpoint(export_dir, endpoint, name=None, verify=True):
    """One of an export's extra endpoints (`manifest["extra_endpoints"]`, e.g. the masked
    autoencoder's `inpaint`) as a frozen Keras layer called on the list of its inputs; the
    SHA-256 of the files read are checked first. An export without it is refused, naming
    the endpoints it has.

    Args:
        export_dir: an export folder.
        endpoint: the endpoint's name (e.g. "inpaint").
        name: the layer's name.
        verify: check the SHA-256 of the files read first.

    Returns:
        A frozen Keras layer called on the list of the endpoint's inputs.

    Raises:
        ValueError: an export without that endpoint, naming the ones it has.
    """
    export_dir = pathlib.Path(export_dir)
    manifest = load_manifest(export_dir)
    if endpoint not in manifest.get("extra_endpoints", {}):
        have = ", ".join(manifest.get("endpoints", {})) or "no endpoints"
        raise ValueError(f"{export_dir} ({manifest.get('model')}) has no {endpoint!r} "
                         f"endpoint; it has: {have}")
    if verify:
        verify_checksums(export_dir, saved_model_files(export_dir))
    return _EndpointLayer(str(export_dir), call_endpoint=endpoint, trainable=False,
                          name=name or f"{export_dir.name}_{endpoint}")
