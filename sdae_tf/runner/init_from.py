"""`--init_from`: a run, a `.weights.h5`, a saved zoo model or an export whose pretrained
weights a run starts from instead of pretraining."""

import pathlib
import zipfile

import keras

from sdae_tf import models
from sdae_tf.hub import export as export_lib
from sdae_tf.train.checkpoints import pretrained_weights_path
from sdae_tf.utils import storage
from sdae_tf.zoo.family import Family


def init_source(init_from):
    """What `--init_from` names, checked: ("weights", path) for a run directory or its
    `.weights.h5`, ("keras", path) for a saved zoo model (`.keras`), ("export", path) for an
    export folder or a shipped model's name. A name that is none of them is a
    FileNotFoundError saying what was looked for.

    Args:
        init_from: a run directory, a `.weights.h5`, a `.keras` file, an export folder or a
            shipped model's name.

    Returns:
        (kind, path): kind "weights", "keras" or "export".

    Raises:
        FileNotFoundError: nothing of the kind, saying what was looked for.
    """
    from sdae_tf.hub import pretrained

    path = pathlib.Path(init_from)
    if path.is_file() and path.suffix == ".keras":
        return "keras", path
    if (path / export_lib.MANIFEST_FILE).is_file():
        return "export", path
    if path.exists() or path.suffix == ".h5" or "/" in str(init_from):
        return "weights", pretrained_weights_path(init_from)
    try:
        return "export", pretrained.resolve(init_from)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"--init_from {init_from}: not a run directory, a weights file, a .keras file nor "
            f"an export ({err})") from None


def _source_autoencoder(kind, path):
    """The autoencoder whose weights `--init_from` copies: a loaded `.keras` model's or an
    export's (`sdae_tf.models.from_preset`)."""
    if kind == "export":
        return models.from_preset(path).autoencoder()
    if not zipfile.is_zipfile(path):
        raise storage.DamagedFileError(f"--init_from {path} cannot be read as a Keras file "
                                       "(not a zip archive)")
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    if not isinstance(loaded, Family):
        raise ValueError(f"--init_from {path} holds a {type(loaded).__name__}, not a zoo model "
                         "(a sdae_tf.zoo.Family)")
    return loaded.autoencoder()


def init_from_pretrained(stack, init_from):
    """Loads a pretrained stack's weights (encoder and decoders) instead of pretraining, from a
    run, a saved model or an export (`init_source`). Returns the pretraining record: the source
    run's records when it has its metrics.json.

    Args:
        stack: the family object to load into.
        init_from: what `init_source` takes.

    Returns:
        The pretraining record, a dict.

    Raises:
        ValueError: weights that do not fit the stack. DamagedFileError: a damaged file.
    """
    kind, path = init_source(init_from)
    target = stack.autoencoder()
    try:
        if kind == "weights":
            storage.load_weights(target, path, "--init_from")
        else:
            target.set_weights(_source_autoencoder(kind, path).get_weights())
    except storage.DamagedFileError:
        raise
    except ValueError as err:
        raise ValueError(f"--init_from {path}: the weights do not fit {stack.name} "
                         f"({stack.describe()}): {err}") from None
    record = {"init_from": str(path)}
    source = path.parent / "metrics.json" if kind == "weights" else None
    if source is not None and source.exists():
        source_metrics = storage.read_json(source, "the pretrained run's metrics")
        record.update(blocks=source_metrics.get("pretrain", []),
                      dataset=source_metrics.get("dataset"))
    elif kind == "export":
        record.update(dataset=export_lib.load_manifest(path).get("dataset"))
    print(f"Pretrained weights loaded from {path}", flush=True)
    return record
