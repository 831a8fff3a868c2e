"""The one training loop: greedy layer-wise pretraining, supervised fine-tuning, evaluation,
export. Every zoo family goes through `run`."""

import contextlib
import dataclasses
import os
import pathlib
import tempfile
import time
import zipfile

import keras
import numpy as np

from sdae_tf import models, zoo
from sdae_tf.data import load_dataset, make_pipeline
from sdae_tf.evaluation import figures as figures_lib
from sdae_tf.evaluation import probe, unsupervised
from sdae_tf.hub import export as export_lib
from sdae_tf.runner import config as config_lib
from sdae_tf.runner.config import PROTOCOLS, TrainConfig  # noqa: F401  (re-exported)
from sdae_tf.runner.run_dir import inspect_run_dir
from sdae_tf.train import distribute
from sdae_tf.train.checkpoints import (
    PRETRAINED_WEIGHTS,
    RunProgress,
    TrainingDivergedError,  # noqa: F401  (re-exported: what a diverged run raises)
    default_run_dir,
    pretrained_weights_path,
    save_weights_atomic,
    write_json_atomic,
)
from sdae_tf.train.stages import (  # noqa: F401  (re-exported: the loop's stages)
    Stage,
    execution_steps,
    finetune,
    finetune_segmenter,
    fit_stage,
    make_optimizer,
    pretrain_end_to_end,
    pretrain_layerwise,
)
from sdae_tf.utils import claims, faults, seeding, storage
from sdae_tf.zoo.family import Family, block_by_block

# What `quick=True` shrinks a run to: smoke tests of every flagfile use it.
QUICK_TRAIN_EXAMPLES = 512
QUICK_EVAL_EXAMPLES = 256
QUICK_EPOCHS = 1
# The linear probe written into an export's manifest: fitted on the first PROBE_TRAIN training
# examples, scored on the first PROBE_TEST test examples; its floor is the score less
# `probe.PROBE_MARGIN`.
PROBE_TRAIN = 5000
PROBE_TEST = 2000


def check_config(cfg):
    """`cfg.validate()` (every field's type, choices and range) plus what needs the zoo and the
    file system: the model's family takes the reconstruction loss, noise and figures asked
    for; `init_from` exists. Run before anything is written or trained.

    Args:
        cfg: the run's `TrainConfig`.

    Raises:
        ValueError: the first problem, in one line. FileNotFoundError: a missing `init_from`.
    """
    cfg.validate()
    for flag, path in (("--run_dir", cfg.run_dir), ("--export_dir", cfg.export_dir)):
        if path:
            storage.check_name(path, flag)
    zoo.check_request(cfg.model, recon_loss=cfg.recon_loss, noise_type=cfg.noise_type,
                      noise_level=cfg.noise_level, figures=cfg.figures,
                      num_samples=cfg.num_samples)
    if cfg.init_from is not None:
        init_source(cfg.init_from)  # names the missing file early
    family = zoo.REGISTRY.get(cfg.model).build
    if cfg.pretrain_mode != "layerwise" and not family.END_TO_END:
        able = sorted({e.build.__name__ for e in zoo.REGISTRY if e.build.END_TO_END})
        raise ValueError(f"--pretrain_mode={cfg.pretrain_mode}: {cfg.model} "
                         f"({family.__name__}) has no "
                         f"end-to-end pretraining; the {' and '.join(able)} families have")
    if cfg.task == "segmentation":
        check_segmentation(cfg)
    if cfg.precision != "float32":
        if not family.MIXED_PRECISION:
            able = sorted({e.build.__name__ for e in zoo.REGISTRY if e.build.MIXED_PRECISION})
            raise ValueError(
                f"--precision={cfg.precision}: {cfg.model} ({family.__name__}) trains in "
                f"float32 only; mixed precision is for the {' and '.join(able)} families")
        asked = [name for name, on in (("--figures", cfg.figures),
                                       ("--num_samples", cfg.num_samples),
                                       ("--unsupervised_metrics", cfg.unsupervised_metrics))
                 if on]
        if asked:
            raise ValueError(f"--precision={cfg.precision} with {', '.join(asked)}: those "
                             "evaluate the pretrained stack in float32; train with "
                             "--precision=float32 or drop them")


def segmentation_variant(cfg):
    """The background variant whose digit masks `cfg`'s segmentation task reads.

    Args:
        cfg: the run's `TrainConfig`.

    Returns:
        "bg_rand" or "bg_rand_rot".

    Raises:
        ValueError: a dataset without masks.
    """
    from sdae_tf.data import segmentation

    dataset = cfg.dataset or zoo.REGISTRY.get(cfg.model).dataset
    variant = dataset.removeprefix("mnist_")
    if variant not in segmentation.SEGMENTED:
        raise ValueError(f"--task=segmentation on {dataset}: it has no digit masks; the "
                         "background variants have: "
                         f"{', '.join('mnist_' + v for v in segmentation.SEGMENTED)}")
    return variant


def check_segmentation(cfg):
    """Refuses a segmentation task the run cannot do (one line, before any training): a
    dataset without masks, a family whose code has no spatial layout.

    Args:
        cfg: the run's `TrainConfig`.

    Raises:
        ValueError: the first problem, in one line.
    """
    segmentation_variant(cfg)
    if cfg.finetune_epochs == 0:
        raise ValueError("--task=segmentation trains the segmentation head in the fine-tuning "
                         "epochs: give --finetune_epochs > 0")
    family = zoo.REGISTRY.get(cfg.model).build
    if not family.SPATIAL_CODE:
        able = zoo.REGISTRY.with_spatial_code("mnist")
        raise ValueError(f"--task=segmentation: {cfg.model} ({family.__name__}) has a vector "
                         "code, nothing spatial to segment from; the conv models on MNIST have "
                         f"one: {', '.join(able)}")


@contextlib.contextmanager
def compute_precision(policy):
    """Keras' global dtype policy set to `policy` inside the block, restored after it (the
    models built inside compute in it; their weights stay float32).

    Args:
        policy: a Keras dtype policy name ("float32", "mixed_bfloat16").
    """
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def float32_stack(cfg, stack, input_shape):
    """`stack` itself when it computes in float32, else a float32 copy of it (built afresh,
    the trained weights copied): what is exported and served.

    Args:
        cfg: the run's `TrainConfig`.
        stack: the trained family object.
        input_shape: one example's shape.

    Returns:
        A float32 family object.
    """
    if cfg.precision == "float32":
        return stack
    with compute_precision("float32"):
        copy = build_model(cfg, input_shape)
    copy.autoencoder().set_weights(stack.autoencoder().get_weights())  # the encoder's too
    return copy


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


def manifest_probe(encoder, data):
    """The linear-probe record of an export's manifest (see `sdae_tf.evaluation.probe`).

    Args:
        encoder: the Keras encoder exported.
        data: the run's `Splits`.

    Returns:
        `probe.manifest_record`'s dict.
    """
    return probe.manifest_record(encoder, data.x_train[:PROBE_TRAIN], data.y_train[:PROBE_TRAIN],
                                 data.x_test[:PROBE_TEST], data.y_test[:PROBE_TEST])


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
    stack = build_model(cfg, input_shape)
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
        stack: the trained family object.
        data: the run's `Splits`.
        stage: "pretrained" or "fine-tuned", for the manifest.
        metrics: the run's metrics so far.
        extra: more manifest entries.
        run_dir: the run directory (its pretrained weights give the `reconstruct` endpoint).
        on_staged: called with the staged manifest's path before the move.
    """
    architecture = stack.describe()
    manifest = {
        "model": cfg.model,
        "description": zoo.REGISTRY.get(cfg.model).description,
        "dataset": data.name,
        "input": {"range": list(data.value_range)},
        "architecture": architecture,
        "noise": architecture["noise"],
        "stage": stage,
        "metrics": metrics,
        "seed": cfg.seed,
        "config": dataclasses.asdict(cfg),
        "zoo_model": models.model_record(stack),
        "probe": manifest_probe(stack.encoder, data),
        **(extra or {}),
    }
    pretrained = (pretrained_stack(cfg, data.input_shape, run_dir)
                  if run_dir is not None else None)
    autoencoder = endpoints = denoiser = None
    if pretrained is not None:
        autoencoder, endpoints = pretrained.autoencoder(), pretrained.export_endpoints()
        denoiser = {
            "noise": architecture["noise"],
            "weights": "the whole autoencoder after unsupervised pretraining, before "
                       "fine-tuning",
            "pretrain_dataset": metrics.get("pretrain_dataset") or data.name,
            "use_instead": pretrained.DENOISER_INSTEAD,
        }
    path = export_lib.export_encoder(stack.encoder, cfg.export_dir, manifest,
                                     overwrite=cfg.overwrite_export,
                                     check_sample=data.x_test[:256],
                                     autoencoder=autoencoder, denoiser=denoiser,
                                     on_staged=on_staged, endpoints=endpoints)
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


def write_json(path, obj):
    """`obj` as indented JSON at `path`, written aside and moved into place.

    Args:
        path: the file.
        obj: a JSON-ready object.
    """
    write_json_atomic(path, obj)


def load_data(cfg):
    """The dataset of a run, shrunk by `quick` / `train_examples`. Under the validation protocol
    with its validation split; under the report protocol every training example is trained on
    and the held-out split that `fit` logs after each epoch is the test set.

    Args:
        cfg: the run's `TrainConfig`.

    Returns:
        The run's `Splits`.
    """
    entry = zoo.REGISTRY.get(cfg.model)
    if cfg.task == "segmentation":  # the variant's images, their digit masks as labels
        from sdae_tf.data import segmentation

        data = segmentation.load_digit_masks(
            segmentation_variant(cfg), data_dir=cfg.data_dir,
            validation_size=cfg.validation_size, seed=cfg.data_seed, cache_dir=cfg.cache_dir,
            construction=cfg.variant_construction)
    else:
        data = load_dataset(cfg.dataset or entry.dataset, data_dir=cfg.data_dir,
                            validation_size=cfg.validation_size, seed=cfg.data_seed,
                            cache_dir=cfg.cache_dir, construction=cfg.variant_construction)
    if cfg.protocol == "report":
        data = data.without_validation()
    if cfg.quick:
        return data.limit(QUICK_TRAIN_EXAMPLES, QUICK_EVAL_EXAMPLES)
    if cfg.train_examples:
        data = data.limit(train=cfg.train_examples)
    return data


def thread_settings():
    """TensorFlow's intra- and inter-op thread counts as this process set them (the
    `tf.config.threading` setters, else $TF_NUM_INTRAOP_THREADS / $TF_NUM_INTEROP_THREADS;
    None: TensorFlow's default, every core) and the CPU count. Recorded with every run: the
    same seed gives the same numbers at the same thread counts, and other numbers at others
    (the reductions' floating-point order changes).

    Returns:
        {"intra_op", "inter_op", "cpus"}.
    """
    import tensorflow as tf

    def count(getter, env):
        value = getter() or os.environ.get(env, "")
        return int(value) if str(value).isdigit() and int(value) > 0 else None

    return {"intra_op": count(tf.config.threading.get_intra_op_parallelism_threads,
                              "TF_NUM_INTRAOP_THREADS"),
            "inter_op": count(tf.config.threading.get_inter_op_parallelism_threads,
                              "TF_NUM_INTEROP_THREADS"),
            "cpus": os.cpu_count()}


def build_model(cfg, input_shape):
    """The zoo model of `cfg` as the public API builds it (`sdae_tf.models.get`), with the
    config's hyperparameter overrides.

    Args:
        cfg: the run's `TrainConfig`.
        input_shape: one example's shape.

    Returns:
        The model, an instance of its family's class (`sdae_tf.zoo.Family`).
    """
    return models.get(cfg.model, input_shape=tuple(input_shape), **config_lib.model_kwargs(cfg))


def load_run_data(cfg):
    """(fine-tuning data, pretraining data) of a run, checked against each other and the batch
    size (`load_data`).

    Args:
        cfg: the run's `TrainConfig`.

    Returns:
        (fine-tuning `Splits`, pretraining `Splits`).

    Raises:
        ValueError: data of different shapes, or a batch larger than a split.
    """
    data = load_data(cfg)
    if cfg.batch_size > len(data.x_train):
        raise ValueError(f"`batch_size` ({cfg.batch_size}) is larger than the training "
                         f"data ({len(data.x_train)} examples of {data.name}); lower "
                         "--batch_size")
    pretrain_data = data
    if cfg.pretrain_dataset and cfg.pretrain_dataset != data.name:
        # Pretraining reads images alone: whatever the task, the dataset's own.
        pretrain_data = load_data(dataclasses.replace(cfg, dataset=cfg.pretrain_dataset,
                                                      task="classification"))
        if pretrain_data.input_shape != data.input_shape:
            raise ValueError(
                f"--pretrain_dataset {pretrain_data.name} has inputs of shape "
                f"{pretrain_data.input_shape}, --dataset {data.name} {data.input_shape}: "
                "pretraining and fine-tuning need the same input shape")
    return data, pretrain_data


# What a run's files take beyond its weights (configs, progress, logs, TensorBoard events).
RUN_DIR_OVERHEAD = 4 << 20


def space_needed(stack, data, cfg):
    """Bytes a run needs at most: (run directory, export directory). The run directory holds,
    at its peak, a stage's weights with their two Adam slots four times over (the epoch
    checkpoint being replaced, the new one, the best epoch's, the completed stage's); an export
    the encoder and the whole autoencoder in the SavedModel plus the encoder's `.keras`.

    Args:
        stack: the run's family object.
        data: its `Splits`.
        cfg: its `TrainConfig`.

    Returns:
        (bytes for the run directory, bytes for the export).
    """
    encoder = stack.encoder.count_params()
    head = cfg.head_units * int(np.prod(stack.encoder.output_shape[1:])) \
        + cfg.head_units * (cfg.head_layers - 1) * cfg.head_units \
        + cfg.head_units * data.num_classes
    weights = 4 * (2 * encoder + head)  # the decoders mirror the encoders
    return RUN_DIR_OVERHEAD + 4 * 3 * weights, RUN_DIR_OVERHEAD + 4 * 4 * encoder


def _own_export(cfg, record):
    """True when `cfg.export_dir` holds the export this run recorded (`record`, the progress
    of an interrupted run that exported, then stopped before writing metrics.json)."""
    if not record or not cfg.export_dir:
        return False
    manifest = pathlib.Path(cfg.export_dir) / export_lib.MANIFEST_FILE
    return (pathlib.Path(record["path"]).absolute() == pathlib.Path(cfg.export_dir).absolute()
            and manifest.is_file()
            and export_lib.file_sha256(manifest) == record.get("manifest_sha256"))


def open_run_dir(cfg, stack, data, claims_held):
    """The run directory of `cfg`, checked before anything is written: every output place
    writable with room for the run, what the directory holds (a new run, or an unfinished one
    of the same configuration to resume), the export target (free, or this very run's
    export). Then the run's claim is taken (`sdae_tf.utils.claims`; `claims_held`, an ExitStack,
    keeps it for the run's life: another process on the same directory is refused), the
    directory read again under it, and only then is `config.json` written. Returns (run_dir,
    progress, resuming).

    Args:
        cfg: the run's `TrainConfig`.
        stack: the run's family object.
        data: its `Splits`.
        claims_held: the pool claims this process holds.

    Returns:
        (the run directory, its `RunProgress`, whether it resumes).
    """
    config = dataclasses.asdict(cfg)
    run_need, export_need = space_needed(stack, data, cfg)
    storage.check_writable(cfg.run_dir or "runs", "--run_dir", run_need)
    if cfg.export_dir:
        storage.check_writable(cfg.export_dir, "--export_dir", export_need, beside=True)
    resuming = inspect_run_dir(cfg.run_dir, config) if cfg.run_dir else False
    earlier = RunProgress(cfg.run_dir).done("export") if resuming else None
    if cfg.export_dir and not _own_export(cfg, earlier):
        export_lib.check_export_target(cfg.export_dir, cfg.overwrite_export)
    with storage.translate("nothing was trained", resume="rerun the same command"):
        if cfg.run_dir:
            run_dir = pathlib.Path(cfg.run_dir)
            claims_held.enter_context(claims.Claim(run_dir))
            resuming = inspect_run_dir(run_dir, config)  # as it is now, under the claim
        else:
            run_dir = default_run_dir(cfg.model)  # a fresh directory: no one else's
        progress = RunProgress(run_dir)
        if not resuming:
            write_json(run_dir / "config.json", config)
    return run_dir, progress, resuming


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
    from sdae_tf.runner import training
    cfg = training.TrainConfig(model="sdae_mnist", dataset="digits", hidden_units=(32, 16),
                               pretrain_epochs=1, finetune_epochs=1, run_dir="run", verbose=0)
    metrics = training.run(cfg)
    print(round(metrics["test_accuracy"], 2))
    ```
    """
    check_config(cfg)
    total_start = time.perf_counter()
    if cfg.quick:
        cfg = dataclasses.replace(
            cfg,
            pretrain_epochs=min(cfg.pretrain_epochs, QUICK_EPOCHS),
            finetune_epochs=min(cfg.finetune_epochs, QUICK_EPOCHS),
            end_to_end_epochs=min(cfg.end_to_end_epochs, QUICK_EPOCHS),
        )
    strategy = distribute.make_strategy(cfg.strategy)
    chief = distribute.is_chief()
    with seeding.run_seeded(cfg.seed):
        return _run(cfg, strategy, chief, total_start)


def _run(cfg, strategy, chief, total_start):
    data, pretrain_data = load_run_data(cfg)
    with strategy.scope(), compute_precision(cfg.precision):
        stack = build_model(cfg, data.input_shape)  # the family's checks, before any write
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
            metrics["threads"] = thread_settings()
            faults.point("metrics")
            write_json(run_dir / "metrics.json", metrics)
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


def _export_stage(cfg, stack, data, metrics, run_dir, progress):
    """The export stage: `export_run`, with the staged manifest's checksum recorded in the
    run's progress just before the export is moved into place, so a run stopped after that
    resumes to its own export instead of refusing it as someone else's."""
    if _own_export(cfg, progress.done("export")):
        print(f"Export restored: {cfg.export_dir}", flush=True)
        return export_record(cfg.export_dir)
    stage = "finetuned" if cfg.finetune_epochs > 0 else "pretrained"

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
        import tensorflow as tf

        metrics["strategy"] = {"name": cfg.strategy,
                               "replicas": tf.distribute.get_strategy().num_replicas_in_sync}
    if cfg.init_from:
        record = init_from_pretrained(stack, cfg.init_from)
        metrics["init_from"] = record["init_from"]
        metrics["pretrain_dataset"] = record.get("dataset")
        metrics["pretrain"] = record.get("blocks", [])
    elif entry.layerwise_pretraining and cfg.pretrain_epochs > 0:
        metrics["pretrain_dataset"] = pretrain_data.name
        if cfg.pretrain_mode == "end_to_end":
            settings = dataclasses.replace(Stage.pretraining(cfg),
                                           epochs=cfg.pretrain_epochs * stack.num_blocks)
            metrics["pretrain"] = pretrain_end_to_end(stack, pretrain_data, settings,
                                                      progress=progress)
        else:
            metrics["pretrain"] = pretrain_layerwise(stack, pretrain_data,
                                                     Stage.pretraining(cfg), progress=progress)
        if cfg.pretrain_mode == "layerwise_then_end_to_end":  # DEC's recipe
            settings = dataclasses.replace(Stage.pretraining(cfg), epochs=cfg.end_to_end_epochs)
            metrics["pretrain"] += pretrain_end_to_end(stack, pretrain_data, settings,
                                                       progress=progress)
        save_weights_atomic(stack.autoencoder(), run_dir / PRETRAINED_WEIGHTS)
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
    if cfg.finetune_epochs > 0 and cfg.task == "segmentation":
        model, metrics["finetune"] = finetune_segmenter(
            stack, data, Stage.finetuning(cfg), train_encoder=not cfg.freeze_encoder,
            progress=progress)
        metrics["segmentation"] = _stage(progress, "evaluate",
                                         lambda: segmentation_metrics(model, data, run_dir))
        if metrics["segmentation"].get("figure"):  # (a stage recorded before the figure: none)
            metrics.setdefault("figures", {})["segmentation"] = metrics["segmentation"]["figure"]
        metrics.update(protocol=cfg.protocol, val_iou=metrics["finetune"].get("val_iou"))
    elif cfg.finetune_epochs > 0:
        classifier, metrics["finetune"] = finetune(
            stack, data, Stage.finetuning(cfg), head_units=cfg.head_units,
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
