"""The VQVAE family: its model (`vqvae.py`) and its named presets (`vqvae_presets.py`, registered
on import)."""

from sdae_tf.zoo.vqvae import vqvae_presets  # noqa: F401  (registers them)
from sdae_tf.zoo.vqvae.vqvae import VQVAE

__all__ = ['VQVAE']
