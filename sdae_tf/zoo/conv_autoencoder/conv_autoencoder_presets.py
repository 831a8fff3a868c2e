"""The zoo's named convolutional autoencoders: name -> class, default arguments, dataset,
description."""

from sdae_tf.zoo.conv_autoencoder.conv_autoencoder import ConvAutoencoder
from sdae_tf.zoo.registry import CLEAN, GAUSSIAN, REGISTRY, ZooEntry

for _data, _shape_note, _down in [("mnist", "16x7x7 code", 2), ("cifar10", "16x8x8 code", 2),
                                  ("cub200", "16x8x8 code", 4)]:
    REGISTRY.register(ZooEntry(
        f"cae_{_data}", ConvAutoencoder, _data, {"downsample": _down, **CLEAN},
        description=f"convolutional autoencoder, 8 conv layers, {_shape_note} (Tables 4-5)"))
    REGISTRY.register(ZooEntry(
        f"cdae_{_data}", ConvAutoencoder, _data, {"downsample": _down, **GAUSSIAN},
        description=f"convolutional denoising autoencoder, Gaussian 0.4, {_shape_note} "
                    "(Tables 4-5)"))

for _prefix, _noise in [("cae", CLEAN), ("cdae", GAUSSIAN)]:
    REGISTRY.register(ZooEntry(
        f"{_prefix}_photos64", ConvAutoencoder, "photos64", {"downsample": 3, **_noise},
        description="the report's 8-layer convolutional "
                    f"{'denoising ' if _noise is GAUSSIAN else ''}autoencoder for 64x64 colour "
                    "photo crops, 8x8x16 code (section 8's resolution question)"))
