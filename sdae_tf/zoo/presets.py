"""Presets: a shipped (or any exported) model as a trainable zoo model."""

from sdae_tf.hub import export as export_lib
from sdae_tf.zoo.records import model_from_manifest

# The weights `from_preset` takes: the autoencoder as unsupervised pretraining left it (encoder
# and decoder a pair: `model(x)` is the export's `reconstruct`), or with the fine-tuned encoder
# of the export's `serve` endpoint in place of the pretrained one.
WEIGHTS = ("pretrained", "finetuned")


def from_preset(name_or_path, weights="pretrained", verify=True):
    """A shipped model by name ("sdae_mnist", `sdae_tf.list_models()`), or an export folder,
    as a trainable zoo model (an instance of its family's class): encoder and decoder with the
    export's weights.

    Args:
        name_or_path: a shipped model's name or an export folder (a zoo model's `export`,
            `sdae-train --export_dir`).
        weights: "pretrained" (default): the whole autoencoder as unsupervised pretraining
            left it, so `model(x)` is the export's `reconstruct` endpoint; "finetuned": the
            same decoder with the fine-tuned encoder of the export's `serve` endpoint.
        verify: check the SHA-256 of the files read against the manifest first.

    Raises:
        FileNotFoundError: no such export. ValueError: a damaged or altered export, an export
            without its autoencoder, or an unknown `weights`.

    Example:

    ```python
    model = sdae_tf.models.from_preset("sdae_mnist")
    clean = model.predict(images)  # the denoiser: (batch, 28, 28, 1)
    ```
    """
    import tensorflow as tf

    from sdae_tf.hub import pretrained

    if weights not in WEIGHTS:
        raise ValueError(f"`weights` must be one of {', '.join(WEIGHTS)}. Received: {weights!r}")
    path = pretrained.resolve(name_or_path)
    manifest = export_lib.load_manifest(path)
    if export_lib.RECONSTRUCT_ENDPOINT not in manifest.get("endpoints", {}):
        raise ValueError(f"{path} exports its encoder only (no {export_lib.RECONSTRUCT_ENDPOINT!r}"
                         " endpoint): there are no decoder weights to load; re-export it from "
                         "a model with a decoder")
    if verify:
        export_lib.verify_checksums(path, export_lib.saved_model_files(path))
    model = model_from_manifest(manifest, path)
    restored = tf.saved_model.load(str(path))
    _assign(model.autoencoder().variables, restored.autoencoder_variables, path, "autoencoder")
    if weights == "finetuned":
        _assign(model.encoder.variables, restored.encoder_variables, path, "encoder")
    return model


def _assign(variables, saved, path, what):
    saved = list(saved)
    shapes = [tuple(v.shape) for v in variables]
    found = [tuple(v.shape) for v in saved]
    if shapes != found:
        raise ValueError(f"{path}: the exported {what} weights ({len(found)} arrays) do not fit "
                         f"the model rebuilt from its manifest ({len(shapes)} arrays): "
                         f"{found[:4]}... vs {shapes[:4]}...")
    for variable, value in zip(variables, saved, strict=True):
        variable.assign(value)


__all__ = ["WEIGHTS", "from_preset"]
