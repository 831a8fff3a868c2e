"""The zoo's named stacked convolutional autoencoders: name -> class, default arguments, dataset,
description."""

from sdae_tf.zoo.conv_stack.conv_stack import ConvStack
from sdae_tf.zoo.registry import CLEAN, GAUSSIAN, REGISTRY, ZooEntry

for _prefix, _noise, _what in [("scae", CLEAN, "autoencoder"),
                               ("scdae", GAUSSIAN, "denoising autoencoder, Gaussian 0.4")]:
    REGISTRY.register(ZooEntry(
        f"{_prefix}_mnist", ConvStack, "mnist", dict(_noise),
        description=f"stacked convolutional {_what}: two conv blocks pretrained layer-wise, "
                    "28x28 -> 14x14x16 -> 7x7x16 code; the network of the report's own Table 4 "
                    "scripts"))
