"""A deep residual convolutional (denoising) autoencoder: section 8's "ultra-deep" arm beside the
report's 8-layer conv network, ResNet-style blocks at every resolution, no skip across the
bottleneck so the encoder and the decoder stand alone."""

import keras

from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.spatial import SpatialAutoencoder, check_halvings


def _residual(x, width, name):
    """x + conv(relu(conv(relu(x)))), the branch's last conv zero-initialised (the block starts
    as the identity, so the deep stack trains without normalisation layers)."""
    h = keras.layers.Activation("relu", name=f"{name}_relu1")(x)
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_conv1")(h)
    h = keras.layers.Conv2D(width, 3, padding="same", kernel_initializer="zeros",
                            name=f"{name}_conv2")(h)
    return keras.layers.Add(name=f"{name}_add")([x, h])


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResidualAutoencoder(SpatialAutoencoder):
    """Encoder: a 3x3 stem conv, then per stage `blocks_per_stage` residual blocks at its width
    and a stride-2 conv to the next width (`widths`: one stage per halving), then residual
    blocks and a 1x1 conv to the `code_channels`-channel spatial code. Decoder, its mirror:
    a conv from the code, per stage residual blocks then 2x upsampling + conv, a sigmoid conv to
    the image. On MNIST (widths 32, 64; 2 blocks per stage): 7x7x16 code, 2 x 16 conv layers.
    Trained end to end as one block, like the 8-layer conv autoencoder.

    Args:
        input_shape: (H, W, C); H and W divisible by 2 ** len(widths).
        widths: the width of each stage (one stride-2 step each).
        blocks_per_stage: residual blocks per stage (two 3x3 convs each).
        code_channels: channels of the spatial code.
        noise_type, noise_level: input corruption while training (ResAE: "none").
        loss: reconstruction loss (inputs in [0, 1]: binary cross-entropy).
        seed: seeds the noise layer.
        name: prefix of the Keras models' names.

    Example:

    ```python
    family = sdae_tf.zoo.build("resdae_mnist", (28, 28, 1))
    print(family.conv_layers())  # (16, 16)
    ```
    """

    def __init__(self, input_shape, widths=(32, 64), blocks_per_stage=2, code_channels=16,
                 noise_type="gaussian", noise_level=0.4, loss="binary_crossentropy",
                 seed=None, name="residual_autoencoder", **kwargs):
        super().__init__(input_shape, noise_type, noise_level, loss, seed, name)
        input_shape = self.image_shape
        widths = tuple(int(w) for w in widths)
        if not widths or int(blocks_per_stage) < 1:
            raise ValueError("`widths` needs at least one stage and `blocks_per_stage` at least "
                             f"one block. Received: widths={widths}, "
                             f"blocks_per_stage={blocks_per_stage}")
        check_halvings(input_shape, len(widths), "2**len(widths)")
        self.widths = widths
        self.blocks_per_stage, self.code_channels = int(blocks_per_stage), int(code_channels)
        self.encoder = self._build_encoder()
        self.decoder = self.build_decoder()
        self._build_model(name, **kwargs)

    def _build_encoder(self):
        images = keras.Input(self.image_shape, name="images")
        h = keras.layers.Conv2D(self.widths[0], 3, padding="same", name="stem")(images)
        for s, width in enumerate(self.widths):
            for b in range(self.blocks_per_stage):
                h = _residual(h, width, f"encoder_stage{s + 1}_block{b + 1}")
            nxt = self.widths[min(s + 1, len(self.widths) - 1)]
            h = keras.layers.Conv2D(nxt, 3, strides=2, padding="same", activation="relu",
                                    name=f"encoder_down{s + 1}")(h)
        for b in range(self.blocks_per_stage):
            h = _residual(h, self.widths[-1], f"encoder_bottom_block{b + 1}")
        code = keras.layers.Conv2D(self.code_channels, 1, activation="relu", name="code")(h)
        return keras.Model(images, code, name=f"{self.name}_encoder")

    def build_decoder(self):
        code = keras.Input(self.encoder.output_shape[1:], name="code")
        h = keras.layers.Conv2D(self.widths[-1], 3, padding="same", activation="relu",
                                name="decoder_in")(code)
        for b in range(self.blocks_per_stage):
            h = _residual(h, self.widths[-1], f"decoder_bottom_block{b + 1}")
        for s, width in reversed(list(enumerate(self.widths))):
            h = keras.layers.UpSampling2D(2, name=f"decoder_up{s + 1}")(h)
            h = keras.layers.Conv2D(width, 3, padding="same", activation="relu",
                                    name=f"decoder_conv{s + 1}")(h)
            for b in range(self.blocks_per_stage):
                h = _residual(h, width, f"decoder_stage{s + 1}_block{b + 1}")
        out = keras.layers.Conv2D(self.image_shape[-1], 3, padding="same", activation="sigmoid",
                                  name="decoder_out")(h)
        return keras.Model(code, out, name=f"{self.name}_decoder")

    def conv_layers(self):
        """How many conv layers the encoder and the decoder hold (the depth)."""
        count = lambda m: sum(isinstance(ly, keras.layers.Conv2D) for ly in m.layers)  # noqa: E731
        return count(self.encoder), count(self.decoder)

    def block_summary(self, k):
        enc, dec = self.conv_layers()
        return (f"{self.image_shape} -> {self.encoder.output_shape[1:]} ({enc} + {dec} conv "
                "layers, residual)")

    def describe(self):
        enc, dec = self.conv_layers()
        return {"family": self.family_name(), "widths": list(self.widths),
                "blocks_per_stage": self.blocks_per_stage,
                "code_shape": list(self.encoder.output_shape[1:]),
                "conv_layers": {"encoder": enc, "decoder": dec},
                "noise": {"type": self.noise_type, "level": self.noise_level},
                "loss": self.reconstruction_loss}
