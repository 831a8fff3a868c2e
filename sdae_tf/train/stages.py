"""The loop's stages, shared by every family and every caller: one `fit` of a stage (seeded
epoch-indexed shuffling, the divergence guard, per-epoch checkpoints that a restarted run
resumes from), greedy layer-wise pretraining, end-to-end pretraining and supervised
fine-tuning. `sdae_tf.models` (the Python API) and `sdae_tf.runner.training.run` (the CLI's run
orchestration) both train through these functions."""

import contextlib
import dataclasses
import pathlib
import tempfile
import time

import keras

from sdae_tf.data import make_pipeline, steps_per_epoch
from sdae_tf.optimizers import FusedAdam
from sdae_tf.train.checkpoints import EpochCheckpoint, StopOnDivergence, build_optimizers
from sdae_tf.train.choices import LR_SCHEDULES, OPTIMIZERS
from sdae_tf.train.noise_schedule import NoiseSchedule


def make_optimizer(learning_rate, schedule, total_steps, weight_decay=0.0, kind="adam"):
    """Adam (`FusedAdam`: TensorFlow's fused update), or SGD with momentum 0.9 (DEC-keras's
    pretraining), with a constant rate or a cosine decay to zero over `total_steps`;
    `weight_decay` is PyTorch Adam's (added to the gradient).

    Args:
        learning_rate: the (initial) rate.
        schedule: "constant" or "cosine".
        total_steps: the steps the cosine decays over.
        weight_decay: L2 weight decay added to the gradient (PyTorch Adam's; Adam only).
        kind: "adam" or "sgd".

    Returns:
        A Keras optimizer.

    Example:

    ```python
    from sdae_tf.train import stages
    optimizer = stages.make_optimizer(1e-3, "cosine", total_steps=1000)
    ```
    """
    if kind not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}")
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"Unknown learning-rate schedule {schedule!r}; choose one of "
                         f"{', '.join(LR_SCHEDULES)}")
    if kind == "sgd" and weight_decay:
        raise ValueError("The weight decay is Adam's (PyTorch's `weight_decay`); SGD takes none")
    if schedule == "cosine" and total_steps > 0:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    if kind == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9)
    return FusedAdam(learning_rate, l2_weight_decay=weight_decay)


@dataclasses.dataclass(frozen=True)
class Stage:
    """What one training stage (a block's pretraining, or fine-tuning) takes from a run's
    configuration, and nothing else. `Stage.pretraining(cfg)` / `Stage.finetuning(cfg)` build
    them; the stage functions below take a `Stage` and explicit arguments, never the whole
    `TrainConfig`.

    Attributes:
        epochs: epochs of the stage.
        learning_rate, lr_schedule, weight_decay, optimizer: the optimiser
            (`make_optimizer`; `optimizer` is its kind, "adam" or "sgd").
        batch_size: examples per step.
        seed: seeds the stage's shuffling and noise.
        jit_compile, steps_per_execution: how Keras compiles and runs the steps.
        strategy: the `tf.distribute` strategy's name ("none", "mirrored", ...).
        verbose: Keras' `verbose`.
        protocol: "validation" (best validation epoch kept) or "report" (the last).
        noise_schedule: how the noise level moves over the epochs (`noise_schedule.py`).

    Example:

    ```python
    from sdae_tf.train import stages
    from sdae_tf.runner.config import TrainConfig
    settings = stages.Stage.pretraining(TrainConfig(pretrain_epochs=2))
    print(settings.epochs)  # 2
    ```
    """

    epochs: int
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    weight_decay: float = 0.0
    batch_size: int = 128
    seed: int = 0
    jit_compile: bool | None = None
    steps_per_execution: int = 32
    strategy: str = "none"
    verbose: str | int = "auto"
    protocol: str = "validation"
    noise_schedule: str = "constant"
    optimizer: str = "adam"

    @property
    def keras_jit_compile(self):
        """The `jit_compile` the stage compiles with: `jit_compile` on TensorFlow (None: off;
        a pretraining stage takes its family's `JIT_COMPILE` first, `for_family`); always on
        JAX, where a step not compiled runs op by op (5x slower per SDAE epoch than compiled,
        measured)."""
        return bool(self.jit_compile or keras.backend.backend() == "jax")

    def for_family(self, stack):
        """This stage with `jit_compile` left unset (None) replaced by the family's choice
        (`Family.pretrain_jit_compile`)."""
        return dataclasses.replace(
            self, jit_compile=type(stack).pretrain_jit_compile(self.jit_compile, self.strategy))

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
        return dataclasses.replace(cls._from(cfg, cfg.pretrain_epochs, cfg.pretrain_learning_rate),
                                   optimizer=cfg.pretrain_optimizer)

    @classmethod
    def finetuning(cls, cfg):
        return cls._from(cfg, cfg.finetune_epochs, cfg.learning_rate, cfg.finetune_lr_schedule)


def execution_steps(num_examples, stage):
    """Training steps per compiled call (Keras' `steps_per_execution`).

    The largest divisor of an epoch's steps up to `stage.steps_per_execution`. Keras runs
    whole executions and the pipeline is one stream over all epochs, so a divisor keeps every
    epoch exactly its steps (and a resumed run on the same batches). MNIST's 391 steps of 128
    run 23 per call; fewer Python round trips per step took the SDAE block's epoch to
    0.79-0.95x of its time here (`benchmarks/perf.py dense`). Under a `--strategy` other than
    none, one step per call: Keras 3.15's multi-step loop fails there ("You must feed a value
    for placeholder tensor" inside its while loop, seen with MirroredStrategy).

    Args:
        num_examples: training examples per epoch.
        stage: the `Stage` (its batch size, `steps_per_execution` and strategy).

    Returns:
        The steps per call, an int.

    Example:

    ```python
    from sdae_tf.train import stages
    stages.execution_steps(50000, stages.Stage(epochs=1))  # 23 (391 steps of 128)
    ```
    """
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
              monitor=None, log_callbacks=()):
    """One `fit` of the loop over `settings.epochs` (a `Stage`): seeded epoch-indexed
    shuffling, the divergence guard, and, with a `RunProgress`, a checkpoint after every epoch
    that a restarted run resumes from (same data order, noise and optimizer state as if never
    stopped). `stage` names it. `log_callbacks` run first at each epoch's end, so what they
    add to the epoch's logs is checkpointed and kept (the VQ-VAE's codebook use).

    Args:
        model: the compiled Keras model.
        x, y: training inputs and targets (None: the inputs themselves).
        val_ds: a `tf.data.Dataset` logged after each epoch, or None.
        settings: the `Stage`.
        stage: its name ("pretrain_block_1", "finetune", ...).
        seed: seeds the shuffling.
        progress: the run's `RunProgress`, or None (no checkpoints).
        callbacks: more Keras callbacks.
        monitor: the log key whose best epoch is kept (None: the last).
        log_callbacks: callbacks that add to the epoch's logs before they are checkpointed.

    Returns:
        (per-epoch logs of every epoch so far, the `EpochCheckpoint`).
    """
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
        cbs = [*log_callbacks, guard, ckpt, *board, *callbacks]
        build_optimizers(model)  # one trace of the train step, not two
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
                    progress=None, callbacks=(), log_callbacks=()):
    """One autoencoder `model` of pretraining trained on `x_train` (its own target) with its
    own optimizer as `settings` says, the noise schedule applied, `x_val` logged; the record
    (`block` names it) is returned and, with a `RunProgress`, checkpointed as completed."""
    val_ds = make_pipeline(x_val, batch_size=1024) if x_val is not None else None
    steps = steps_per_epoch(len(x_train), settings.batch_size) * settings.epochs
    model.compile(
        optimizer=make_optimizer(settings.learning_rate, settings.lr_schedule, steps,
                                 settings.weight_decay, settings.optimizer),
        loss=loss, jit_compile=settings.keras_jit_compile,
        steps_per_execution=execution_steps(len(x_train), settings),
    )
    callbacks = list(callbacks)
    if settings.noise_schedule != "constant":
        callbacks.append(NoiseSchedule(settings.noise_schedule, settings.epochs))
    logs, _ = fit_stage(model, x_train, None, val_ds, settings, stage, seed=seed,
                        progress=progress, callbacks=callbacks, log_callbacks=log_callbacks)
    record = {"block": block, "history": _logs_to_history(logs, settings.protocol),
              "seconds": round(time.perf_counter() - start, 2)}
    if progress is not None:
        progress.complete(stage, model, record)
    return record


def pretrain_layerwise(stack, data, settings, last_block_callbacks=(), progress=None,
                       callbacks=()):
    """Greedy layer-wise pretraining: block k is a (denoising) autoencoder trained on the clean
    codes of blocks < k, computed once, with its own optimizer, as `settings` (a `Stage`)
    says; block k shuffles and draws with seed `settings.seed + k`. Returns one record per block.

    `callbacks` join every block's `fit`, `last_block_callbacks` the last block's (the tuner
    scores trials there). `data` needs `x_train` and `x_val` (None: no validation). With a
    `RunProgress`, completed blocks are restored instead of retrained and an interrupted block
    resumes from its last epoch.

    Args:
        stack: the zoo family object (`sdae_tf.zoo.build`).
        data: `Splits` (or any record with `x_train`, `x_val`).
        settings: the pretraining `Stage`.
        last_block_callbacks: callbacks of the last block's `fit`.
        progress: the run's `RunProgress`, or None.
        callbacks: callbacks of every block's `fit`.

    Returns:
        A list of per-block records (block, shapes, history, seconds).

    Example:

    ```python
    from sdae_tf.train import stages
    from sdae_tf.runner.config import TrainConfig
    digits = sdae_tf.data.load_digits()
    stack = sdae_tf.zoo.build("sdae_mnist", (8, 8, 1), hidden_units=(32, 16))
    records = stages.pretrain_layerwise(
        stack, digits, stages.Stage.pretraining(TrainConfig(pretrain_epochs=1, verbose=0)))
    print([r["block"] for r in records])  # [1, 2]
    ```
    """
    records = []
    settings = settings.for_family(stack)
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
            x_val = (features.predict(data.x_val, batch_size=1024, verbose=0)
                     if data.x_val is not None else None)
        print(f"Pretraining block {k + 1}/{stack.num_blocks}: {stack.block_summary(k)}",
              flush=True)
        extra = [*callbacks, *(last_block_callbacks if k == stack.num_blocks - 1 else ())]
        records.append(_pretrain_stage(model, stack.block_loss(k), x_train, x_val, settings,
                                       stage, seed=settings.seed + k, block=k + 1, start=start,
                                       progress=progress, callbacks=extra,
                                       log_callbacks=stack.block_callbacks(k)))
    return records


def pretrain_end_to_end(stack, data, settings, progress=None):
    """The alternative to greedy pretraining: the whole stacked (denoising) autoencoder
    (`stack.end_to_end_model()`: input noise, every encoder, every decoder) trained at once for
    `settings.epochs` epochs on `block_loss(0)`. Returns one record, like a block's.

    Args:
        stack: a zoo family object that can train end to end.
        data: `Splits` (or any record with `x_train`, `x_val`).
        settings: the pretraining `Stage`.
        progress: the run's `RunProgress`, or None.

    Returns:
        A list with the one record.

    Raises:
        ValueError: a family trained block by block only.
    """
    start = time.perf_counter()
    settings = settings.for_family(stack)
    stage = "pretrain_end_to_end"
    model = stack.end_to_end_model()
    done = _restored(progress, stage, model)
    if done:
        print(f"End-to-end pretraining restored from {progress.run_dir}", flush=True)
        return [done]
    print(f"Pretraining end to end: {stack.image_shape} -> {stack.embedding_size} and back, "
          f"{settings.epochs} epochs", flush=True)
    return [_pretrain_stage(model, stack.block_loss(0), data.x_train, data.x_val, settings,
                            stage, seed=settings.seed, block="end_to_end", start=start,
                            progress=progress)]


def finetune(stack, data, settings, head_units=1000, head_layers=1, input_noise=0.0,
             train_encoder=True, progress=None):
    """Supervised fine-tuning of encoder + a fresh dense head (`head_layers` x `head_units`
    ReLU), jointly (the head alone with `train_encoder=False`), as `settings` (a `Stage`)
    says; `input_noise` > 0 corrupts the inputs with Gaussian noise while training. Under the
    validation protocol the weights of the epoch with the best validation accuracy are kept;
    under the report protocol those of the last epoch (the held-out data is the test set,
    logged only).

    Args:
        stack: the (pretrained) zoo family object.
        data: `Splits` with labels.
        settings: the fine-tuning `Stage`.
        head_units: width of the head's hidden layers.
        head_layers: the head's hidden layers.
        input_noise: stddev of Gaussian noise on the inputs while training (0: none).
        train_encoder: fine-tune the encoder with the head (False: the head alone).
        progress: the run's `RunProgress`, or None.

    Returns:
        (the classifier, a Keras model images -> logits; the stage's record).
    """
    model = stack.classifier(data.num_classes, head_units=head_units, head_layers=head_layers,
                             input_noise=input_noise, seed=settings.seed + 2000, compile=False)
    return _fit_head(stack, model, data, settings, train_encoder, progress,
                     what=f"head ({head_layers} x {head_units} ReLU -> {data.num_classes})")


def finetune_segmenter(stack, data, settings, filters=32, train_encoder=True, progress=None):
    """`finetune`'s segmentation twin: encoder + a fresh segmentation head
    (`zoo.heads.segmenter`: a per-pixel foreground probability) trained on the masks of
    `data` with binary cross-entropy; the epoch of the best validation foreground IoU kept
    (validation protocol).

    Args:
        stack: a zoo family object with a spatial code.
        data: `Splits` whose labels are masks (`sdae_tf.data.segmentation.load_digit_masks`).
        settings: the fine-tuning `Stage`.
        filters: the head's width.
        train_encoder: fine-tune the encoder with the head (False: the head alone).
        progress: the run's `RunProgress`, or None.

    Returns:
        (the segmenter, images -> per-pixel probabilities; the stage's record).
    """
    model = stack.segmenter(filters=filters, train_encoder=train_encoder, compile=False)
    return _fit_head(stack, model, data, settings, train_encoder, progress,
                     what=f"segmentation head ({filters} filters -> mask)")


def _fit_head(stack, model, data, settings, train_encoder, progress, what):
    """The fine-tuning stage of `model` (a `sdae_tf.zoo.heads.Task`: the encoder under a fresh
    head): compiled with the task's loss and metrics, restored or trained with selection of
    the best `model.MONITOR` epoch (validation protocol), recorded."""
    monitor = model.MONITOR
    start = time.perf_counter()
    stack.encoder.trainable = bool(train_encoder)
    done = _restored(progress, "finetune", model)
    steps = steps_per_epoch(len(data.x_train), settings.batch_size) * settings.epochs
    # Compiled whether trained or restored: the caller evaluates it either way.
    model.compile(
        optimizer=make_optimizer(settings.learning_rate, settings.lr_schedule, steps,
                                 settings.weight_decay),
        jit_compile=settings.keras_jit_compile,
        steps_per_execution=execution_steps(len(data.x_train), settings),
    )
    if done:
        print(f"Fine-tuning restored from {progress.run_dir}", flush=True)
        return model, done
    val_ds = make_pipeline(data.x_val, data.y_val, batch_size=1024)
    print(f"Fine-tuning {'encoder + ' if train_encoder else '(encoder frozen) '}{what}",
          flush=True)
    report = settings.protocol == "report"
    logs, ckpt = fit_stage(model, data.x_train, data.y_train, val_ds, settings, "finetune",
                           seed=settings.seed + 1000, progress=progress,
                           monitor=None if report else monitor)
    history = _logs_to_history(logs, settings.protocol)
    record = {"history": history, "seconds": round(time.perf_counter() - start, 2)}
    if report:
        record["final_epoch"] = len(logs)
    else:
        record.update({"best_epoch": int(ckpt.state["best_epoch"]),
                       monitor: float(max(history[monitor]))})
    if progress is not None:
        progress.complete("finetune", model, record)
    return model, record


@dataclasses.dataclass(frozen=True)
class ClusteringStage:
    """What the clustering stage (DEC, or IDEC with `reconstruction_weight` > 0) takes from a
    run's configuration (the `--cluster_*` fields): see `sdae_tf.zoo.clusterer`.

    Attributes:
        n_clusters: the clusters.
        max_batches, update_interval, tol, batch_size, n_init: DEC's loop.
        learning_rate: None (DEC's SGD 0.01 / IDEC's Adam 1e-3), else that optimiser at it.
        reconstruction_weight: IDEC's (0: DEC).
        projection: None, "flatten" or a Dense width.
        seed: seeds k-means and the batches' order.
        verbose: 0 silent, else a line per target update.
    """

    n_clusters: int
    max_batches: int = 20000
    update_interval: int = 140
    tol: float = 1e-3
    batch_size: int = 256
    n_init: int = 20
    learning_rate: float | None = None
    reconstruction_weight: float = 0.0
    projection: str | int | None = None
    seed: int = 0
    verbose: int = 1

    @classmethod
    def from_config(cls, cfg, num_classes):
        projection = {"none": None, "flatten": "flatten"}.get(cfg.cluster_projection)
        return cls(n_clusters=cfg.cluster_count or num_classes,
                   max_batches=cfg.cluster_max_batches,
                   update_interval=cfg.cluster_update_interval, tol=cfg.cluster_tol,
                   batch_size=cfg.cluster_batch_size, n_init=cfg.cluster_n_init,
                   learning_rate=cfg.cluster_learning_rate,
                   reconstruction_weight=cfg.cluster_reconstruction_weight,
                   projection=projection if projection or cfg.cluster_projection == "none"
                   else int(cfg.cluster_projection),
                   seed=cfg.seed + 3000, verbose=0 if cfg.keras_verbose == 0 else 1)


def cluster(stack, x, y, settings, validation_data=None, progress=None):
    """The clustering stage: `stack.clusterer` trained by DEC's self-training on images `x`
    (`y` only scored), restored if an earlier attempt completed it, resumed from its last
    target update if one was interrupted.

    Args:
        stack: the (pretrained) zoo model.
        x, y: the images clustered and their labels (scored, never trained on).
        validation_data: (images, labels) held out, assigned and scored, or None.
        settings: a `ClusteringStage`.
        progress: the run's `RunProgress`, or None.

    Returns:
        (the `Clusterer`, the stage's record: "kmeans" and "final" scores, "batches",
        "stopped", the per-update "history", "seconds").
    """
    start = time.perf_counter()
    model = stack.clusterer(settings.n_clusters, projection=settings.projection,
                            reconstruction_weight=settings.reconstruction_weight,
                            compile=False)
    model.compile(optimizer=model.default_optimizer(settings.learning_rate))
    done = _restored(progress, "cluster", model)
    if done:
        print(f"Clustering restored from {progress.run_dir}", flush=True)
        return model, done
    kind = "IDEC" if settings.reconstruction_weight > 0 else "DEC"
    print(f"Clustering {len(x)} images into {settings.n_clusters} clusters ({kind}, at most "
          f"{settings.max_batches} batches of {settings.batch_size})", flush=True)
    history = model.fit(
        x, y, batch_size=settings.batch_size, max_batches=settings.max_batches,
        tol=settings.tol, update_interval=settings.update_interval, n_init=settings.n_init,
        seed=settings.seed, verbose=settings.verbose, validation_data=validation_data,
        checkpoint_dir=progress.ckpt_dir("cluster") if progress is not None else None)
    record = {"method": kind, **history.record, "history": history.history,
              "seconds": round(time.perf_counter() - start, 2)}
    if progress is not None:
        progress.complete("cluster", model, record)
    return model, record
