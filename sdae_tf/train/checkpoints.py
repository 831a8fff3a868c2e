"""Crash-safe training state: per-epoch checkpoints a killed run resumes from, per-stage results,
and a divergence guard.

Every file is written under a temporary name and moved into place (`os.replace`), and a small
JSON pointer names the newest complete checkpoint, so a SIGKILL at any instant leaves either the
previous checkpoint or the new one, never a torn file. Weights files are Keras `.weights.h5`
(model weights, optimizer slots and the noise layers' random-stream state; no pickle).
"""

import datetime
import itertools
import math
import pathlib
import shutil

import keras

from sdae_tf.utils import faults, storage
from sdae_tf.utils.storage import (  # noqa: F401  (re-exported: the run's writers)
    save_weights_atomic,
    write_json_atomic,
    write_text_atomic,
)

LATEST = "latest.json"
# The pretrained stack a run writes after layer-wise pretraining (what `--init_from` loads).
PRETRAINED_WEIGHTS = "pretrained.weights.h5"


def pretrained_weights_path(init_from):
    """The pretrained-stack weights that `--init_from` names: a run directory (its
    `pretrained.weights.h5`) or the `.weights.h5` file itself.

    Args:
        init_from: a run directory or a `.weights.h5` path.

    Returns:
        The weights file's `pathlib.Path`.

    Raises:
        FileNotFoundError: no such run or file, saying what was looked for.
    """
    path = pathlib.Path(init_from)
    if path.is_dir():
        path = path / PRETRAINED_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(
            f"--init_from {init_from}: no {path.name} there (give a run directory that "
            "pretrained, or its pretrained.weights.h5)")
    return path


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite."""


def build_optimizers(model):
    """Builds `model`'s optimizers, over the variables its first step would pass, if they are
    not built yet. Keras builds an optimizer lazily inside the first traced step, so
    `tf.function` traces that step twice (variables created on the first call); built before
    `fit`, every training function is traced once (half the tracing of a short run), and a
    restored checkpoint finds the slots its weights file holds.

    Args:
        model: a compiled Keras model (a model with a `build_optimizers()` method, for
            optimizers over other variables than its own trainable ones, builds itself).
    """
    if hasattr(model, "build_optimizers"):
        model.build_optimizers()
    elif model.optimizer is not None and not model.optimizer.built and model.built:
        model.optimizer.build(model.trainable_variables)


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model (weights, optimizer state, random-stream state) after every epoch and,
    with `monitor`, the best epoch's weights; restores the newest at the start of `fit`.

    Use `resume_epoch()` before `fit` to start the data pipeline and `initial_epoch` there.
    `history()` gives the logs of every epoch so far, across restarts.

    Args:
        directory: where the checkpoints are written.
        monitor: the log key of the best epoch kept (None: none kept).
        mode: "max" or "min", how `monitor` improves.
    """

    def __init__(self, directory, monitor=None, mode="max"):
        super().__init__()
        self.dir = pathlib.Path(directory)
        self.monitor, self.mode = monitor, mode
        self.state = self._read()

    def _read(self):
        path = self.dir / LATEST
        if path.exists():
            return storage.read_json(path, "checkpoint state")
        return {"epoch": 0, "weights": None, "logs": [], "best": None, "best_epoch": None}

    def resume_epoch(self):
        return int(self.state["epoch"])

    def history(self):
        return list(self.state["logs"])

    @property
    def best_weights(self):
        return self.dir / "best.weights.h5"

    def on_train_begin(self, logs=None):
        if self.state["weights"]:
            build_optimizers(self.model)  # or the saved slots would be skipped
            storage.load_weights(self.model, self.dir / self.state["weights"],
                                 "epoch checkpoint")

    def _improved(self, value):
        best = self.state["best"]
        if best is None:
            return True
        return value > best if self.mode == "max" else value < best

    def on_epoch_end(self, epoch, logs=None):
        self.dir.mkdir(parents=True, exist_ok=True)
        logs = {k: float(v) for k, v in (logs or {}).items()}
        name = f"epoch-{epoch + 1:04d}.weights.h5"
        save_weights_atomic(self.model, self.dir / name)
        state = {**self.state, "epoch": epoch + 1, "weights": name,
                 "logs": [*self.state["logs"][:epoch], logs]}
        if self.monitor is not None and self._improved(logs[self.monitor]):
            save_weights_atomic(self.model, self.best_weights)
            state.update(best=logs[self.monitor], best_epoch=epoch + 1)
        write_json_atomic(self.dir / LATEST, state)
        old = self.state["weights"]
        self.state = state
        if old and old != name:
            (self.dir / old).unlink(missing_ok=True)
        faults.point(f"epoch:{self.dir.name}")


class StopOnDivergence(keras.callbacks.Callback):
    """Raises `TrainingDivergedError` naming the stage, epoch, batch and loss as soon as a loss
    in the batch logs is NaN or infinite (the last epoch checkpoint stays as it was).

    Args:
        stage: the stage's name, for the error.
        checkpoint_dir: the stage's checkpoint folder, named in the error (or None).
    """

    def __init__(self, stage, checkpoint_dir=None):
        super().__init__()
        self.stage, self.checkpoint_dir, self.epoch = stage, checkpoint_dir, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, f"batch {batch + 1}")
        faults.point(f"batch:{self.stage}")

    def on_epoch_end(self, epoch, logs=None):  # validation losses; before the checkpoint
        self._check(logs, "the end of the epoch")

    def _check(self, logs, when):
        bad = {k: float(v) for k, v in (logs or {}).items()
               if "loss" in k and not math.isfinite(float(v))}
        if bad:
            where = (f"; completed stages and the last good epoch are kept in "
                     f"{self.checkpoint_dir}" if self.checkpoint_dir else "")
            raise TrainingDivergedError(
                f"{self.stage} diverged at epoch {self.epoch + 1}, {when}: "
                + ", ".join(f"{k} is {v}" for k, v in bad.items())
                + f"{where}; nothing was exported. Lower the learning rate.")


class RunProgress:
    """Which stages of a run are complete, with their records and final weights, so a
    restarted run skips them (`run_dir/progress.json`, `run_dir/checkpoints/`).

    Args:
        run_dir: the run directory.
    """

    def __init__(self, run_dir):
        self.run_dir = pathlib.Path(run_dir)
        self.path = self.run_dir / "progress.json"
        self.state = (storage.read_json(self.path, "run progress") if self.path.exists()
                      else {"stages": {}})

    def ckpt_dir(self, stage):
        return self.run_dir / "checkpoints" / stage

    def done(self, stage):
        return self.state["stages"].get(stage)

    def restore(self, stage, model):
        """Loads a completed stage's final weights into `model` (layers only)."""
        storage.load_weights(model, self.run_dir / "checkpoints" / f"{stage}.weights.h5",
                             f"the weights of the completed stage {stage}",
                             skip_mismatch=False)

    def complete(self, stage, model, record):
        """Records `stage` as done with `record` and its final weights (`model`'s)."""
        (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        save_weights_atomic(model, self.run_dir / "checkpoints" / f"{stage}.weights.h5")
        self.mark(stage, record)
        shutil.rmtree(self.ckpt_dir(stage), ignore_errors=True)

    def mark(self, stage, record):
        """Records `stage` as done with `record` (a stage that leaves no weights: the test
        evaluation, the figures, the export)."""
        self.state["stages"][stage] = record
        write_json_atomic(self.path, self.state)
        faults.point(f"done:{stage}")

    def clear(self):
        """After a successful run: the checkpoints are not needed any more."""
        shutil.rmtree(self.run_dir / "checkpoints", ignore_errors=True)


def default_run_dir(model):
    """A fresh `runs/<model>-<timestamp>[-N]`, claimed with an exclusive mkdir so runs started
    in the same second (or concurrently) never share a directory.

    Args:
        model: the zoo model's name.

    Returns:
        The new directory's `pathlib.Path` (created).
    """
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = pathlib.Path("runs") / f"{model}-{stamp}"
    base.parent.mkdir(parents=True, exist_ok=True)
    for i in itertools.count(1):
        path = base if i == 1 else base.with_name(f"{base.name}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
