"""Optimizers: `FusedAdam`, Keras' Adam with one fused TensorFlow kernel per variable update."""

from sdae_tf.optimizers.fused_adam import FusedAdam

__all__ = ["FusedAdam"]
