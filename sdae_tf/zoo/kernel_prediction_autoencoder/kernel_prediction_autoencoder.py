"""The kernel-prediction denoising autoencoder (Bako et al. 2017): the convolutional
autoencoder's encoder and decoder, the decoder predicting a normalised k x k kernel per pixel
that is applied to the (noisy) input instead of the pixel itself (section 8: does a better
denoiser learn better representations?)."""

import keras

from sdae_tf.layers.kernels import ApplyPixelKernels, check_kernel_size
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.conv_autoencoder.conv_autoencoder import ConvAutoencoder


@keras.saving.register_keras_serializable(package=PACKAGE)
class KernelPredictionAutoencoder(ConvAutoencoder):
    """`ConvAutoencoder`'s network (same encoder, same decoder up to its last conv) whose
    decoder ends in `kernel_size**2` softmax channels: a kernel per pixel, applied to that
    pixel's neighbourhood in the input it was given (`ApplyPixelKernels`, edges reflected,
    output clipped to [0, 1]). While training the input is the noisy image, so the network
    learns where to average; its code (the exported features) is the conv code, as the CDAE's.

    `decoder` maps the code to the kernels, not to images (the image needs the input too):
    `autoencoder()` and `reconstruct(images)` give images.

    Args:
        kernel_size: k, odd, >= 3.
        loss: reconstruction loss; squared error by default (the output is a convex
            combination of noisy pixels, clipped).
        (the others: `ConvAutoencoder`'s.)

    Example:

    ```python
    family = sdae_tf.zoo.build("kpdae_mnist", (28, 28, 1))
    kernels = family.kernels(images)  # (8, 28, 28, 5, 5), each summing to 1
    ```
    """

    FIGURES = frozenset({"reconstructions", "tsne", "kernels"})
    MIXED_PRECISION = False

    def __init__(self, input_shape, kernel_size=5, filters=(32, 32, 32), code_channels=16,
                 downsample=2, noise_type="gaussian", noise_level=0.4,
                 loss="mean_squared_error", seed=None, name="kernel_prediction", **kwargs):
        self.kernel_size = check_kernel_size(kernel_size)
        self.apply_kernels = ApplyPixelKernels(self.kernel_size, name="apply_kernels")
        super().__init__(input_shape, filters=filters, code_channels=code_channels,
                         downsample=downsample, noise_type=noise_type, noise_level=noise_level,
                         loss=loss, seed=seed, name=name, **kwargs)

    def _decoder_output(self):
        return self.kernel_size**2, "softmax"

    def _reconstruct(self, images, code):
        return self.apply_kernels([images, self.decoder(code)])

    def kernels(self, images):
        """The predicted kernels of `images` (N, H, W, C) as a NumPy array (N, H, W, k, k)."""
        import numpy as np

        weights = self.decoder.predict(self.encoder.predict(images, verbose=0), verbose=0)
        return np.asarray(weights).reshape(*weights.shape[:3], self.kernel_size,
                                           self.kernel_size)

    def describe(self):
        return {**super().describe(), "family": self.family_name(),
                "kernel_size": self.kernel_size}
