"""The one training loop: greedy layer-wise pretraining, supervised fine-tuning, evaluation,
export. Every zoo family goes through `run`."""

import contextlib
import dataclasses
import pathlib
import tempfile
import time

import numpy as np

from sdae_tf import zoo
from sdae_tf.data import make_pipeline
from sdae_tf.evaluation import figures as figures_lib
from sdae_tf.evaluation import unsupervised
from sdae_tf.hub import export as export_lib
from sdae_tf.runner import config as config_lib
from sdae_tf.runner.init_from import init_from_pretrained
from sdae_tf.runner.precision import bfloat16_warning, compute_precision, float32_stack
from sdae_tf.runner.run_data import (
    QUICK_CLUSTER_BATCHES,
    QUICK_EPOCHS,
    QUICK_UPDATE_INTERVAL,
    load_run_data,
)
from sdae_tf.runner.run_dir import open_run_dir, own_export
from sdae_tf.runner.run_export import export_record, export_run
from sdae_tf.runner.validation import check_config
from sdae_tf.train import distribute, stages
from sdae_tf.train.checkpoints import PRETRAINED_WEIGHTS, RunProgress
from sdae_tf.utils import faults, machine, seeding, storage
from sdae_tf.zoo.family import block_by_block


def mean_learned_sigma(pretrain_records):
    """Mean over blocks of the last epoch's mean learned sigma (None for fixed noise).

    Args:
        pretrain_records: the pretraining records.

    Returns:
        A float, or None.
    """
    sigmas = [r["history"]["sigma"][-1] for r in pretrain_records
              if "sigma" in r.get("history", {})]
    return float(np.mean(sigmas)) if sigmas else None


def run(cfg):
    """Trains `cfg.model` end to end and returns the metrics dict (also `metrics.json`).

    Steps: check the configuration, load the data and build the zoo model (every refusal
    before anything is written) -> check the output places -> layer-wise pretraining (if the
    entry uses it) -> figures -> fine-tuning with best-validation selection -> test evaluation
    -> encoder export. Each stage is recorded in the run directory when it completes, and a
    rerun of the same command resumes after the last one (inside a stage, after its last
    epoch). Models and optimizers are built inside `cfg.strategy`'s scope (see
    `sdae_tf.train.distribute`). A full or read-only disk is a `storage.StorageError` that names the
    path and says what is kept.

    Args:
        cfg: the run's `TrainConfig`.

    Returns:
        The metrics dict.

    Example:

    ```python
    from sdae_tf.runner import config, training
    cfg = config.TrainConfig(model="sdae_mnist", model_config={"hidden_units": (32, 16)},
                             dataset="digits", pretrain_epochs=1, finetune_epochs=1,
                             run_dir="run", verbose=0)
    metrics = training.run(cfg)
    print(round(metrics["test_accuracy"], 2))
    ```
    """
    check_config(cfg)
    running = config_lib.process_backend()
    if (cfg.backend or "tensorflow") != running:
        raise ValueError(f"--backend={cfg.backend or 'tensorflow'}, and Keras runs on {running} "
                         "in this process: the backend is chosen before Keras is imported "
                         "(give --backend on the command line, not in a flagfile, or set "
                         "KERAS_BACKEND)")
    total_start = time.perf_counter()
    if cfg.quick:
        cfg = dataclasses.replace(
            cfg,
            pretrain_epochs=min(cfg.pretrain_epochs, QUICK_EPOCHS),
            finetune_epochs=min(cfg.finetune_epochs, QUICK_EPOCHS),
            end_to_end_epochs=min(cfg.end_to_end_epochs, QUICK_EPOCHS),
            cluster_max_batches=min(cfg.cluster_max_batches, QUICK_CLUSTER_BATCHES),
            cluster_update_interval=min(cfg.cluster_update_interval, QUICK_UPDATE_INTERVAL),
            # a smoke run's few steps never pay XLA's compile back: the family's XLA choice
            # (`Family.JIT_COMPILE`) is not taken unless asked for
            jit_compile=bool(cfg.jit_compile),
        )
    slow = bfloat16_warning(cfg.precision)
    if slow:
        print(f"Warning: {slow}", flush=True)
    strategy = distribute.make_strategy(cfg.strategy)
    chief = distribute.is_chief()
    with seeding.run_seeded(cfg.seed):
        return _run(cfg, strategy, chief, total_start)


def _run(cfg, strategy, chief, total_start):
    data, pretrain_data = load_run_data(cfg)
    with strategy.scope(), compute_precision(cfg.precision):
        # The family's own checks, before anything is written.
        stack = config_lib.build_model(cfg, data.input_shape)
    if cfg.pretrain_mode != "layerwise" and not stack.can_train_end_to_end():
        raise ValueError(f"--pretrain_mode={cfg.pretrain_mode}: {block_by_block(stack)}")
    with contextlib.ExitStack() as scratch:
        if chief:
            run_dir, progress, resuming = open_run_dir(cfg, stack, data, scratch)
        else:  # other multi-worker workers train alongside the chief; their files are scratch
            run_dir = pathlib.Path(scratch.enter_context(tempfile.TemporaryDirectory()))
            progress, resuming = RunProgress(run_dir), False
        if resuming:
            print(f"Resuming the run in {run_dir} (stages done: "
                  f"{', '.join(progress.state['stages']) or 'none'})", flush=True)
        else:
            print(f"Training a new run in {run_dir}", flush=True)
        print(f"{cfg.model} on {data.name}: {data.sizes()} examples of shape "
              f"{data.input_shape}"
              + (f" (pretrained on {pretrain_data.name})" if pretrain_data is not data else "")
              + (f", {strategy.num_replicas_in_sync} replicas ({cfg.strategy})"
                 if cfg.strategy != "none" else ""), flush=True)
        kept = (f"the completed stages and the last epoch checkpoint are kept in {run_dir}; "
                "nothing half-written was left")
        with storage.translate(kept, where=run_dir):
            with strategy.scope(), compute_precision(cfg.precision):
                metrics = _train(cfg, stack, data, pretrain_data, run_dir, progress)
            if cfg.export_dir and chief:
                metrics["export"] = _export_stage(cfg, stack, data, metrics, run_dir, progress)
            metrics["seconds"] = round(time.perf_counter() - total_start, 2)
            metrics["threads"] = machine.thread_settings()
            metrics["backend"] = machine.backend()
            faults.point("metrics")
            storage.write_json_atomic(run_dir / "metrics.json", metrics)
        progress.clear()  # the run is complete: its checkpoints are not needed any more
        metrics["run_dir"] = str(run_dir)
        return metrics


def segmentation_metrics(model, data, run_dir, shown=8):
    """Foreground IoU and pixel accuracy of a segmenter on the test masks (pooled over every
    test pixel), Otsu's threshold on the same inputs beside them, and `segmentation.png` in
    `run_dir`: the first `shown` test images, their true masks and the predicted ones.

    Args:
        model: the trained segmenter.
        data: `Splits` of images and masks.
        run_dir: where `segmentation.png` goes.
        shown: test images drawn.

    Returns:
        {"test_iou", "test_pixel_accuracy", "otsu", "figure", ...}.
    """
    from sdae_tf.data import segmentation
    from sdae_tf.evaluation import plots

    test_ds = make_pipeline(data.x_test, data.y_test, batch_size=256)
    loss, accuracy, iou = model.evaluate(test_ds, verbose=0)
    images = data.x_test[:shown]
    predicted = (np.asarray(model.predict(images, verbose=0)) > 0.5).astype(np.float32)
    figure = plots.save_image_grid(
        np.stack([images, data.y_test[:shown], predicted]), pathlib.Path(run_dir) /
        "segmentation.png", title=f"{model.name}: test digits, true and predicted masks",
        row_labels=["input", "truth", "predicted"])
    faults.point("evaluate")
    return {"test_loss": float(loss), "test_pixel_accuracy": float(accuracy),
            "test_iou": float(iou), "examples": len(data.x_test),
            "otsu": segmentation.otsu_scores(data.x_test, data.y_test), "figure": str(figure)}


def clustering_record(cfg, stack, data, progress):
    """The clustering stage of `--task=clustering` (`stages.cluster`): under
    `--protocol=all_images` every image clustered and scored (DEC's protocol); else the
    training images clustered and the test images assigned and scored.

    Args:
        cfg: the run's `TrainConfig`.
        stack: the pretrained zoo model.
        data: the run's `Splits`.
        progress: the run's `RunProgress`.

    Returns:
        The stage's record with "protocol", "scored" (which images) and the scores of k-means
        on the codes and of the clusters after the stage ("scores": {"kmeans", "dec" or
        "idec"}: accuracy, NMI, ARI; under a train/test protocol "fit_scores" holds those of
        the training images).
    """
    pooled = cfg.protocol == "all_images"
    settings = stages.ClusteringStage.from_config(cfg, data.num_classes)
    _, record = stages.cluster(
        stack, data.x_train, data.y_train, settings,
        validation_data=None if pooled else (data.x_test, data.y_test), progress=progress)
    scored = "" if pooled else "val_"
    method = record["method"].lower()
    fit_scores = {} if pooled else {"fit_scores": {"kmeans": record["kmeans"],
                                                   method: record["final"]}}
    raw = ("kmeans", "final", "val_kmeans", "val_final")
    return {**{k: v for k, v in record.items() if k not in raw}, **fit_scores,
            "protocol": cfg.protocol, "n_clusters": settings.n_clusters,
            "scored": f"all {len(data.x_train)} images clustered" if pooled
            else f"the {len(data.x_test)} test images, assigned to the clusters of the "
                 f"{len(data.x_train)} training images",
            "scores": {"kmeans": record[f"{scored}kmeans"], method: record[f"{scored}final"]}}


def _export_stage(cfg, stack, data, metrics, run_dir, progress):
    """The export stage: `export_run`, with the staged manifest's checksum recorded in the
    run's progress just before the export is moved into place, so a run stopped after that
    resumes to its own export instead of refusing it as someone else's."""
    if own_export(cfg, progress.done("export")):
        print(f"Export restored: {cfg.export_dir}", flush=True)
        return export_record(cfg.export_dir)
    stage = ("clustered" if cfg.task == "clustering" else
             "finetuned" if cfg.finetune_epochs > 0 else "pretrained")

    def record_own(manifest):
        progress.mark("export", {"path": str(cfg.export_dir),
                                 "manifest_sha256": export_lib.file_sha256(manifest)})

    record = export_run(
        cfg, float32_stack(cfg, stack, data.input_shape), data, stage,
        {k: metrics[k] for k in ("val_accuracy", "test_accuracy", "pretrain_dataset")
         if k in metrics}, run_dir=run_dir, on_staged=record_own)
    faults.point("export:placed")
    return record


def _stage(progress, name, compute):
    """A stage without weights (figures, the test evaluation, unsupervised metrics): its
    record from an earlier attempt, else `compute()`'s, recorded."""
    done = progress.done(name)
    if done is not None:
        return done
    record = compute()
    progress.mark(name, record)
    return record


def _train(cfg, stack, data, pretrain_data, run_dir, progress):
    """Runs pretraining (or loads it), figures, fine-tuning and the test evaluation of
    `stack`. Returns the metrics."""
    entry = zoo.REGISTRY.get(cfg.model)
    metrics = {"model": cfg.model, "dataset": data.name, "sizes": data.sizes(),
               "architecture": stack.describe()}
    if cfg.strategy != "none":
        metrics["strategy"] = {"name": cfg.strategy, "replicas": distribute.make_strategy(
            cfg.strategy).num_replicas_in_sync}
    if cfg.init_from:
        record = init_from_pretrained(stack, cfg.init_from)
        metrics["init_from"] = record["init_from"]
        metrics["pretrain_dataset"] = record.get("dataset")
        metrics["pretrain"] = record.get("blocks", [])
    elif entry.layerwise_pretraining and cfg.pretrain_epochs > 0:
        metrics["pretrain_dataset"] = pretrain_data.name
        if cfg.pretrain_mode == "end_to_end":
            settings = dataclasses.replace(stages.Stage.pretraining(cfg),
                                           epochs=cfg.pretrain_epochs * stack.num_blocks)
            metrics["pretrain"] = stages.pretrain_end_to_end(stack, pretrain_data, settings,
                                                             progress=progress)
        else:
            metrics["pretrain"] = stages.pretrain_layerwise(
                stack, pretrain_data, stages.Stage.pretraining(cfg), progress=progress)
        if cfg.pretrain_mode == "layerwise_then_end_to_end":  # DEC's recipe
            settings = dataclasses.replace(stages.Stage.pretraining(cfg),
                                           epochs=cfg.end_to_end_epochs)
            metrics["pretrain"] += stages.pretrain_end_to_end(stack, pretrain_data, settings,
                                                              progress=progress)
        storage.save_weights_atomic(stack.autoencoder(), run_dir / PRETRAINED_WEIGHTS)
    if cfg.unsupervised_metrics and "pretrain" in metrics:
        metrics["unsupervised"] = _stage(progress, "unsupervised", lambda: {
            "dataset": pretrain_data.name,
            **unsupervised.evaluate(stack, pretrain_data, seed=cfg.seed)})
    sigma = mean_learned_sigma(metrics.get("pretrain", []))
    if sigma is not None:
        metrics["mean_sigma"] = sigma
    names = list(cfg.figures)
    if cfg.num_samples > 0 and "samples" not in names:
        names.append("samples")
    if names:
        def draw():
            records = {}
            drawn = figures_lib.write(names, stack, data, run_dir, num_samples=cfg.num_samples,
                                      seed=cfg.seed, records=records)
            return {**records, "figures": drawn}

        metrics.update(_stage(progress, "figures", draw))
        if "samples" in metrics["figures"]:
            metrics["samples"] = metrics["figures"]["samples"]
    if cfg.task == "clustering":
        metrics["clustering"] = clustering_record(cfg, stack, data, progress)
    elif cfg.finetune_epochs > 0 and cfg.task == "segmentation":
        model, metrics["finetune"] = stages.finetune_segmenter(
            stack, data, stages.Stage.finetuning(cfg), train_encoder=not cfg.freeze_encoder,
            progress=progress)
        metrics["segmentation"] = _stage(progress, "evaluate",
                                         lambda: segmentation_metrics(model, data, run_dir))
        if metrics["segmentation"].get("figure"):  # (a stage recorded before the figure: none)
            metrics.setdefault("figures", {})["segmentation"] = metrics["segmentation"]["figure"]
        metrics.update(protocol=cfg.protocol, val_iou=metrics["finetune"].get("val_iou"))
    elif cfg.finetune_epochs > 0:
        classifier, metrics["finetune"] = stages.finetune(
            stack, data, stages.Stage.finetuning(cfg), head_units=cfg.head_units,
            head_layers=cfg.head_layers, input_noise=cfg.finetune_noise,
            train_encoder=not cfg.freeze_encoder, progress=progress)

        def evaluate():
            test_ds = make_pipeline(data.x_test, data.y_test, batch_size=1024)
            test_loss, test_acc = classifier.evaluate(test_ds, verbose=0)
            faults.point("evaluate")
            return {"test_loss": float(test_loss), "test_accuracy": float(test_acc)}

        metrics.update(_stage(progress, "evaluate", evaluate), protocol=cfg.protocol)
        if "val_accuracy" in metrics["finetune"]:
            metrics["val_accuracy"] = metrics["finetune"]["val_accuracy"]
    return metrics
