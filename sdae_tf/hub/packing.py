"""Packed presets: an export stored with its weights once, in float16, and unpacked to a full
float32 export (SavedModel, `encoder.keras`, manifest) on first use.

A full export keeps every weight twice (the SavedModel's variables and `encoder.keras`'s) in
float32: 21 MB for a 784-1000-1000 stack. Its pack keeps the SavedModel's graph
(`saved_model.pb`, `fingerprint.pb`), its variables once in float16 (`weights.npz`, no pickle)
and `encoder.keras`'s configuration (`encoder.keras.json`; its weights are the SavedModel's
`encoder_variables`): half the bytes of the variables alone. The wheel ships packs
(`packed_models/`, built from `exported_models/` by `scripts/pack_presets.py`).

`unpack` turns a pack back into a full export in the cache (`presets/` under `$SDAE_TF_CACHE`,
else `~/.cache/sdae_tf`, where the background variants are cached too), float16 values widened
to float32, once per pack (the folder is named for the pack's checksum); the pack's files are
checked against its manifest first, the export is staged aside and moved into place whole, and
two processes unpacking at once both end with the same complete folder.
`hub.pretrained.resolve` does it, so every loader takes a packed name as it takes a full
export.

    packing.pack("exported_models/sdae_mnist", "packed_models/sdae_mnist", check_sample=x)
    path = packing.unpack("packed_models/sdae_mnist")   # a full export in the cache
"""

import json
import os
import pathlib
import shutil
import zipfile

import numpy as np

from sdae_tf.hub import export as export_lib
from sdae_tf.utils import faults, storage

CACHE_ENV = "SDAE_TF_CACHE"
WEIGHTS_FILE = "weights.npz"
KERAS_CONFIG_FILE = "encoder.keras.json"
GRAPH_FILES = ("saved_model.pb", "fingerprint.pb")
VARIABLES_PREFIX = "variables/variables"
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
PACK_DTYPE = "float16"
# float16's largest finite value: a weight beyond it is kept in float32.
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def is_packed(path):
    """True when the folder holds a pack (its manifest has a `packed` section).

    Args:
        path: a folder.

    Returns:
        A bool.
    """
    path = pathlib.Path(path)
    if not (path / export_lib.MANIFEST_FILE).is_file():
        return False
    return "packed" in export_lib.load_manifest(path)


def cache_root():
    """Where packs are unpacked: `presets/` under `$SDAE_TF_CACHE`, else under
    `~/.cache/sdae_tf` (the cache of the background variants, `sdae_tf.data.mnist`)."""
    base = os.environ.get(CACHE_ENV) or pathlib.Path.home() / ".cache" / "sdae_tf"
    return pathlib.Path(base) / "presets"


def _checkpoint_arrays(export_dir):
    """{checkpoint key: numpy array} of an export's SavedModel variables."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(pathlib.Path(export_dir) / VARIABLES_PREFIX))
    return {key: reader.get_tensor(key) for key in sorted(reader.get_variable_to_shape_map())}


def _encoder_keys(arrays):
    keys = [k for k in arrays if k.startswith("encoder_variables/")]
    return sorted(keys, key=lambda k: int(k.split("/")[1]))


def _packed_arrays(arrays):
    """The arrays as stored: float32 ones as float16 (kept float32 past float16's range),
    the object graph as bytes; returns (arrays, {key: dtype kept float32})."""
    out, kept = {}, []
    for key, value in arrays.items():
        if key == OBJECT_GRAPH_KEY:
            out[key] = np.frombuffer(bytes(value), dtype=np.uint8)
        elif value.dtype == np.float32 and np.all(np.abs(value) <= _FLOAT16_MAX):
            out[key] = value.astype(np.float16)
        else:
            out[key] = value
            kept.append(key)
    return out, kept


def pack(export_dir, out_dir, check_sample=None, overwrite=False, extra=None):
    """Packs a full export into `out_dir` (see the module docstring), then unpacks the pack
    and checks it: `check_sample` (images) through both endpoints, the largest |difference|
    from the float32 export recorded in the manifest's `packed` section with the
    `extra` (a dict, e.g. a probe re-measured on the unpacked encoder). Returns `out_dir`.

    Args:
        export_dir: a full export (checked against its checksums first).
        out_dir: the pack's folder.
        check_sample: images both endpoints are compared on after unpacking, or None.
        overwrite: replace an existing pack.
        extra: entries for the pack's `packed` section.

    Returns:
        `out_dir`, a `pathlib.Path`.

    Raises:
        ValueError: an export already packed, one of an older version, or a stale
            encoder.keras.
    """
    import keras

    export_dir, out_dir = pathlib.Path(export_dir), pathlib.Path(out_dir)
    export_lib.check_export_target(out_dir, overwrite)
    export_lib.verify_checksums(export_dir)
    manifest = export_lib.load_manifest(export_dir)
    if "packed" in manifest:
        raise ValueError(f"{export_dir} is already a pack")
    arrays = _checkpoint_arrays(export_dir)
    if not _encoder_keys(arrays):
        raise ValueError(f"{export_dir}: the SavedModel holds no `encoder_variables`: not an "
                         "sdae_tf export of this version")
    stored, kept = _packed_arrays(arrays)
    with zipfile.ZipFile(export_dir / export_lib.KERAS_FILE) as archive:
        keras_files = {name: json.loads(archive.read(name))
                       for name in ("config.json", "metadata.json")}
    # encoder.keras's weights must be the SavedModel's fine-tuned encoder, in order.
    encoder = keras.saving.load_model(export_dir / export_lib.KERAS_FILE, compile=False,
                                      safe_mode=True)
    saved = [arrays[k] for k in _encoder_keys(arrays)]
    if [w.shape for w in encoder.get_weights()] != [s.shape for s in saved] or any(
            not np.array_equal(w, s) for w, s in zip(encoder.get_weights(), saved, strict=True)):
        raise ValueError(f"{export_dir}: {export_lib.KERAS_FILE}'s weights are not the "
                         "SavedModel's encoder_variables; re-export it before packing")

    with storage.staged_dir(out_dir, overwrite) as staged:
        check_dir = staged.parent / "check"
        for name in GRAPH_FILES:
            shutil.copy2(export_dir / name, staged / name)
        np.savez_compressed(staged / WEIGHTS_FILE, **stored)
        (staged / KERAS_CONFIG_FILE).write_text(json.dumps(keras_files, indent=1, sort_keys=True)
                                                + "\n")
        source = {k: v for k, v in manifest.items() if k != "files_sha256"}
        record = {"dtype": PACK_DTYPE, "kept_float32": kept,
                  "source_files_sha256": export_lib.recorded_checksums(manifest),
                  **(extra or {})}
        packed_manifest = {**source, "packed": record,
                           "files_sha256": export_lib.weight_checksums(staged)}
        (staged / export_lib.MANIFEST_FILE).write_text(
            json.dumps(packed_manifest, indent=2, sort_keys=True) + "\n")
        unpacked = _unpack_to(staged, check_dir)
        if check_sample is not None:
            record["max_abs_diff"] = _endpoint_differences(export_dir, unpacked, check_sample,
                                                           manifest)
            record["check_examples"] = int(len(check_sample))
            packed_manifest["packed"] = record
            (staged / export_lib.MANIFEST_FILE).write_text(
                json.dumps(packed_manifest, indent=2, sort_keys=True) + "\n")
        shutil.rmtree(check_dir)
    return out_dir


def _endpoint_differences(full, unpacked, sample, manifest):
    import tensorflow as tf

    a, b = tf.saved_model.load(str(full)), tf.saved_model.load(str(unpacked))
    x = tf.constant(sample, tf.float32)
    endpoints = [export_lib.SERVING_ENDPOINT]
    if export_lib.RECONSTRUCT_ENDPOINT in manifest.get("endpoints", {}):
        endpoints.append(export_lib.RECONSTRUCT_ENDPOINT)
    out = {e: float(np.max(np.abs(getattr(a, e)(x).numpy() - getattr(b, e)(x).numpy())))
           for e in endpoints}
    for name, record in manifest.get("extra_endpoints", {}).items():
        args = [x] + [_example_input(spec, len(sample), i)
                      for i, spec in enumerate(record["inputs"][1:])]
        out[name] = float(np.max(np.abs(getattr(a, name)(*args).numpy()
                                        - getattr(b, name)(*args).numpy())))
    return out


def _example_input(spec, batch, seed):
    """A seeded 0/1 input of `spec`'s shape (the extra endpoints' second inputs are masks)
    with the same number of ones in every example."""
    import tensorflow as tf

    size = int(np.prod(spec["shape"]))
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((batch, size)), axis=1)
    mask = np.zeros((batch, size), np.float32)
    np.put_along_axis(mask, order[:, :size // 2], 1.0, axis=1)
    return tf.constant(mask.reshape(batch, *spec["shape"]), spec["dtype"])


def unpack(packed_dir, cache=None):
    """The full export of a pack, unpacked into the cache on first use (see the module
    docstring) and found there afterwards. Returns its folder.

    Args:
        packed_dir: a pack.
        cache: the cache folder (default: `cache_root()`).

    Returns:
        The full export's folder, a `pathlib.Path`.
    """
    packed_dir = pathlib.Path(packed_dir)
    manifest = export_lib.load_manifest(packed_dir)
    if "packed" not in manifest:
        raise ValueError(f"{packed_dir} is not a pack (its manifest has no `packed` section)")
    digest = manifest["files_sha256"].get(WEIGHTS_FILE)
    if not digest:
        raise ValueError(f"{packed_dir}: manifest.json records no checksum of {WEIGHTS_FILE}")
    root = pathlib.Path(cache) if cache is not None else cache_root()
    target = root / f"{manifest.get('model', packed_dir.name)}-{digest[:16]}"
    # The pack's own files are always verified, whatever the cache holds; so is the cached
    # copy (a damaged one is unpacked again).
    export_lib.verify_checksums(packed_dir)
    storage.recover(target)
    if (target / export_lib.MANIFEST_FILE).is_file():
        try:
            export_lib.verify_checksums(target)
            return target
        except ValueError as err:
            print(f"warning: the cached copy is damaged ({err}); unpacking it again",
                  flush=True)
    kept = (f"the preset {packed_dir.name} was not unpacked into {root} and nothing is left "
            "half-written")
    with storage.translate(kept, resume=f"load it again (or set ${CACHE_ENV} to another folder)"):
        root.mkdir(parents=True, exist_ok=True)
        try:
            with storage.staged_dir(target, overwrite=target.exists()) as staged:
                _unpack_to(packed_dir, staged)
                faults.point("unpack:staged")
        except FileExistsError:
            if not (target / export_lib.MANIFEST_FILE).is_file():  # no concurrent unpack
                raise
    return target


def _unpack_to(packed_dir, staged):
    """Writes the full export of `packed_dir` to `staged` (a new folder); returns it."""
    import keras
    import tensorflow as tf

    packed_dir, staged = pathlib.Path(packed_dir), pathlib.Path(staged)
    manifest = export_lib.load_manifest(packed_dir)
    (staged / "variables").mkdir(parents=True)
    for name in GRAPH_FILES:
        shutil.copy2(packed_dir / name, staged / name)
    with np.load(packed_dir / WEIGHTS_FILE, allow_pickle=False) as stored:
        arrays = {k: stored[k] for k in stored.files}
    keys = sorted(arrays)
    tensors = []
    for key in keys:
        value = arrays[key]
        if key == OBJECT_GRAPH_KEY:
            tensors.append(tf.constant(value.tobytes(), tf.string))
        else:
            tensors.append(tf.constant(value.astype(np.float32) if value.dtype == np.float16
                                       else value))
    tf.raw_ops.SaveV2(prefix=str(staged / VARIABLES_PREFIX), tensor_names=keys,
                      shape_and_slices=[""] * len(keys), tensors=tensors)

    keras_files = storage.read_json(packed_dir / KERAS_CONFIG_FILE, "the pack's Keras config")
    encoder = keras.saving.deserialize_keras_object(keras_files["config.json"], safe_mode=True)
    weights = [arrays[k].astype(np.float32) for k in _encoder_keys(arrays)]
    encoder.set_weights(weights)
    encoder.save(staged / export_lib.KERAS_FILE)

    full = {k: v for k, v in manifest.items() if k not in ("packed", "files_sha256")}
    full["unpacked_from"] = {"pack": str(packed_dir),
                             "weights_sha256": manifest["files_sha256"][WEIGHTS_FILE],
                             **manifest["packed"]}
    full["files_sha256"] = export_lib.weight_checksums(staged)
    (staged / export_lib.MANIFEST_FILE).write_text(json.dumps(full, indent=2, sort_keys=True)
                                                   + "\n")
    return staged


__all__ = ["CACHE_ENV", "cache_root", "is_packed", "pack", "unpack"]
