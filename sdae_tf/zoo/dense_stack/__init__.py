"""The DenseStack family: its model (`dense_stack.py`) and its named presets
(`dense_stack_presets.py`, registered on import)."""

from sdae_tf.zoo.dense_stack import dense_stack_presets  # noqa: F401  (registers them)
from sdae_tf.zoo.dense_stack.dense_stack import DenseStack

__all__ = ['DenseStack']
