"""The ConvAutoencoder family: its model (`conv_autoencoder.py`) and its named presets
(`conv_autoencoder_presets.py`, registered on import)."""

from sdae_tf.zoo.conv_autoencoder import conv_autoencoder_presets  # noqa: F401  (registers them)
from sdae_tf.zoo.conv_autoencoder.conv_autoencoder import ConvAutoencoder

__all__ = ['ConvAutoencoder']
