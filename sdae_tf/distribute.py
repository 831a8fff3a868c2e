"""`--strategy`: training under `tf.distribute` (TensorFlow's own engine for several devices or
machines). The loop builds every model and optimizer inside `strategy.scope()`, so variables
are mirrored, and Keras `fit` splits each global batch (`--batch_size`) across replicas; the
losses are scaled by the global batch (Keras' compiled losses, and the learned-sigma block's
own two-optimizer `train_step`).

- `none` (default): TensorFlow's default strategy, one device.
- `mirrored`: `tf.distribute.MirroredStrategy` over every local GPU, or, without GPUs, every
  logical CPU device (split one CPU into several with
  `tf.config.set_logical_device_configuration` before TensorFlow starts).
- `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy`, one process per worker, the
  cluster described by the `TF_CONFIG` environment variable (every worker runs the same
  command; worker 0 is the chief and writes the run directory's results and the export).
  Refused for now: Keras 3's `fit` fails under it (see `KERAS_FITS_MULTI_WORKER`).
"""

import functools
import json
import os

STRATEGIES = ("none", "mirrored", "multi_worker")
# Keras 3.15's TensorFlow trainer fails on the first batch under MultiWorkerMirroredStrategy
# (`_maybe_symbolic_build` -> `strategy.reduce("MEAN", PerReplica)`, keras-team/keras#20585,
# reproduced here with two loopback workers). Until it is fixed, multi_worker is refused with
# that reason instead of failing inside fit.
KERAS_FITS_MULTI_WORKER = False


@functools.cache
def make_strategy(name):
    """The `tf.distribute.Strategy` that `--strategy=name` asks for, one per process: runs in
    the same process (an experiment's cells) share it, as a second MirroredStrategy's
    collectives clash with the first's."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"Unknown --strategy {name!r}. Available: {', '.join(STRATEGIES)}")
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if not KERAS_FITS_MULTI_WORKER:
        raise ValueError(
            "--strategy=multi_worker: Keras 3's fit cannot train under "
            "MultiWorkerMirroredStrategy yet (it reduces the first distributed batch with "
            "strategy.reduce, which fails on PerReplica values: keras-team/keras#20585); use "
            "--strategy=mirrored on one machine")
    if not os.environ.get("TF_CONFIG"):
        raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                         "(the cluster and this worker's task), e.g. TF_CONFIG='{\"cluster\": "
                         "{\"worker\": [\"host1:12345\", \"host2:12345\"]}, \"task\": "
                         "{\"type\": \"worker\", \"index\": 0}}'")
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief():
    """Whether this process writes results: always, except non-chief multi-worker workers."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    if not task:
        return True
    return task.get("type") == "chief" or (
        task.get("type") == "worker" and task.get("index", 0) == 0
        and "chief" not in config.get("cluster", {}))
