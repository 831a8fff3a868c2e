"""The ResidualAutoencoder family: its model (`residual_autoencoder.py`) and its named presets
(`residual_autoencoder_presets.py`, registered on import)."""

from sdae_tf.zoo.residual_autoencoder import residual_autoencoder_presets  # noqa: F401  (registers them)
from sdae_tf.zoo.residual_autoencoder.residual_autoencoder import ResidualAutoencoder

__all__ = ['ResidualAutoencoder']
