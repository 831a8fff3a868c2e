"""The KernelPredictionAutoencoder family: its model (`kernel_prediction_autoencoder.py`) and its
named presets (`kernel_prediction_autoencoder_presets.py`, registered on import)."""

from sdae_tf.zoo.kernel_prediction_autoencoder import kernel_prediction_autoencoder_presets  # noqa: F401  (registers them)
from sdae_tf.zoo.kernel_prediction_autoencoder.kernel_prediction_autoencoder import (
    KernelPredictionAutoencoder,
)

__all__ = ['KernelPredictionAutoencoder']
