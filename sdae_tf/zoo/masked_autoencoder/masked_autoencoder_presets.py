"""The zoo's named masked autoencoders: name -> class, default arguments, dataset, description."""

from sdae_tf.zoo.masked_autoencoder.masked_autoencoder import MaskedAutoencoder
from sdae_tf.zoo.registry import REGISTRY, ZooEntry

REGISTRY.register(ZooEntry(
    "mae_mnist", MaskedAutoencoder, "mnist", {},
    description="masked autoencoder (He et al. 2021): 4x4 patches (49 tokens), ViT encoder of 4 "
                "blocks at width 128 on the visible quarter, 2-block decoder, loss on the "
                "hidden patches; features: the mean token (section 8)"))
