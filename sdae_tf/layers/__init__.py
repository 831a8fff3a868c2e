"""Custom Keras layers: input corruption (noise), VAE sampling, the masked autoencoder's
patch layers and the VQ-VAE's quantiser, all serializable."""

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
from sdae_tf.layers.patches import (
    AddPositionEmbedding,
    InsertMaskTokens,
    MaskedBlend,
    Patchify,
    RandomPixelMask,
    RandomTokenMasking,
    Unpatchify,
)
from sdae_tf.layers.quantizer import AddLoss, CodebookUsage, VectorQuantizer
from sdae_tf.layers.sampling import Sampling

__all__ = [
    "NOISE_TYPES",
    "AddLoss",
    "CodebookUsage",
    "VectorQuantizer",
    "AddPositionEmbedding",
    "InsertMaskTokens",
    "MaskedBlend",
    "Patchify",
    "RandomPixelMask",
    "RandomTokenMasking",
    "Unpatchify",
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
