"""The VariationalStack family: its model (`variational_stack.py`) and its named presets
(`variational_stack_presets.py`, registered on import)."""

from sdae_tf.zoo.variational_stack import variational_stack_presets  # noqa: F401  (registers them)
from sdae_tf.zoo.variational_stack.variational_stack import VariationalStack

__all__ = ['VariationalStack']
