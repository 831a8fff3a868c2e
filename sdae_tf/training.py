"""The one training loop: greedy layer-wise pretraining, supervised fine-tuning, evaluation,
export. Every zoo family goes through `run`."""

import contextlib
import dataclasses
import os
import pathlib
import tempfile
import time

import keras
import numpy as np

from sdae_tf import claims, distribute, faults, probe, seeding, storage, unsupervised, zoo
from sdae_tf import config as config_lib
from sdae_tf import export as export_lib
from sdae_tf import figures as figures_lib
from sdae_tf.checkpoints import (
    PRETRAINED_WEIGHTS,
    EpochCheckpoint,
    RunProgress,
    StopOnDivergence,
    TrainingDivergedError,  # noqa: F401  (re-exported: what a diverged run raises)
    default_run_dir,
    inspect_run_dir,
    prepare_run_dir,  # noqa: F401  (re-exported: the run directory rules)
    pretrained_weights_path,
    save_weights_atomic,
    write_json_atomic,
)
from sdae_tf.config import PROTOCOLS, TrainConfig  # noqa: F401  (re-exported)
from sdae_tf.data import load_dataset, make_pipeline, steps_per_epoch
from sdae_tf.noise_schedule import NoiseSchedule
from sdae_tf.optimizers import FusedAdam

# What `quick=True` shrinks a run to: smoke tests of every flagfile use it.
QUICK_TRAIN_EXAMPLES = 512
QUICK_EVAL_EXAMPLES = 256
QUICK_EPOCHS = 1
# The linear probe written into an export's manifest: fitted on the first PROBE_TRAIN training
# examples, scored on the first PROBE_TEST test examples; its floor is the score less the margin.
PROBE_TRAIN = 5000
PROBE_TEST = 2000
PROBE_MARGIN = 0.01


def check_config(cfg):
    """`cfg.validate()` (every field's type, choices and range) plus what needs the zoo and the
    file system: the model's family takes the reconstruction loss, noise and figures asked
    for; `init_from` exists. Run before anything is written or trained."""
    cfg.validate()
    zoo.check_request(cfg.model, recon_loss=cfg.recon_loss, noise_type=cfg.noise_type,
                      noise_level=cfg.noise_level, figures=cfg.figures,
                      num_samples=cfg.num_samples)
    if cfg.init_from is not None:
        pretrained_weights_path(cfg.init_from)  # names the missing file early
    family = zoo.REGISTRY.get(cfg.model).build
    if cfg.pretrain_mode == "end_to_end" and not hasattr(family, "end_to_end_model"):
        raise ValueError(f"--pretrain_mode=end_to_end: {cfg.model} ({family.__name__}) has no "
                         "end-to-end pretraining; the dense stacks have")
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


@contextlib.contextmanager
def compute_precision(policy):
    """Keras' global dtype policy set to `policy` inside the block, restored after it (the
    models built inside compute in it; their weights stay float32)."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def float32_stack(cfg, stack, input_shape):
    """`stack` itself when it computes in float32, else a float32 copy of it (built afresh,
    the trained weights copied): what is exported and served."""
    if cfg.precision == "float32":
        return stack
    with compute_precision("float32"):
        copy = build_stack(cfg, input_shape)
    copy.autoencoder().set_weights(stack.autoencoder().get_weights())  # the encoder's too
    return copy


def make_optimizer(learning_rate, schedule, total_steps, weight_decay=0.0):
    """Adam (`FusedAdam`: TensorFlow's fused update) with a constant rate or a cosine decay to
    zero over `total_steps`; `weight_decay` is PyTorch Adam's (added to the gradient)."""
    if schedule == "cosine" and total_steps > 0:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    return FusedAdam(learning_rate, l2_weight_decay=weight_decay)


@dataclasses.dataclass(frozen=True)
class Stage:
    """What one training stage (a block's pretraining, or fine-tuning) takes from a run's
    configuration, and nothing else. `Stage.pretraining(cfg)` / `Stage.finetuning(cfg)` build
    them; the stage functions below take a `Stage` and explicit arguments, never the whole
    `TrainConfig`."""

    epochs: int
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    weight_decay: float = 0.0
    batch_size: int = 128
    seed: int = 0
    jit_compile: bool = False
    steps_per_execution: int = 32
    strategy: str = "none"
    verbose: str | int = "auto"
    protocol: str = "validation"
    noise_schedule: str = "constant"

    @classmethod
    def _from(cls, cfg, epochs, learning_rate, lr_schedule=None):
        return cls(epochs=epochs, learning_rate=learning_rate,
                   lr_schedule=lr_schedule or cfg.lr_schedule,
                   weight_decay=cfg.weight_decay, batch_size=cfg.batch_size, seed=cfg.seed,
                   jit_compile=cfg.jit_compile, steps_per_execution=cfg.steps_per_execution,
                   strategy=cfg.strategy, verbose=cfg.keras_verbose, protocol=cfg.protocol,
                   noise_schedule=cfg.noise_schedule)

    @classmethod
    def pretraining(cls, cfg):
        return cls._from(cfg, cfg.pretrain_epochs, cfg.pretrain_learning_rate)

    @classmethod
    def finetuning(cls, cfg):
        return cls._from(cfg, cfg.finetune_epochs, cfg.learning_rate, cfg.finetune_lr_schedule)


def execution_steps(num_examples, stage):
    """Training steps per compiled call (Keras' `steps_per_execution`): the largest divisor of
    an epoch's steps up to `cfg.steps_per_execution`. Keras runs whole executions and the
    pipeline is one stream over all epochs, so a divisor keeps every epoch exactly its steps
    (and a resumed run on the same batches). MNIST's 391 steps of 128 run 23 per call; fewer
    Python round trips per step took the SDAE block's epoch to 0.79-0.95x of its time here
    (`benchmarks/perf.py dense`). Under a `--strategy` other than none, one step per call:
    Keras 3.15's multi-step loop fails there ("You must feed a value for placeholder tensor"
    inside its while loop, seen with MirroredStrategy)."""
    if stage.strategy != "none":
        return 1
    steps = steps_per_epoch(num_examples, stage.batch_size)
    return max(d for d in range(1, min(stage.steps_per_execution, steps) + 1) if steps % d == 0)


def _callbacks(run_dir, stage):
    if run_dir is None:
        return []
    return [keras.callbacks.TensorBoard(str(pathlib.Path(run_dir) / "tensorboard" / stage),
                                        write_graph=False)]


def _logs_to_history(logs, protocol="validation"):
    """Per-epoch logs as lists per key. Under the report protocol the held-out data of `fit`
    is the test set, so its `val_*` keys are recorded as `test_*`."""
    keys = sorted({k for epoch in logs for k in epoch})
    rename = (lambda k: "test_" + k[4:] if k.startswith("val_") else k) \
        if protocol == "report" else (lambda k: k)
    return {rename(k): [epoch.get(k) for epoch in logs] for k in keys}


def fit_stage(model, x, y, val_ds, settings, stage, seed, progress=None, callbacks=(),
              monitor=None):
    """One `fit` of the loop over `settings.epochs` (a `Stage`): seeded epoch-indexed
    shuffling, the divergence guard, and, with a `RunProgress`, a checkpoint after every epoch
    that a restarted run resumes from (same data order, noise and optimizer state as if never
    stopped). `stage` names it. Returns (per-epoch logs of every epoch so far, the
    `EpochCheckpoint`)."""
    epochs = settings.epochs
    with contextlib.ExitStack() as stack:
        ckpt_dir = (progress.ckpt_dir(stage) if progress is not None else
                    pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory())))
        ckpt = EpochCheckpoint(ckpt_dir, monitor=monitor)
        initial = min(ckpt.resume_epoch(), epochs)
        if initial:
            print(f"Resuming {stage} after epoch {initial}/{epochs}", flush=True)
        train_ds = make_pipeline(x, y, batch_size=settings.batch_size, shuffle=True, seed=seed,
                                 initial_epoch=initial)
        guard = StopOnDivergence(stage, progress.run_dir / "checkpoints"
                                 if progress is not None else None)
        board = _callbacks(progress.run_dir if progress is not None else None, stage)
        cbs = [guard, ckpt, *board, *callbacks]
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial,
                  steps_per_epoch=steps_per_epoch(len(x), settings.batch_size), shuffle=False,
                  verbose=settings.verbose, callbacks=cbs)
        if monitor is not None and ckpt.best_weights.exists():
            model.load_weights(ckpt.best_weights)
        return ckpt.history(), ckpt


def _restored(progress, stage, model):
    """The record of `stage` if a previous attempt completed it (its weights restored into
    `model`), else None."""
    done = progress.done(stage) if progress is not None else None
    if done:
        progress.restore(stage, model)
    return done


def _pretrain_stage(model, loss, x_train, x_val, settings, stage, seed, block, start,
                    progress=None, callbacks=()):
    """One autoencoder `model` of pretraining trained on `x_train` (its own target) with its
    own optimizer as `settings` says, the noise schedule applied, `x_val` logged; the record
    (`block` names it) is returned and, with a `RunProgress`, checkpointed as completed."""
    val_ds = make_pipeline(x_val, batch_size=1024)
    steps = steps_per_epoch(len(x_train), settings.batch_size) * settings.epochs
    model.compile(
        optimizer=make_optimizer(settings.learning_rate, settings.lr_schedule, steps,
                                 settings.weight_decay),
        loss=loss, jit_compile=settings.jit_compile,
        steps_per_execution=execution_steps(len(x_train), settings),
    )
    callbacks = list(callbacks)
    if settings.noise_schedule != "constant":
        callbacks.append(NoiseSchedule(settings.noise_schedule, settings.epochs))
    logs, _ = fit_stage(model, x_train, None, val_ds, settings, stage, seed=seed,
                        progress=progress, callbacks=callbacks)
    record = {"block": block, "history": _logs_to_history(logs, settings.protocol),
              "seconds": round(time.perf_counter() - start, 2)}
    if progress is not None:
        progress.complete(stage, model, record)
    return record


def pretrain_layerwise(stack, data, settings, last_block_callbacks=(), progress=None):
    """Greedy layer-wise pretraining: block k is a (denoising) autoencoder trained on the clean
    codes of blocks < k, computed once, with its own optimizer, as `settings` (a `Stage`)
    says; block k shuffles and draws with seed `settings.seed + k`. Returns one record per block.

    `last_block_callbacks` join the last block's `fit` (the tuner scores trials there). With a
    `RunProgress`, completed blocks are restored instead of retrained and an interrupted block
    resumes from its last epoch."""
    records = []
    for k in range(stack.num_blocks):
        start = time.perf_counter()
        stage = f"pretrain_block_{k + 1}"
        model = stack.pretrain_model(k)
        done = _restored(progress, stage, model)
        if done:
            print(f"Block {k + 1}/{stack.num_blocks} restored from {progress.run_dir}",
                  flush=True)
            records.append(done)
            continue
        features = stack.features_before(k)
        if features is None:
            x_train, x_val = data.x_train, data.x_val
        else:
            x_train = features.predict(data.x_train, batch_size=1024, verbose=0)
            x_val = features.predict(data.x_val, batch_size=1024, verbose=0)
        print(f"Pretraining block {k + 1}/{stack.num_blocks}: {stack.block_summary(k)}",
              flush=True)
        extra = last_block_callbacks if k == stack.num_blocks - 1 else ()
        records.append(_pretrain_stage(model, stack.block_loss(k), x_train, x_val, settings,
                                       stage, seed=settings.seed + k, block=k + 1, start=start,
                                       progress=progress, callbacks=extra))
    return records


def pretrain_end_to_end(stack, data, settings, progress=None):
    """The alternative to greedy pretraining: the whole stacked (denoising) autoencoder
    (`stack.end_to_end_model()`: input noise, every encoder, every decoder) trained at once for
    `settings.epochs` epochs on `block_loss(0)`. Returns one record, like a block's."""
    if not hasattr(stack, "end_to_end_model"):
        raise ValueError(f"{stack.name} ({type(stack).__name__}) has no end-to-end "
                         "pretraining: --pretrain_mode=end_to_end takes the dense stacks")
    start = time.perf_counter()
    stage = "pretrain_end_to_end"
    model = stack.end_to_end_model()
    done = _restored(progress, stage, model)
    if done:
        print(f"End-to-end pretraining restored from {progress.run_dir}", flush=True)
        return [done]
    print(f"Pretraining end to end: {stack.input_shape} -> "
          f"{' -> '.join(map(str, stack.hidden_units))} and back, {settings.epochs} epochs",
          flush=True)
    return [_pretrain_stage(model, stack.block_loss(0), data.x_train, data.x_val, settings,
                            stage, seed=settings.seed, block="end_to_end", start=start,
                            progress=progress)]


def finetune(stack, data, settings, head_units=1000, head_layers=1, input_noise=0.0,
             progress=None):
    """Supervised fine-tuning of encoder + a fresh dense head (`head_layers` x `head_units`
    ReLU), jointly, as `settings` (a `Stage`) says; `input_noise` > 0 corrupts the inputs with
    Gaussian noise while training. Under the validation protocol the weights of the epoch with
    the best validation accuracy are kept; under the report protocol those of the last epoch
    (the held-out data is the test set, logged only). Returns (classifier, record)."""
    start = time.perf_counter()
    model = zoo.classifier(stack.encoder, data.num_classes, units=head_units,
                           name=f"{stack.name}_classifier", hidden_layers=head_layers,
                           input_noise=input_noise, seed=settings.seed + 2000)
    done = _restored(progress, "finetune", model)
    steps = steps_per_epoch(len(data.x_train), settings.batch_size) * settings.epochs
    # Compiled whether trained or restored: the caller evaluates it either way.
    model.compile(
        optimizer=make_optimizer(settings.learning_rate, settings.lr_schedule, steps,
                                 settings.weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"], jit_compile=settings.jit_compile,
        steps_per_execution=execution_steps(len(data.x_train), settings),
    )
    if done:
        print(f"Fine-tuning restored from {progress.run_dir}", flush=True)
        return model, done
    val_ds = make_pipeline(data.x_val, data.y_val, batch_size=1024)
    print(f"Fine-tuning encoder + head ({head_layers} x {head_units} ReLU -> "
          f"{data.num_classes})", flush=True)
    report = settings.protocol == "report"
    logs, ckpt = fit_stage(model, data.x_train, data.y_train, val_ds, settings, "finetune",
                           seed=settings.seed + 1000, progress=progress,
                           monitor=None if report else "val_accuracy")
    history = _logs_to_history(logs, settings.protocol)
    record = {"history": history, "seconds": round(time.perf_counter() - start, 2)}
    if report:
        record["final_epoch"] = len(logs)
    else:
        record.update(best_epoch=int(ckpt.state["best_epoch"]),
                      val_accuracy=float(max(history["val_accuracy"])))
    if progress is not None:
        progress.complete("finetune", model, record)
    return model, record


def init_from_pretrained(stack, init_from):
    """Loads a pretrained stack's weights (encoder and decoders) instead of pretraining.
    Returns the pretraining record: the source run's records when it has its metrics.json."""
    path = pretrained_weights_path(init_from)
    try:
        storage.load_weights(stack.autoencoder(), path, "--init_from")
    except storage.DamagedFileError:
        raise
    except ValueError as err:
        raise ValueError(f"--init_from {path}: the weights do not fit {stack.name} "
                         f"({stack.describe()}): {err}") from None
    record = {"init_from": str(path)}
    source = path.parent / "metrics.json"
    if source.exists():
        source_metrics = storage.read_json(source, "the pretrained run's metrics")
        record.update(blocks=source_metrics.get("pretrain", []),
                      dataset=source_metrics.get("dataset"))
    print(f"Pretrained weights loaded from {path}", flush=True)
    return record


def mean_learned_sigma(pretrain_records):
    """Mean over blocks of the last epoch's mean learned sigma (None for fixed noise)."""
    sigmas = [r["history"]["sigma"][-1] for r in pretrain_records
              if "sigma" in r.get("history", {})]
    return float(np.mean(sigmas)) if sigmas else None


def manifest_probe(encoder, data):
    """The linear-probe record of an export's manifest (see `sdae_tf.probe`)."""
    n_train, n_test = min(PROBE_TRAIN, len(data.x_train)), min(PROBE_TEST, len(data.x_test))
    acc = probe.encoder_probe_accuracy(
        lambda x: encoder(x, training=False), data.x_train[:n_train], data.y_train[:n_train],
        data.x_test[:n_test], data.y_test[:n_test])
    return {
        "kind": f"ridge classifier (alpha {probe.PROBE_ALPHA}) on frozen embeddings",
        "train": f"first {n_train} examples of the training split",
        "test": f"first {n_test} examples of the test set",
        "train_examples": n_train,
        "test_examples": n_test,
        "accuracy": acc,
        "floor": round(acc - PROBE_MARGIN, 4),
    }


def pretrained_autoencoder(cfg, input_shape, run_dir):
    """The run's whole autoencoder as unsupervised pretraining left it (fine-tuning changes the
    encoder, not the decoder, so the pair is taken from before it): a fresh stack with the
    run's pretrained weights (its own, or `init_from`'s); None for a model without
    pretraining."""
    path = pathlib.Path(run_dir) / PRETRAINED_WEIGHTS
    if not path.exists():
        if not cfg.init_from:
            return None
        path = pretrained_weights_path(cfg.init_from)
    autoencoder = build_stack(cfg, input_shape).autoencoder()
    storage.load_weights(autoencoder, path, "the pretrained weights")
    return autoencoder


def export_run(cfg, stack, data, stage, metrics, extra=None, run_dir=None, on_staged=None):
    """Exports `stack.encoder` to `cfg.export_dir` with its manifest (model, data, architecture,
    metrics, seed, config, linear-probe floor, `extra`), reloads it and compares. A pretrained
    model also exports its whole autoencoder (`pretrained_autoencoder`) as the `reconstruct`
    endpoint, the denoiser. Returns the export record of metrics.json."""
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
        "probe": manifest_probe(stack.encoder, data),
        **(extra or {}),
    }
    autoencoder = (pretrained_autoencoder(cfg, data.input_shape, run_dir)
                   if run_dir is not None else None)
    denoiser = None
    if autoencoder is not None:
        denoiser = {
            "noise": architecture["noise"],
            "weights": "the whole autoencoder after unsupervised pretraining, before "
                       "fine-tuning",
            "pretrain_dataset": metrics.get("pretrain_dataset") or data.name,
        }
    path = export_lib.export_encoder(stack.encoder, cfg.export_dir, manifest,
                                     overwrite=cfg.overwrite_export,
                                     check_sample=data.x_test[:256],
                                     autoencoder=autoencoder, denoiser=denoiser,
                                     on_staged=on_staged)
    return export_record(path)


def export_record(path):
    """The export record of metrics.json, from the export's manifest."""
    check = export_lib.load_manifest(path)["export_check"]
    return {"path": str(path), "reload_max_abs_diff": check["reload_max_abs_diff"]}


def write_json(path, obj):
    """`obj` as indented JSON at `path`, written aside and moved into place."""
    write_json_atomic(path, obj)


def load_data(cfg):
    """The dataset of a run, shrunk by `quick` / `train_examples`. Under the validation protocol
    with its validation split; under the report protocol every training example is trained on
    and the held-out split that `fit` logs after each epoch is the test set."""
    entry = zoo.REGISTRY.get(cfg.model)
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
    (the reductions' floating-point order changes)."""
    import tensorflow as tf

    def count(getter, env):
        value = getter() or os.environ.get(env, "")
        return int(value) if str(value).isdigit() and int(value) > 0 else None

    return {"intra_op": count(tf.config.threading.get_intra_op_parallelism_threads,
                              "TF_NUM_INTRAOP_THREADS"),
            "inter_op": count(tf.config.threading.get_inter_op_parallelism_threads,
                              "TF_NUM_INTEROP_THREADS"),
            "cpus": os.cpu_count()}


def build_stack(cfg, input_shape):
    """The zoo model of `cfg`, with the config's hyperparameter overrides."""
    return zoo.build(cfg.model, input_shape, **config_lib.model_kwargs(cfg))


def load_run_data(cfg):
    """(fine-tuning data, pretraining data) of a run, checked against each other and the batch
    size (`load_data`)."""
    data = load_data(cfg)
    if cfg.batch_size > len(data.x_train):
        raise ValueError(f"`batch_size` ({cfg.batch_size}) is larger than the training "
                         f"data ({len(data.x_train)} examples of {data.name}); lower "
                         "--batch_size")
    pretrain_data = data
    if cfg.pretrain_dataset and cfg.pretrain_dataset != data.name:
        pretrain_data = load_data(dataclasses.replace(cfg, dataset=cfg.pretrain_dataset))
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
    the encoder and the whole autoencoder in the SavedModel plus the encoder's `.keras`."""
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
    export). Then the run's claim is taken (`sdae_tf.claims`; `claims_held`, an ExitStack,
    keeps it for the run's life: another process on the same directory is refused), the
    directory read again under it, and only then is `config.json` written. Returns (run_dir,
    progress, resuming)."""
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
    `sdae_tf.distribute`). A full or read-only disk is a `storage.StorageError` that names the
    path and says what is kept.
    """
    check_config(cfg)
    total_start = time.perf_counter()
    if cfg.quick:
        cfg = dataclasses.replace(
            cfg,
            pretrain_epochs=min(cfg.pretrain_epochs, QUICK_EPOCHS),
            finetune_epochs=min(cfg.finetune_epochs, QUICK_EPOCHS),
        )
    strategy = distribute.make_strategy(cfg.strategy)
    chief = distribute.is_chief()
    with seeding.run_seeded(cfg.seed):
        return _run(cfg, strategy, chief, total_start)


def _run(cfg, strategy, chief, total_start):
    data, pretrain_data = load_run_data(cfg)
    with strategy.scope(), compute_precision(cfg.precision):
        stack = build_stack(cfg, data.input_shape)  # the family's own checks, before any write
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
        with storage.translate(kept):
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
    if cfg.finetune_epochs > 0:
        classifier, metrics["finetune"] = finetune(
            stack, data, Stage.finetuning(cfg), head_units=cfg.head_units,
            head_layers=cfg.head_layers, input_noise=cfg.finetune_noise, progress=progress)

        def evaluate():
            test_ds = make_pipeline(data.x_test, data.y_test, batch_size=1024)
            test_loss, test_acc = classifier.evaluate(test_ds, verbose=0)
            faults.point("evaluate")
            return {"test_loss": float(test_loss), "test_accuracy": float(test_acc)}

        metrics.update(_stage(progress, "evaluate", evaluate), protocol=cfg.protocol)
        if "val_accuracy" in metrics["finetune"]:
            metrics["val_accuracy"] = metrics["finetune"]["val_accuracy"]
    return metrics
