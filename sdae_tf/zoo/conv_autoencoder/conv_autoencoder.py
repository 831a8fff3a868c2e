"""Convolutional (denoising) autoencoders: a short encoder-decoder without skip connections
(report section 6), upsampling + convolution instead of transposed convolution."""

import keras

from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.spatial import SpatialAutoencoder, check_halvings


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvAutoencoder(SpatialAutoencoder):
    """Four conv layers down, four up (8 in all); encoder and decoder stand alone.

    Encoder: `Conv(f0, stride 2) -> Conv(f1) -> Conv(f2, stride 2) -> Conv(code)` (the number
    of stride-2 steps set by `downsample`); decoder, its mirror: `Conv(f2) -> UpSampling ->
    Conv(f1) -> Conv(f0) -> UpSampling -> Conv(channels, sigmoid)`. The code keeps its
    spatial layout, `(H / 2^downsample, W / 2^downsample, code_channels)`: 7x7x16 = 784 on
    MNIST, the dense SDAE's scale.

    Trained end to end as one block (`num_blocks == 1`) through the same loop as the stacks.

    Args:
        input_shape: (H, W, C); H and W divisible by 2**downsample.
        filters: widths of the three inner conv layers of the encoder (mirrored in the decoder).
        code_channels: channels of the code.
        downsample: number of stride-2 steps (2 for 28x28 / 32x32, 4 for 128x128).
        noise_type, noise_level: input corruption while training (CAE: "none").
        loss: reconstruction loss (inputs in [0, 1]: binary cross-entropy).
        seed: seeds the noise layer.
        name: prefix of the Keras models' names.

    Example:

    ```python
    family = sdae_tf.zoo.build("cdae_mnist", (28, 28, 1))
    codes = family.encoder(images)  # (8, 7, 7, 16)
    ```
    """

    MIXED_PRECISION = True

    def __init__(self, input_shape, filters=(32, 32, 32), code_channels=16, downsample=2,
                 noise_type="gaussian", noise_level=0.4, loss="binary_crossentropy",
                 seed=None, name="conv_autoencoder", **kwargs):
        super().__init__(input_shape, noise_type, noise_level, loss, seed, name)
        input_shape = self.image_shape
        if not 1 <= downsample <= 4:
            raise ValueError(f"`downsample` must be in [1, 4]. Received: downsample={downsample}")
        check_halvings(input_shape, downsample, "2**downsample")
        if len(filters) != 3:
            raise ValueError(f"`filters` must hold 3 widths. Received: filters={filters!r}")
        self.filters = tuple(int(f) for f in filters)
        self.code_channels = int(code_channels)
        self.downsample = int(downsample)
        self.encoder = self._build_encoder()
        self.decoder = self._build_decoder()
        self._build_model(name, **kwargs)

    def _strides(self):
        # The stride-2 steps fall on encoder layers 1 and 3 first, then 2 and 4. Mirrored, the
        # decoder's last upsampling comes right before its last (3-channel or 1-channel) conv,
        # so no 32-channel conv runs at full resolution: half the cost of the other placement
        # (on MNIST about 6.5M instead of 14M multiply-adds per image).
        order = [0, 2, 1, 3][: self.downsample]
        return [2 if i in order else 1 for i in range(4)]

    def _build_encoder(self):
        inputs = keras.Input(self.image_shape, name="images")
        h = inputs
        widths = [*self.filters, self.code_channels]
        for i, (width, stride) in enumerate(zip(widths, self._strides(), strict=True)):
            h = keras.layers.Conv2D(width, 3, strides=stride, padding="same", activation="relu",
                                    name=f"encoder_conv_{i + 1}")(h)
        return keras.Model(inputs, h, name=f"{self.name}_encoder")

    def _build_decoder(self):
        # Mirror of the encoder: where it strides by 2, upsample by 2 before the conv.
        code = keras.Input(self.encoder.output_shape[1:], name="code")
        h = code
        last_width, last_activation = self._decoder_output()
        widths = [*reversed(self.filters), last_width]
        ups = list(reversed(self._strides()))
        for i, (width, up) in enumerate(zip(widths, ups, strict=True)):
            if up == 2:
                h = keras.layers.UpSampling2D(2, name=f"decoder_up_{i + 1}")(h)
            h = keras.layers.Conv2D(width, 3, padding="same",
                                    activation=last_activation if i == 3 else "relu",
                                    name=f"decoder_conv_{i + 1}")(h)
        return keras.Model(code, h, name=f"{self.name}_decoder")

    def _decoder_output(self):
        """(channels, activation) of the decoder's last conv: the image's, sigmoid."""
        return self.image_shape[-1], "sigmoid"

    def block_summary(self, k):
        return f"{self.image_shape} -> {self.encoder.output_shape[1:]}"

    def describe(self):
        return {
            "family": self.family_name(),
            "filters": list(self.filters),
            "code_shape": list(self.encoder.output_shape[1:]),
            "noise": {"type": self.noise_type, "level": self.noise_level},
            "loss": self.reconstruction_loss,
        }
