"""The zoo's named kernel-prediction denoisers: name -> class, default arguments, dataset,
description."""

from sdae_tf.zoo.kernel_prediction_autoencoder.kernel_prediction_autoencoder import (
    KernelPredictionAutoencoder,
)
from sdae_tf.zoo.registry import GAUSSIAN, REGISTRY, ZooEntry

REGISTRY.register(ZooEntry(
    "kpdae_mnist", KernelPredictionAutoencoder, "mnist", {"downsample": 2, **GAUSSIAN},
    description="kernel-prediction denoising autoencoder (Bako et al. 2017): the CDAE's "
                "network, its decoder predicting a softmax 5x5 kernel per pixel applied to the "
                "noisy input, Gaussian 0.4, squared error (section 8)"))
