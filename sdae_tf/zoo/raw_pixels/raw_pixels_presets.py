"""The zoo's named raw-pixel baseline: name -> class, default arguments, dataset, description."""

from sdae_tf.zoo.raw_pixels.raw_pixels import RawPixels
from sdae_tf.zoo.registry import REGISTRY, ZooEntry

REGISTRY.register(ZooEntry(
    "pixels_mnist", RawPixels, "mnist", {}, layerwise_pretraining=False,
    description="no encoder: the fine-tuning head alone on the raw pixels, a 784-1000-10 "
                "ReLU MLP (the report scripts' other no-pretraining baseline)"))
