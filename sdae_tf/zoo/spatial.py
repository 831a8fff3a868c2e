"""What the one-block convolutional autoencoders share (the 8-layer conv network, its VQ-VAE
and kernel-prediction twins, the deep residual one): a spatial code, training as one block end
to end through the same loop, the (denoising) autoencoder and its clean twin built alike."""

import keras

from sdae_tf.layers import corrupt, make_noise
from sdae_tf.zoo.family import COLOUR_NOISE, FIXED_NOISE, KERAS_RECON_LOSSES, Family


def check_halvings(image_shape, halvings, argument):
    """Refuses, in one line, an image whose height or width the encoder cannot halve
    `halvings` times exactly (`argument` names what sets them, e.g. "2**len(widths)").

    Args:
        image_shape: (H, W, C).
        halvings: how many times the encoder halves H and W.
        argument: the constructor argument behind `halvings`, for the message.

    Raises:
        ValueError: H or W not divisible by 2**halvings.
    """
    step = 2 ** halvings
    if image_shape[0] % step or image_shape[1] % step:
        raise ValueError(f"Input height and width must be divisible by {argument}={step}. "
                         f"Received: input_shape={tuple(image_shape)}")


class SpatialAutoencoder(Family):
    """A convolutional (denoising) autoencoder trained as one block, its code keeping the
    image's layout. A subclass builds `self.encoder` (images -> code) and `self.decoder`
    (code -> images) in its constructor and says what it is (`block_summary`, `describe`);
    the rest is here.

    Args:
        input_shape: (H, W, C).
        noise_type, noise_level: input corruption while training.
        loss: the reconstruction loss.
        seed: seeds the noise layer.
        name: prefix of the Keras models' names.

    Example:

    ```python
    family = sdae_tf.zoo.build("resdae_mnist", (28, 28, 1))
    assert isinstance(family, sdae_tf.zoo.spatial.SpatialAutoencoder)
    print(family.encoder.output_shape)  # (None, 7, 7, 16)
    ```
    """

    SPATIAL_CODE = True  # a (height, width, channels) code: segmentation heads read it
    RECON_LOSS_ARGS = KERAS_RECON_LOSSES
    NOISE_TYPES = FIXED_NOISE + COLOUR_NOISE  # grayscale: on colour images only
    END_TO_END = True  # one block: its pretraining is the end-to-end training
    # Measured (`benchmarks/api_defaults.py`, the CDAE and the residual DAE): the dense
    # stacks' Adam 5e-3 at batch 32 scored below Adam 1e-3 at batch 128 for conv encoders.
    PRETRAIN_DEFAULTS = {"epochs": 10, "batch_size": 128, "learning_rate": 1e-3}

    def __init__(self, input_shape, noise_type, noise_level, loss, seed, name):
        input_shape = tuple(int(d) for d in input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be (H, W, C). Received: {input_shape}")
        make_noise(noise_type, noise_level)  # validates early
        if noise_type in COLOUR_NOISE and input_shape[-1] != 3:
            raise ValueError(f"noise_type={noise_type!r} corrupts colour images; {name} is "
                             f"built for images of shape {input_shape}: train it on a colour "
                             "dataset (cifar10, cub200)")
        self.image_shape = input_shape
        self.noise_type, self.noise_level = noise_type, noise_level
        self.reconstruction_loss, self.seed, self.name = loss, seed, name

    def _reconstruct(self, images, code):
        """The decoder's images from `code` (the code of `images`, noisy while training)."""
        return self.decoder(code)

    @property
    def num_blocks(self):
        return 1

    @property
    def embedding_size(self):
        h, w, c = self.encoder.output_shape[1:]
        return h * w * c

    def features_before(self, k):
        return None

    def block_loss(self, k):
        return self.reconstruction_loss

    def pretrain_model(self, k):
        """The whole (denoising) autoencoder, images -> noise -> encoder -> decoder."""
        inputs = keras.Input(self.image_shape, name="images")
        h = corrupt(inputs, self.noise_type, self.noise_level, seed=self.seed, name="noise")
        outputs = self._reconstruct(h, self.encoder(h))
        return keras.Model(inputs, outputs, name=f"{self.name}_autoencoder")

    def end_to_end_model(self):
        return self.pretrain_model(0)

    def reconstruct(self, images):
        """Symbolic images -> their reconstruction (no noise)."""
        return self._reconstruct(images, self.encoder(images))

