"""The one training loop: greedy layer-wise pretraining, supervised fine-tuning, evaluation,
export. Every zoo family goes through `run`."""

import dataclasses
import datetime
import json
import os
import pathlib
import time

import keras
import numpy as np

from sdae_tf import export as export_lib
from sdae_tf import plots, probe, sampling, zoo
from sdae_tf.data import load_dataset, make_pipeline

# What `quick=True` shrinks a run to: smoke tests of every flagfile use it.
QUICK_TRAIN_EXAMPLES = 1024
QUICK_EVAL_EXAMPLES = 512
QUICK_EPOCHS = 1
# The linear probe written into an export's manifest: fitted on the first PROBE_TRAIN training
# examples, scored on the first PROBE_TEST test examples; its floor is the score less the margin.
PROBE_TRAIN = 5000
PROBE_TEST = 2000
PROBE_MARGIN = 0.01


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on; `None` means "the zoo entry's default"."""

    model: str = "sdae_mnist"
    dataset: str | None = None
    data_dir: str | None = None
    cache_dir: str | None = None
    validation_size: int | None = None
    train_examples: int | None = None
    data_seed: int = 0
    seed: int = 0
    hidden_units: tuple | None = None
    noise_type: str | None = None
    noise_level: float | None = None
    latent_units: tuple | None = None
    kl_weight: float | None = None
    lambdas: tuple | None = None
    per_component: bool | None = None
    batch_size: int = 128
    pretrain_epochs: int = 2
    pretrain_learning_rate: float = 1e-3
    finetune_epochs: int = 5
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    head_units: int = 1000
    num_samples: int = 0
    jit_compile: bool = False
    run_dir: str | None = None
    export_dir: str | None = None
    overwrite_export: bool = False
    quick: bool = False
    verbose: str | int = "auto"

    def validate(self):
        zoo.REGISTRY.get(self.model)  # unknown names list the known ones
        if self.train_examples is not None and self.train_examples < 1:
            raise ValueError(f"`train_examples` must be >= 1. Received: {self.train_examples}")
        for name in ("batch_size", "head_units"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {getattr(self, name)}")
        for name in ("pretrain_epochs", "finetune_epochs", "num_samples"):
            if getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be >= 0. Received: {getattr(self, name)}")
        for name in ("learning_rate", "pretrain_learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"`{name}` must be > 0. Received: {getattr(self, name)}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(
                f"`lr_schedule` must be 'constant' or 'cosine'. Received: {self.lr_schedule!r}"
            )


def make_optimizer(learning_rate, schedule, total_steps):
    """Adam with a constant rate or a cosine decay to zero over `total_steps`."""
    if schedule == "cosine" and total_steps > 0:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    return keras.optimizers.Adam(learning_rate)


def _history(h):
    return {k: [float(v) for v in vs] for k, vs in h.history.items()}


def _callbacks(run_dir, stage):
    if run_dir is None:
        return []
    return [keras.callbacks.TensorBoard(str(pathlib.Path(run_dir) / "tensorboard" / stage),
                                        write_graph=False)]


def pretrain_layerwise(stack, data, cfg, run_dir=None, last_block_callbacks=()):
    """Greedy layer-wise pretraining: block k is a (denoising) autoencoder trained on the clean
    codes of blocks < k, computed once, with its own optimizer. Returns one record per block.

    `last_block_callbacks` join the last block's `fit` (the tuner scores trials there)."""
    records = []
    for k in range(stack.num_blocks):
        start = time.perf_counter()
        features = stack.features_before(k)
        if features is None:
            x_train, x_val = data.x_train, data.x_val
        else:
            x_train = features.predict(data.x_train, batch_size=1024, verbose=0)
            x_val = features.predict(data.x_val, batch_size=1024, verbose=0)
        train_ds = make_pipeline(x_train, batch_size=cfg.batch_size, shuffle=True,
                                 seed=cfg.seed + k)
        val_ds = make_pipeline(x_val, batch_size=1024)
        model = stack.pretrain_model(k)
        steps = len(train_ds) * cfg.pretrain_epochs
        model.compile(
            optimizer=make_optimizer(cfg.pretrain_learning_rate, cfg.lr_schedule, steps),
            loss=stack.block_loss(k), jit_compile=cfg.jit_compile,
        )
        print(f"Pretraining block {k + 1}/{stack.num_blocks}: {stack.block_summary(k)}",
              flush=True)
        callbacks = _callbacks(run_dir, f"pretrain_block_{k + 1}")
        if k == stack.num_blocks - 1:
            callbacks += list(last_block_callbacks)
        h = model.fit(train_ds, validation_data=val_ds, epochs=cfg.pretrain_epochs, shuffle=False,
                      verbose=cfg.verbose, callbacks=callbacks)
        records.append({"block": k + 1, "history": _history(h),
                        "seconds": round(time.perf_counter() - start, 2)})
    return records


def finetune(stack, data, cfg, run_dir=None):
    """Supervised fine-tuning of encoder + a fresh dense head, jointly. The weights of the epoch
    with the best validation accuracy are kept. Returns (classifier, record)."""
    start = time.perf_counter()
    model = zoo.classifier(stack.encoder, data.num_classes, units=cfg.head_units,
                           name=f"{stack.name}_classifier")
    train_ds = make_pipeline(data.x_train, data.y_train, batch_size=cfg.batch_size,
                             shuffle=True, seed=cfg.seed + 1000)
    val_ds = make_pipeline(data.x_val, data.y_val, batch_size=1024)
    model.compile(
        optimizer=make_optimizer(cfg.learning_rate, cfg.lr_schedule,
                                 len(train_ds) * cfg.finetune_epochs),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"], jit_compile=cfg.jit_compile,
    )
    best = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max",
                                         patience=cfg.finetune_epochs + 1,
                                         restore_best_weights=True)
    print(f"Fine-tuning encoder + head ({cfg.head_units} ReLU -> {data.num_classes})", flush=True)
    h = model.fit(train_ds, validation_data=val_ds, epochs=cfg.finetune_epochs, shuffle=False,
                  verbose=cfg.verbose, callbacks=[best, *_callbacks(run_dir, "finetune")])
    history = _history(h)
    record = {
        "history": history,
        "best_epoch": int(best.best_epoch) + 1,
        "val_accuracy": float(max(history["val_accuracy"])),
        "seconds": round(time.perf_counter() - start, 2),
    }
    return model, record


def write_samples(stack, data, num_samples, seed, run_dir, rows=5):
    """Top-down Bernoulli samples of the (pre)trained stack around the first `rows` test
    examples, as `samples.png`: the original first in each row, samples after."""
    if not hasattr(stack, "decoder_layers"):
        raise ValueError(f"{stack.name}: Bernoulli sampling needs a dense stack")
    originals = data.x_test[:rows]
    samples = sampling.bernoulli_samples(stack, originals, num_samples, seed=seed)
    grid = np.concatenate([originals[:, None], samples], axis=1)
    return plots.save_image_grid(
        grid, pathlib.Path(run_dir) / "samples.png",
        title=f"{stack.name}: top-down Bernoulli samples (original first)",
        col_labels=["original", *[f"sample {i + 1}" for i in range(num_samples)]],
    )


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


def export_run(cfg, stack, data, stage, metrics, extra=None):
    """Exports `stack.encoder` to `cfg.export_dir` with its manifest (model, data, architecture,
    metrics, seed, config, linear-probe floor, `extra`), reloads it and compares. Returns the
    export record of metrics.json."""
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
    path = export_lib.export_encoder(stack.encoder, cfg.export_dir, manifest,
                                     overwrite=cfg.overwrite_export)
    reloaded = export_lib.load_encoder(path)
    sample = data.x_test[:256]
    diff = np.max(np.abs(np.asarray(reloaded(sample))
                         - np.asarray(stack.encoder(sample, training=False))))
    return {"path": str(path), "reload_max_abs_diff": float(diff)}


def write_json(path, obj):
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def load_data(cfg):
    """The dataset of a run, with its validation split, shrunk by `quick` / `train_examples`."""
    entry = zoo.REGISTRY.get(cfg.model)
    data = load_dataset(cfg.dataset or entry.dataset, data_dir=cfg.data_dir,
                        validation_size=cfg.validation_size, seed=cfg.data_seed,
                        cache_dir=cfg.cache_dir)
    if cfg.quick:
        return data.limit(QUICK_TRAIN_EXAMPLES, QUICK_EVAL_EXAMPLES)
    if cfg.train_examples:
        data = data.limit(train=cfg.train_examples)
    return data


def build_stack(cfg, input_shape):
    """The zoo model of `cfg`, with the config's hyperparameter overrides."""
    return zoo.build(cfg.model, input_shape, hidden_units=cfg.hidden_units,
                     noise_type=cfg.noise_type, noise_level=cfg.noise_level,
                     latent_units=cfg.latent_units, kl_weight=cfg.kl_weight,
                     lambdas=cfg.lambdas, per_component=cfg.per_component, seed=cfg.seed)


def default_run_dir(model):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return pathlib.Path("runs") / f"{model}-{stamp}"


def prepare_run_dir(run_dir):
    run_dir = pathlib.Path(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise FileExistsError(f"Run directory {run_dir} is not empty; choose another --run_dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def run(cfg):
    """Trains `cfg.model` end to end and returns the metrics dict (also `metrics.json`).

    Steps: load data -> build the zoo model -> layer-wise pretraining (if the entry uses it) ->
    fine-tuning with best-validation selection -> test evaluation -> encoder export.
    """
    cfg.validate()
    total_start = time.perf_counter()
    entry = zoo.REGISTRY.get(cfg.model)
    if cfg.quick:
        cfg = dataclasses.replace(
            cfg,
            pretrain_epochs=min(cfg.pretrain_epochs, QUICK_EPOCHS),
            finetune_epochs=min(cfg.finetune_epochs, QUICK_EPOCHS),
        )
    if cfg.export_dir:
        export_lib.check_export_target(cfg.export_dir, cfg.overwrite_export)  # fail before training
    run_dir = prepare_run_dir(cfg.run_dir or default_run_dir(cfg.model))
    write_json(run_dir / "config.json", dataclasses.asdict(cfg))
    keras.utils.set_random_seed(cfg.seed)

    data = load_data(cfg)
    print(f"{cfg.model} on {data.name}: {data.sizes()} examples of shape {data.input_shape}",
          flush=True)
    stack = build_stack(cfg, data.input_shape)

    metrics = {"model": cfg.model, "dataset": data.name, "sizes": data.sizes(),
               "architecture": stack.describe()}
    if entry.layerwise_pretraining and cfg.pretrain_epochs > 0:
        metrics["pretrain"] = pretrain_layerwise(stack, data, cfg, run_dir)
    if cfg.num_samples > 0:
        metrics["samples"] = str(write_samples(stack, data, cfg.num_samples, cfg.seed, run_dir))
    if cfg.finetune_epochs > 0:
        classifier, metrics["finetune"] = finetune(stack, data, cfg, run_dir)
        test_ds = make_pipeline(data.x_test, data.y_test, batch_size=1024)
        test_loss, test_acc = classifier.evaluate(test_ds, verbose=0)
        metrics.update(test_loss=float(test_loss), test_accuracy=float(test_acc),
                       val_accuracy=metrics["finetune"]["val_accuracy"])

    if cfg.export_dir:
        stage = "finetuned" if cfg.finetune_epochs > 0 else "pretrained"
        metrics["export"] = export_run(
            cfg, stack, data, stage,
            {k: metrics[k] for k in ("val_accuracy", "test_accuracy") if k in metrics})

    metrics["seconds"] = round(time.perf_counter() - total_start, 2)
    write_json(run_dir / "metrics.json", metrics)
    metrics["run_dir"] = str(run_dir)
    return metrics
