"""Optimizers: `FusedAdam`, Keras' Adam with one fused TensorFlow kernel per variable update,
and `PartitionedOptimizer`, several optimizers over their own variables as one."""

from sdae_tf.optimizers.fused_adam import FusedAdam
from sdae_tf.optimizers.partitioned import PartitionedOptimizer

__all__ = ["FusedAdam", "PartitionedOptimizer"]
