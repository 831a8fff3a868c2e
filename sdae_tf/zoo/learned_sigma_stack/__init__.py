"""The LearnedSigmaStack family: its model (`learned_sigma_stack.py`) and its named presets
(`learned_sigma_stack_presets.py`, registered on import)."""

from sdae_tf.zoo.learned_sigma_stack import learned_sigma_stack_presets  # noqa: F401  (registers them)
from sdae_tf.zoo.learned_sigma_stack.learned_sigma_stack import LearnedSigmaBlock, LearnedSigmaStack

__all__ = ['LearnedSigmaStack', 'LearnedSigmaBlock']
