"""The ConvStack family: its model (`conv_stack.py`) and its named presets
(`conv_stack_presets.py`, registered on import)."""

from sdae_tf.zoo.conv_stack import conv_stack_presets  # noqa: F401  (registers them)
from sdae_tf.zoo.conv_stack.conv_stack import ConvStack

__all__ = ['ConvStack']
