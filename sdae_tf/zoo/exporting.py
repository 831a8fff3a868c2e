"""`Family.export`: the encoder and the whole autoencoder as an sdae_tf export."""

import pathlib

import numpy as np

from sdae_tf import zoo
from sdae_tf.evaluation import probe
from sdae_tf.hub import export as export_lib
from sdae_tf.zoo.records import model_record


def export_model(model, path, overwrite=False, dataset=None, value_range=(0.0, 1.0),
                 check_sample=None, probe_data=None, metrics=None, extra=None,
                 stage="pretrained", autoencoder=True, pretrain_dataset=None, on_staged=None):
    """Exports a zoo model: the SavedModel with `serve` (the encoder), `reconstruct` (the
    whole autoencoder, no noise) and its family's `export_endpoints` (the MAE's `inpaint`),
    `encoder.keras` and `manifest.json` (the model's config, so `from_preset(path)` rebuilds
    it; checksums of every file), written aside and moved into place. From a process on
    another Keras backend (JAX), a TensorFlow subprocess writes the same SavedModel from the
    model's `.keras` file (`sdae_tf.zoo.saved_model_writer`), checked against this process's
    outputs as on TensorFlow. `check_sample` (images)
    reloads the SavedModel and compares before anything is placed; `probe_data` = (x_train,
    y_train, x_test, y_test) adds the linear-probe score of the frozen codes and its floor to
    the manifest. The one place an export's manifest is assembled (`sdae-train` exports
    through it too).

    Args:
        model: a zoo model (`sdae_tf.zoo.Family`).
        path: the export folder to write.
        overwrite: replace an existing export (else it is refused, before anything is
            written).
        dataset: the dataset's name, for the manifest.
        value_range: the input contract's (low, high).
        check_sample: images the reloaded export is compared on (default: 32 seeded uniform
            images in `value_range`).
        probe_data: (x_train, y_train, x_test, y_test) for the manifest's probe, or None.
        metrics: scores recorded in the manifest's `metrics`.
        extra: more manifest entries.
        stage: "pretrained" or "fine-tuned": what the encoder's weights are.
        autoencoder: True: `model`'s own autoencoder is the `reconstruct` endpoint; another zoo
            model of the same config: its autoencoder (a run's, as pretraining left it, while
            `model`'s encoder is fine-tuned); None: the encoder alone.
        pretrain_dataset: the dataset the autoencoder was pretrained on, when not `dataset`.
        on_staged: called with the staged manifest's path just before the move.

    Returns:
        The export folder, a `pathlib.Path`.

    Raises:
        FileExistsError: the export exists and `overwrite` is False.
        sdae_tf.hub.export.ExportMismatchError: the reloaded export differs from the model.

    Example:

    ```python
    model = sdae_tf.models.get("sdae_mnist", hidden_units=(64, 16))
    path = sdae_tf.models.export_model(model, "exported/tiny", check_sample=images)
    ```
    """
    import keras

    architecture = model.describe()
    manifest = {
        "model": model.name,
        "description": (zoo.REGISTRY.get(model.name).description if model.name in zoo.REGISTRY
                        else type(model).__doc__.strip().splitlines()[0]),
        "dataset": dataset,
        "input": {"range": [float(v) for v in value_range]},
        "architecture": architecture,
        "noise": architecture["noise"],
        "stage": stage,
        "metrics": dict(metrics or {}),
        "seed": model.seed,
        "zoo_model": model_record(model),
        **(extra or {}),
    }
    if probe_data is not None:  # (x_train, y_train, x_test, y_test)
        manifest["probe"] = probe.manifest_record(model.encoder, *probe_data)
    if check_sample is None:
        check_sample = np.random.default_rng(0).uniform(
            *value_range, size=(32, *model.image_shape)).astype("float32")
    source = model if autoencoder is True else autoencoder
    denoiser = None
    if source is not None:
        denoiser = {
            "noise": architecture["noise"],
            "weights": ("the whole autoencoder as exported" if source is model else
                        "the whole autoencoder after unsupervised pretraining, before "
                        "fine-tuning"),
            **({"pretrain_dataset": pretrain_dataset or dataset} if source is not model
               else {}),
            "use_instead": source.DENOISER_INSTEAD}
    write = None
    if keras.backend.backend() != "tensorflow":  # the SavedModel is TensorFlow's to write
        from sdae_tf.zoo.saved_model_writer import write_through_tensorflow

        def write(staged):
            write_through_tensorflow(model, source, staged)

    return export_lib.export_encoder(
        model.encoder, pathlib.Path(path), manifest, overwrite=overwrite,
        check_sample=check_sample,
        autoencoder=None if source is None else source.autoencoder(),
        endpoints=None if source is None else source.export_endpoints(),
        denoiser=denoiser, on_staged=on_staged, write=write)
