"""Stacked convolutional (denoising) autoencoders pretrained greedily block by block: the
network the report's own Table 4 scripts trained (two conv blocks on MNIST, each halving the
resolution behind a sigmoid), as opposed to `ConvAutoencoder`'s single 8-layer block."""

import math

import keras

from sdae_tf.layers import corrupt, make_noise
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.family import KERAS_RECON_LOSSES, Family
from sdae_tf.zoo.spatial import check_halvings


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvStack(Family):
    """Conv blocks trained one after another, each a (denoising) autoencoder of the clean
    output of the blocks before it, as the dense stacks are.

    Encoder block k: `Conv(mid_k, kernel_k, ReLU) -> Conv(out_k, kernel_k) -> MaxPool(2) ->
    sigmoid` (the code of every block is bounded in (0, 1), so a block never reconstructs
    from dead units); decoder block k, its inverse: `ConvTranspose(mid_k, 2, stride 2, ReLU)
    -> Conv(channels of block k's input, kernel_k, sigmoid)`. All convolutions keep the size
    ("same" padding). On MNIST with the default blocks ((8, 16, 7), (16, 16, 5)): 28x28x1 ->
    14x14x16 -> 7x7x16, a 784-value code.

    Args:
        input_shape: (H, W, C); H and W divisible by 2**len(blocks).
        blocks: one (mid_filters, out_filters, kernel_size) per block.
        noise_type, noise_level: corruption of each block's input while it is pretrained
            (CAE: "none").
        loss: reconstruction loss of each block (targets in [0, 1]).
        seed: seeds the noise layers (block k uses seed + k).
        name: prefix of the Keras models' names.

    Example:

    ```python
    family = sdae_tf.zoo.build("scdae_mnist", (28, 28, 1))
    print(family.num_blocks)  # 2: pretrained block by block
    ```
    """

    SPATIAL_CODE = True  # a (height, width, channels) code: segmentation heads read it

    RECON_LOSS_ARGS = KERAS_RECON_LOSSES

    def __init__(self, input_shape, blocks=((8, 16, 7), (16, 16, 5)), noise_type="gaussian",
                 noise_level=0.4, loss="binary_crossentropy", seed=None, name="conv_stack",
                 **kwargs):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be (H, W, C). Received: {input_shape}")
        blocks = tuple(tuple(b) for b in blocks)
        if not blocks or any(len(b) != 3 or min(int(v) for v in b) < 1 for b in blocks):
            raise ValueError("`blocks` must be a non-empty list of (mid_filters, out_filters, "
                             f"kernel_size), all positive. Received: blocks={blocks!r}")
        check_halvings(input_shape, len(blocks), "2**len(blocks)")
        make_noise(noise_type, noise_level)  # validates early
        self.image_shape = input_shape
        self.blocks = tuple(tuple(int(v) for v in b) for b in blocks)
        self.noise_type, self.noise_level = noise_type, noise_level
        self.reconstruction_loss, self.seed, self.name = loss, seed, name
        self.encoder_blocks = [self._encoder_block(k) for k in range(self.num_blocks)]
        self.decoder_blocks = [self._decoder_block(k) for k in range(self.num_blocks)]
        inputs = keras.Input(self.image_shape, name="images")
        h = inputs
        for block in self.encoder_blocks:
            h = block(h)
        self.encoder = keras.Model(inputs, h, name=f"{name}_encoder")
        self._build_model(name, **kwargs)

    def block_input_shape(self, k):
        if k == 0:
            return self.image_shape
        h, w, _ = self.image_shape
        return (h // 2**k, w // 2**k, self.blocks[k - 1][1])

    def _encoder_block(self, k):
        mid, out, kernel = self.blocks[k]
        return keras.Sequential([
            keras.Input(self.block_input_shape(k)),
            keras.layers.Conv2D(mid, kernel, padding="same", activation="relu",
                                name=f"encoder_{k + 1}_conv_1"),
            keras.layers.Conv2D(out, kernel, padding="same", name=f"encoder_{k + 1}_conv_2"),
            keras.layers.MaxPooling2D(2, name=f"encoder_{k + 1}_pool"),
            keras.layers.Activation("sigmoid", name=f"encoder_{k + 1}_sigmoid"),
        ], name=f"encoder_{k + 1}")

    def _decoder_block(self, k):
        mid, _, kernel = self.blocks[k]
        return keras.Sequential([
            keras.Input(self.block_input_shape(k + 1)),
            keras.layers.Conv2DTranspose(mid, 2, strides=2, activation="relu",
                                         name=f"decoder_{k + 1}_up"),
            keras.layers.Conv2D(self.block_input_shape(k)[-1], kernel, padding="same",
                                activation="sigmoid", name=f"decoder_{k + 1}_conv"),
        ], name=f"decoder_{k + 1}")

    @property
    def num_blocks(self):
        return len(self.blocks)

    @property
    def embedding_size(self):
        return math.prod(self.block_input_shape(self.num_blocks))

    def features_before(self, k):
        """A model from images to the clean code that block k reconstructs (None for k = 0)."""
        if k == 0:
            return None
        inputs = keras.Input(self.image_shape, name="images")
        h = inputs
        for block in self.encoder_blocks[:k]:
            h = block(h)
        return keras.Model(inputs, h, name=f"{self.name}_features_{k}")

    def block_loss(self, k):
        return self.reconstruction_loss

    def block_summary(self, k):
        return f"{self.block_input_shape(k)} -> {self.block_input_shape(k + 1)}"

    def pretrain_model(self, k):
        """Block k's (denoising) autoencoder; shares its layers with `encoder`."""
        inputs = keras.Input(self.block_input_shape(k), name=f"block_{k + 1}_inputs")
        seed = None if self.seed is None else self.seed + k
        h = corrupt(inputs, self.noise_type, self.noise_level, seed=seed, name=f"noise_{k + 1}")
        outputs = self.decoder_blocks[k](self.encoder_blocks[k](h))
        return keras.Model(inputs, outputs, name=f"{self.name}_block_{k + 1}")

    def build_decoder(self):
        """The top code -> images, through every block's decoder (no noise)."""
        code = keras.Input(self.block_input_shape(self.num_blocks), name="code")
        h = code
        for block in reversed(self.decoder_blocks):
            h = block(h)
        return keras.Model(code, h, name=f"{self.name}_decoder")

    def describe(self):
        return {
            "family": self.family_name(),
            "blocks": [list(b) for b in self.blocks],
            "code_shape": list(self.block_input_shape(self.num_blocks)),
            "noise": {"type": self.noise_type, "level": self.noise_level},
            "loss": self.reconstruction_loss,
        }
