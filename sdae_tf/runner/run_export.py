"""A run's export: the trained encoder, with the whole autoencoder as pretraining left it,
through the one export writer (`sdae_tf.zoo.exporting.export_model`)."""

import dataclasses
import pathlib

from sdae_tf.hub import export as export_lib
from sdae_tf.runner import config as config_lib
from sdae_tf.runner.init_from import init_from_pretrained
from sdae_tf.train.checkpoints import PRETRAINED_WEIGHTS
from sdae_tf.utils import storage
from sdae_tf.zoo.exporting import export_model

# The linear probe written into an export's manifest: fitted on the first PROBE_TRAIN training
# examples, scored on the first PROBE_TEST test examples; its floor is the score less
# `probe.PROBE_MARGIN`.
PROBE_TRAIN = 5000
PROBE_TEST = 2000


def pretrained_stack(cfg, input_shape, run_dir):
    """The run's stack as unsupervised pretraining left it (fine-tuning changes the encoder,
    not the decoder, so the whole autoencoder is taken from before it): a fresh stack with the
    run's pretrained weights (its own, or `init_from`'s); None for a model without
    pretraining.

    Args:
        cfg: the run's `TrainConfig`.
        input_shape: one example's shape.
        run_dir: the run directory.

    Returns:
        A family object, or None.
    """
    path = pathlib.Path(run_dir) / PRETRAINED_WEIGHTS
    stack = config_lib.build_model(cfg, input_shape)
    if path.exists():
        storage.load_weights(stack.autoencoder(), path, "the pretrained weights")
    elif cfg.init_from:
        init_from_pretrained(stack, cfg.init_from)
    else:
        return None
    return stack


def export_run(cfg, stack, data, stage, metrics, extra=None, run_dir=None, on_staged=None):
    """Exports `stack.encoder` to `cfg.export_dir` with its manifest (model, data, architecture,
    metrics, seed, config, linear-probe floor, `extra`), reloads it and compares. A pretrained
    model also exports its whole autoencoder (`pretrained_stack`) as the `reconstruct`
    endpoint, the denoiser, and its family's `export_endpoints` (the MAE's `inpaint`).
    Returns the export record of metrics.json.

    Args:
        cfg: the run's `TrainConfig`.
        stack: the trained model.
        data: the run's `Splits`.
        stage: "pretrained" or "fine-tuned", for the manifest.
        metrics: the run's metrics so far.
        extra: more manifest entries.
        run_dir: the run directory (its pretrained weights give the `reconstruct` endpoint).
        on_staged: called with the staged manifest's path before the move.
    """
    pretrained = (pretrained_stack(cfg, data.input_shape, run_dir)
                  if run_dir is not None else None)
    path = export_model(
        stack, cfg.export_dir, overwrite=cfg.overwrite_export, dataset=data.name,
        value_range=data.value_range, check_sample=data.x_test[:256],
        probe_data=(data.x_train[:PROBE_TRAIN], data.y_train[:PROBE_TRAIN],
                    data.x_test[:PROBE_TEST], data.y_test[:PROBE_TEST]),
        metrics=metrics, stage=stage,
        extra={"config": dataclasses.asdict(config_lib.explicit(cfg)), **(extra or {})},
        autoencoder=pretrained, pretrain_dataset=metrics.get("pretrain_dataset"),
        on_staged=on_staged)
    return export_record(path)


def export_record(path):
    """The export record of metrics.json, from the export's manifest.

    Args:
        path: an export folder.

    Returns:
        {"path", "reload_max_abs_diff"}.
    """
    check = export_lib.load_manifest(path)["export_check"]
    return {"path": str(path), "reload_max_abs_diff": check["reload_max_abs_diff"]}
