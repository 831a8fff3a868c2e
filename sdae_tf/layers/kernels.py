"""Kernel-prediction denoising (Bako et al. 2017): a network predicts, for every pixel, a
normalised k x k kernel, and the output pixel is that kernel applied to the (noisy) input's
neighbourhood of the pixel, so the network chooses how to average what it sees rather than
painting the pixel itself."""

import keras
from keras import ops

from sdae_tf.package import NAME as PACKAGE


def check_kernel_size(kernel_size):
    """Refuses a kernel size that is not an odd integer >= 3 (one line).

    Args:
        kernel_size: the side of a square per-pixel kernel.

    Returns:
        `kernel_size`, when it is valid.

    Raises:
        ValueError: an even size, a size below 3, or not an integer.

    Example:

    ```python
    sdae_tf.layers.check_kernel_size(5)  # 5
    ```
    """
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) \
            or kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError("`kernel_size` must be an odd integer >= 3 (the kernel is centred on "
                         f"its pixel). Received: kernel_size={kernel_size!r}")
    return kernel_size


@keras.saving.register_keras_serializable(package=PACKAGE)
class ApplyPixelKernels(keras.layers.Layer):
    """[images (batch, H, W, C), kernels (batch, H, W, k * k)] -> (batch, H, W, C): each output
    pixel the weighted sum of its k x k neighbourhood in `images` (edges reflected), the
    weights its own kernel (row-major; the same kernel for every channel), clipped to
    `value_range`.

    The kernels are expected normalised (a softmax over the last axis, as the kernel-prediction
    decoder's last layer gives): the output is then a convex combination of input pixels.

    Args:
        kernel_size: k, odd, >= 3.
        value_range: (low, high) the output is clipped to, or None.

    Example:

    ```python
    images = keras.random.uniform((2, 28, 28, 1))
    kernels = keras.ops.softmax(keras.random.normal((2, 28, 28, 9)), axis=-1)
    out = sdae_tf.layers.ApplyPixelKernels(3)([images, kernels])  # (2, 28, 28, 1)
    ```
    """

    def __init__(self, kernel_size, value_range=(0.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = check_kernel_size(kernel_size)
        self.value_range = None if value_range is None else tuple(float(v) for v in value_range)

    def build(self, input_shape):
        images, kernels = input_shape
        if kernels[-1] is not None and kernels[-1] != self.kernel_size**2:
            raise ValueError(f"The kernels must have kernel_size**2 = {self.kernel_size**2} "
                             f"channels. Received: {kernels[-1]}")

    def neighbourhoods(self, images):
        """(batch, H, W, C) -> (batch, H, W, C, k * k): every pixel's k x k neighbourhood."""
        k, r = self.kernel_size, self.kernel_size // 2
        padded = ops.pad(images, [[0, 0], [r, r], [r, r], [0, 0]], mode="reflect")
        h, w = ops.shape(images)[1], ops.shape(images)[2]
        shifted = [padded[:, dy:dy + h, dx:dx + w, :] for dy in range(k) for dx in range(k)]
        return ops.stack(shifted, axis=-1)

    def call(self, inputs):
        images, kernels = inputs
        kernels = ops.cast(kernels, images.dtype)
        out = ops.sum(self.neighbourhoods(images) * kernels[:, :, :, None, :], axis=-1)
        if self.value_range is not None:
            out = ops.clip(out, *self.value_range)
        return out

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "value_range": None if self.value_range is None else list(self.value_range)}
