"""The MaskedAutoencoder family: its model (`masked_autoencoder.py`) and its named presets
(`masked_autoencoder_presets.py`, registered on import)."""

from sdae_tf.zoo.masked_autoencoder import masked_autoencoder_presets  # noqa: F401  (registers them)
from sdae_tf.zoo.masked_autoencoder.masked_autoencoder import MaskedAutoencoder

__all__ = ['MaskedAutoencoder']
