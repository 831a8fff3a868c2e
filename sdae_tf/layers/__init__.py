"""Custom Keras layers: input corruption (noise), VAE sampling, the masked autoencoder's
patch layers, the VQ-VAE's quantiser, kernel-prediction denoising and DEC's clustering layer,
all serializable."""

from sdae_tf.layers.clustering import ClusteringLayer
from sdae_tf.layers.kernels import ApplyPixelKernels, check_kernel_size
from sdae_tf.layers.learned_noise import LearnedGaussianNoise
from sdae_tf.layers.noise import (
    NOISE_TYPES,
    DropoutNoise,
    GaussianNoise,
    GrayscaleNoise,
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
    "ApplyPixelKernels",
    "check_kernel_size",
    "ClusteringLayer",
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
    "GrayscaleNoise",
    "LocalVarianceGaussianNoise",
    "LearnedGaussianNoise",
    "NoiseLayer",
    "SaltAndPepperNoise",
    "Sampling",
    "ZeroMaskingNoise",
    "corrupt",
    "make_noise",
]
