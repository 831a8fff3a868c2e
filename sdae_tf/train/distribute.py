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
  Keras 3.15's `fit` fails under this strategy; `patch_keras_for_multi_worker` fixes it.
"""

import functools
import json
import os

from sdae_tf.utils import keras_compat

STRATEGIES = ("none", "mirrored", "multi_worker")


def patch_keras_for_multi_worker():
    """Fixes Keras 3.15's TensorFlow trainer under `MultiWorkerMirroredStrategy`, where `fit`
    fails on its first batch (keras-team/keras#20585, tensorflow/tensorflow#72388; reproduced
    here with two loopback workers). Two places reduce per-replica values across workers with
    `strategy.reduce(..., axis=0)` or `axis=None` where the other was needed:

    - `_maybe_symbolic_build` mean-reduces the first *data batch* across workers only to learn
      its shapes for building: take this worker's first replica's batch instead (same shapes,
      no collective);
    - `reduce_per_replica` mean-reduces the step's outputs (scalar metrics) along axis 0,
      which scalars do not have: reduce scalars with `axis=None`.

    Idempotent; touches nothing under other strategies. Training under the patch matches a
    one-device run of the same seed (tests/test_distribute.py).
    """
    tree, trainer = keras_compat.tensorflow_trainer_internals()

    if getattr(trainer, "_sdae_tf_multi_worker_patch", False):
        return
    import tensorflow as tf

    build = trainer.TensorFlowTrainer._maybe_symbolic_build
    reduce = trainer.reduce_per_replica

    def local_batch(strategy, batch):
        return tree.map_structure(
            lambda v: (strategy.experimental_local_results(v)[0]
                       if isinstance(v, tf.distribute.DistributedValues) else v), batch)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or not trainer._collective_all_reduce_multi_worker(strategy):
            return build(self, iterator=iterator, data_batch=data_batch)
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = local_batch(strategy, next(it))
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if (reduction not in ("auto", "mean")
                or not trainer._collective_all_reduce_multi_worker(strategy)):
            return reduce(values, strategy, reduction)

        def mean(v):
            rank = strategy.experimental_local_results(v)[0].shape.rank
            return strategy.reduce("MEAN", v, axis=0 if rank else None)

        return tree.map_structure(mean, values)

    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    trainer._sdae_tf_multi_worker_patch = True


@functools.cache
def make_strategy(name):
    """The `tf.distribute.Strategy` that `--strategy=name` asks for, one per process: runs in
    the same process (an experiment's cells) share it, as a second MirroredStrategy's
    collectives clash with the first's.

    Args:
        name: "none", "mirrored" or "multi_worker".

    Returns:
        A `tf.distribute.Strategy` (on the JAX backend, a `JaxDataParallel`: `none` and
        `mirrored`).
    """
    import keras

    if name not in STRATEGIES:
        raise ValueError(f"Unknown --strategy {name!r}. Available: {', '.join(STRATEGIES)}")
    if keras.backend.backend() == "jax":
        return JaxDataParallel.make(name)
    import tensorflow as tf

    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if not os.environ.get("TF_CONFIG"):
        raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                         "(the cluster and this worker's task), e.g. TF_CONFIG='{\"cluster\": "
                         "{\"worker\": [\"host1:12345\", \"host2:12345\"]}, \"task\": "
                         "{\"type\": \"worker\", \"index\": 0}}'")
    patch_keras_for_multi_worker()
    return tf.distribute.MultiWorkerMirroredStrategy()


class JaxDataParallel:
    """`--strategy` on the JAX backend, with the names tf.distribute uses on TensorFlow:

    - `none`: one device (the loop's `strategy.scope()` is a no-op);
    - `mirrored`: `keras.distribution.DataParallel` over every local JAX device (on CPU, split
      the host into several with `XLA_FLAGS=--xla_force_host_platform_device_count=N` before
      JAX starts): variables replicated, each batch sharded along its first axis, gradients
      of the global batch (the same maths as one device);
    - `multi_worker` is refused (several JAX processes need `jax.distributed`, not wired).

    Keras shards every batch evenly and refuses one the device count does not divide (the
    last, partial batch of an epoch or a prediction); `patch_keras_for_partial_batches` places
    such a batch whole on every device instead, so no example is dropped or padded.

    Attributes:
        num_replicas_in_sync: the devices a batch is split over.
        distribution: the `keras.distribution.DataParallel`, or None on one device.
    """

    def __init__(self, distribution=None):
        self.distribution = distribution
        self.num_replicas_in_sync = (
            1 if distribution is None else int(distribution.device_mesh.devices.size))

    @classmethod
    def make(cls, name):
        if name == "none":
            return cls()
        if name != "mirrored":
            raise ValueError(f"--strategy={name} runs on the tensorflow backend only "
                             "(tf.distribute); on jax, --strategy=mirrored splits each batch "
                             "over this process's devices")
        import jax
        import keras

        patch_keras_for_partial_batches()
        return cls(keras.distribution.DataParallel(devices=jax.devices()))

    def scope(self):
        import contextlib

        return contextlib.nullcontext() if self.distribution is None else \
            self.distribution.scope()


def patch_keras_for_partial_batches():
    """Lets Keras 3's JAX trainer take a batch that its `DataParallel` cannot shard evenly:
    `distribute_data_input` (which every `fit`, `evaluate` and `predict` batch goes through)
    raises jax's `IndivisibleError` on the last batch of 1001 examples at batch 32 over two
    devices; patched, such a batch is replicated to every device (computed whole, same
    numbers) and even batches are sharded as before. Idempotent."""
    from jax.sharding import NamedSharding, PartitionSpec
    from keras.distribution import TensorLayout
    from keras.src.backend.jax import distribution_lib

    if getattr(distribution_lib, "_sdae_tf_partial_batch_patch", False):
        return
    original = distribution_lib.distribute_data_input

    def distribute_data_input(per_process_batch, layout, batch_dim_name):
        sharding = layout.backend_layout if isinstance(layout, TensorLayout) else layout
        shape = getattr(per_process_batch, "shape", ())
        if isinstance(sharding, NamedSharding) and shape:
            parts = sharding.mesh.shape.get(batch_dim_name, 1)
            if shape[0] % parts:
                sharding = NamedSharding(sharding.mesh, PartitionSpec())
        return original(per_process_batch, sharding, batch_dim_name)

    distribution_lib.distribute_data_input = distribute_data_input
    distribution_lib._sdae_tf_partial_batch_patch = True


def is_chief():
    """Whether this process writes results: always, except non-chief multi-worker workers."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    if not task:
        return True
    return task.get("type") == "chief" or (
        task.get("type") == "worker" and task.get("index", 0) == 0
        and "chief" not in config.get("cluster", {}))
