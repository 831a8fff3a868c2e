"""The zoo's named VQ-VAEs: name -> class, default arguments, dataset, description."""

from sdae_tf.zoo.registry import CLEAN, GAUSSIAN, REGISTRY, ZooEntry
from sdae_tf.zoo.vqvae.vqvae import VQVAE

for _prefix, _noise, _what in [("vqvae", CLEAN, "VQ-VAE"),
                               ("dvqvae", GAUSSIAN,
                                "denoising VQ-VAE (Gaussian 0.4, clean target)")]:
    REGISTRY.register(ZooEntry(
        f"{_prefix}_mnist", VQVAE, "mnist", dict(_noise),
        description=f"{_what}: the 8-layer conv autoencoder's 7x7x16 code quantised to a "
                    "128-entry codebook, straight-through gradient, commitment 0.25 (section 8)"))
