"""No encoder at all: the supervised head on the raw pixels (the report scripts' `--no_sae`
classifier, the other reading of Table 1's "no pretraining")."""

import math

import keras

from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.family import Family


@keras.saving.register_keras_serializable(package=PACKAGE)
class RawPixels(Family):
    """The identity "encoder": images flattened, nothing to pretrain.

    Fine-tuning attaches the usual head (Dense(1000, ReLU) -> classes), so the trained network
    is a one-hidden-layer ReLU MLP on the pixels, where `nopretrain_mnist` is the two sigmoid
    blocks of the stacks, randomly initialised, under that head.

    Args:
        input_shape: shape of one example.
        loss, seed: unused (nothing is reconstructed, nothing random before the head); accepted
            like every family's, so a recipe's `--recon_loss` applies to a whole table.
        name: prefix of the Keras models' names.

    Example:

    ```python
    family = sdae_tf.zoo.build("pixels_mnist", (28, 28, 1))
    print(family.embedding_size)  # 784: the head reads the pixels
    ```
    """

    RECON_LOSS_ARGS = {"bce": None, "mse": None}
    NOISE_TYPES = ("none",)
    FIGURES = frozenset({"tsne"})

    def __init__(self, input_shape, loss=None, seed=None, name="raw_pixels", **kwargs):
        self.image_shape = tuple(input_shape)
        self.reconstruction_loss, self.seed, self.name = loss, seed, name
        inputs = keras.Input(self.image_shape, name="images")
        self.encoder = keras.Model(inputs, keras.layers.Flatten(name="flatten")(inputs),
                                   name=f"{name}_encoder")
        self._build_model(name, **kwargs)

    @property
    def num_blocks(self):
        return 0

    @property
    def embedding_size(self):
        return math.prod(self.image_shape)

    def features_before(self, k):
        raise ValueError(f"{self.name} has no blocks to pretrain")

    def pretrain_model(self, k):
        raise ValueError(f"{self.name} has no blocks to pretrain")

    def block_loss(self, k):
        raise ValueError(f"{self.name} has no blocks to pretrain")

    def block_summary(self, k):
        raise ValueError(f"{self.name} has no blocks to pretrain")

    def build_decoder(self):
        """The flat pixels back to images."""
        code = keras.Input((self.embedding_size,), name="code")
        return keras.Model(code, keras.layers.Reshape(self.image_shape)(code),
                           name=f"{self.name}_decoder")

    def describe(self):
        return {"family": self.family_name(), "noise": {"type": "none", "level": 0.0}}
