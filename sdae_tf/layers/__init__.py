"""Custom Keras layers: input corruption (noise) and VAE sampling, all serializable."""

from sdae_tf.layers.learned_noise import LearnedGaussianNoise
from sdae_tf.layers.noise import (
    NOISE_TYPES,
    DropoutNoise,
    GaussianNoise,
    LocalVarianceGaussianNoise,
    NoiseLayer,
    SaltAndPepperNoise,
    ZeroMaskingNoise,
    corrupt,
    make_noise,
)
from sdae_tf.layers.sampling import Sampling

__all__ = [
    "NOISE_TYPES",
    "DropoutNoise",
    "GaussianNoise",
    "LocalVarianceGaussianNoise",
    "LearnedGaussianNoise",
    "NoiseLayer",
    "SaltAndPepperNoise",
    "Sampling",
    "ZeroMaskingNoise",
    "corrupt",
    "make_noise",
]
