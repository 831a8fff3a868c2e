"""VQ-VAE (van den Oord et al. 2017) and its denoising twin: the convolutional autoencoder's
encoder and decoder with a vector quantiser between them (section 8: is there a place for a
denoising criterion in VQ-VAE?)."""

import keras

from sdae_tf.layers import corrupt
from sdae_tf.layers.quantizer import AddLoss, CodebookUsage, VectorQuantizer, check_num_codes
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.conv_autoencoder.conv_autoencoder import ConvAutoencoder


@keras.saving.register_keras_serializable(package=PACKAGE)
class VQVAE(ConvAutoencoder):
    """The conv autoencoder (`ConvAutoencoder`: 8 conv layers, 7x7 spatial code on MNIST) whose
    code vectors are quantised to the nearest of `num_codes` codebook entries before the
    decoder; the gradient passes straight through, the codebook and commitment losses join the
    reconstruction loss. The denoising variant (`dvqvae_mnist`) trains on Gaussian-noised
    inputs with clean targets. The exported features are the quantised code. Codebook use
    (perplexity, share of dead codes) is logged per pretraining epoch.

    Args:
        num_codes: codebook size (>= 2).
        commitment: weight of the commitment loss (beta).
        ema: exponential-moving-average codebook updates (VQ-VAE-2's choice, the default)
            instead of the codebook loss; the average also follows the encoder while the
            classifier fine-tunes it (with a learned codebook, which fine-tuning does not
            move, 2048 digits fine-tune to 0.14 here against 0.81, 3 + 5 epochs).
        (the others: `ConvAutoencoder`'s; the code's channels are the codebook's dimension.)

    Example:

    ```python
    family = sdae_tf.zoo.build("vqvae_mnist", (28, 28, 1))
    print(family.describe()["num_codes"])  # 128
    ```
    """

    FIGURES = frozenset({"reconstructions", "tsne"})

    def __init__(self, input_shape, filters=(32, 32, 32), code_channels=16, downsample=2,
                 noise_type="none", noise_level=0.0, loss="binary_crossentropy",
                 num_codes=128, commitment=0.25, ema=True, seed=None, name="vqvae", **kwargs):
        check_num_codes(num_codes)
        self.num_codes, self.commitment, self.ema = int(num_codes), float(commitment), bool(ema)
        self.quantizer = VectorQuantizer(self.num_codes, self.commitment, ema=self.ema,
                                         seed=seed, name="quantizer")
        super().__init__(input_shape, filters=filters, code_channels=code_channels,
                         downsample=downsample, noise_type=noise_type, noise_level=noise_level,
                         loss=loss, seed=seed, name=name, **kwargs)

    def _build_encoder(self):
        self.continuous_encoder = super()._build_encoder()  # images -> z_e
        images = keras.Input(self.image_shape, name="images")
        quantised, _, _ = self.quantizer(self.continuous_encoder(images))
        return keras.Model(images, quantised, name=f"{self.name}_encoder")

    def pretrain_model(self, k):
        """images -> noise -> encoder -> quantiser (its loss added) -> decoder."""
        inputs = keras.Input(self.image_shape, name="images")
        h = corrupt(inputs, self.noise_type, self.noise_level, seed=self.seed, name="noise")
        quantised, loss, _ = self.quantizer(self.continuous_encoder(h))
        outputs = self.decoder(AddLoss(name="vq_loss")([quantised, loss]))
        return keras.Model(inputs, outputs, name=f"{self.name}_autoencoder")

    def block_callbacks(self, k):
        return [CodebookUsage(self.quantizer)]

    def describe(self):
        return {**super().describe(), "family": self.family_name(), "num_codes": self.num_codes,
                "commitment": self.commitment, "ema": self.ema}
