"""The zoo's named residual autoencoders: name -> class, default arguments, dataset, description."""

from sdae_tf.zoo.registry import CLEAN, GAUSSIAN, REGISTRY, ZooEntry
from sdae_tf.zoo.residual_autoencoder.residual_autoencoder import ResidualAutoencoder

for _prefix, _noise, _what in [("resae", CLEAN, "autoencoder"),
                               ("resdae", GAUSSIAN, "denoising autoencoder, Gaussian 0.4")]:
    REGISTRY.register(ZooEntry(
        f"{_prefix}_mnist", ResidualAutoencoder, "mnist", dict(_noise),
        description=f"deep residual convolutional {_what}: 2 residual blocks per resolution "
                    "(widths 32, 64), 16 + 16 conv layers, 7x7x16 code, no skip across the "
                    "bottleneck (section 8)"))
    REGISTRY.register(ZooEntry(
        f"{_prefix}_photos64", ResidualAutoencoder, "photos64",
        {"widths": (16, 32, 64), **_noise},
        description=f"deep residual convolutional {_what} for 64x64 colour photo crops: widths "
                    "16, 32, 64, 2 residual blocks per resolution, 21 + 21 conv layers, 8x8x16 "
                    "code (section 8)"))
