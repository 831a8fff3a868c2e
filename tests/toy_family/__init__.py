"""A family defined outside the package, as a user or a new maintainer adds one: its module (this
folder) and one registry line (`register`). `tests/test_toy_family.py` runs the shared family
test on it."""

import math

import keras

from sdae_tf import zoo
from sdae_tf.layers import corrupt
from sdae_tf.zoo.family import KERAS_RECON_LOSSES, Family


@keras.saving.register_keras_serializable(package="sdae_tf_tests")
class ToyAutoencoder(Family):
    """One dense ReLU block, Gaussian noise at the input, a sigmoid decoder: the smallest
    family the contract allows, trained end to end or as its one block.

    Args:
        input_shape: shape of one image.
        units: the code's width.
        noise_level: the Gaussian noise's stddev while training.
        seed: seeds the noise.
        name: the model's name.
    """

    END_TO_END = True
    RECON_LOSS_ARGS = KERAS_RECON_LOSSES
    NOISE_TYPES = ("gaussian",)

    def __init__(self, input_shape, units=32, noise_level=0.3, loss="binary_crossentropy",
                 seed=None, name="toy", **kwargs):
        self.image_shape = tuple(int(d) for d in input_shape)
        self.units, self.noise_level, self.seed, self.name = int(units), noise_level, seed, name
        self.reconstruction_loss = loss
        self.encode = keras.layers.Dense(self.units, activation="relu", name="encode")
        self.decode = keras.layers.Dense(math.prod(self.image_shape), activation="sigmoid",
                                         name="decode")
        images = keras.Input(self.image_shape, name="images")
        self.encoder = keras.Model(images, self.encode(keras.layers.Flatten()(images)),
                                   name=f"{name}_encoder")
        self._build_model(name, **kwargs)

    @property
    def num_blocks(self):
        return 1

    @property
    def embedding_size(self):
        return self.units

    def features_before(self, k):
        return None

    def block_loss(self, k):
        return self.reconstruction_loss

    def block_summary(self, k):
        return f"{self.image_shape} -> {self.units}"

    def build_decoder(self):
        code = keras.Input((self.units,), name="code")
        return keras.Model(code, keras.layers.Reshape(self.image_shape)(self.decode(code)),
                           name=f"{self.name}_decoder")

    def pretrain_model(self, k):
        images = keras.Input(self.image_shape, name="images")
        h = corrupt(images, "gaussian", self.noise_level, seed=self.seed, name="noise")
        return keras.Model(images, self.decoder(self.encode(keras.layers.Flatten()(h))),
                           name=f"{self.name}_denoising")

    def end_to_end_model(self):
        return self.pretrain_model(0)

    def describe(self):
        return {"family": "toy", "units": self.units,
                "noise": {"type": "gaussian", "level": self.noise_level},
                "loss": self.reconstruction_loss}


def register(registry=zoo.REGISTRY):
    """The one registry line a new family needs."""
    return registry.register(zoo.ZooEntry("toy_mnist", ToyAutoencoder, "mnist", {"units": 32},
                                          description="a one-block toy denoising autoencoder"))
