"""Layers of the masked autoencoder (He et al. 2021): images to patch tokens and back, fixed
sine-cosine position embeddings, random masking of tokens (the visible ones kept, in a fresh
random order per example) and the mask tokens that stand in for the hidden ones. All
serializable (`get_config`), seedable (`keras.random.SeedGenerator`)."""

import keras
import numpy as np
from keras import ops

from sdae_tf.layers import draws
from sdae_tf.package import NAME as PACKAGE


def check_patch_size(image_shape, patch_size):
    """Refuses a patch size that does not divide the image's height and width (one line).

    Args:
        image_shape: (H, W, ...) of the images.
        patch_size: the patches' side.

    Raises:
        ValueError: a patch size below 1 or that does not divide H and W.
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    if isinstance(patch_size, bool) or int(patch_size) < 1 or h % patch_size or w % patch_size:
        raise ValueError(f"`patch_size` must divide the image's height and width ({h}x{w}). "
                         f"Received: patch_size={patch_size}")


def check_mask_ratio(mask_ratio):
    """Refuses a mask ratio outside (0, 1) (one line).

    Args:
        mask_ratio: the share hidden.

    Raises:
        ValueError: a ratio outside (0, 1).
    """
    if not 0.0 < float(mask_ratio) < 1.0:
        raise ValueError(f"`mask_ratio` must be in (0, 1) (the share of patches hidden). "
                         f"Received: mask_ratio={mask_ratio}")


def check_hidden(hidden, tokens):
    """Refuses a patch mask the masked autoencoder's `inpaint` cannot take: not (batch,
    tokens) of 0s and 1s, or hiding a different number of patches in some example.

    Args:
        hidden: a numpy array, 1 where a patch is hidden.
        tokens: the number of patches of an image.

    Raises:
        ValueError: naming the problem.

    Example:

    ```python
    hidden = np.zeros((2, 49), "float32")
    hidden[:, :37] = 1.0
    sdae_tf.layers.patches.check_hidden(hidden, 49)  # passes
    ```
    """

    if hidden.ndim != 2 or hidden.shape[1] != tokens:
        raise ValueError(f"`hidden` must be (batch, {tokens}): one 0/1 flag per patch. "
                         f"Received shape {hidden.shape}")
    if not np.all((hidden == 0) | (hidden == 1)):
        raise ValueError("`hidden` must hold 0 (visible) or 1 (hidden) only")
    counts = hidden.sum(axis=1)
    if not np.all(counts == counts[0]):
        raise ValueError("`hidden` must hide the same number of patches in every example")


@keras.saving.register_keras_serializable(package=PACKAGE)
class Patchify(keras.layers.Layer):
    """(batch, H, W, C) images -> (batch, H/p * W/p, p * p * C) tokens, row-major patches.

    Args:
        patch_size: the side `p` of the square patches; it must divide H and W.

    Example:

    ```python
    tokens = sdae_tf.layers.Patchify(4)(images)  # (batch, 28, 28, 1) -> (batch, 49, 16)
    ```
    """

    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = int(patch_size)

    def build(self, input_shape):
        check_patch_size(input_shape[1:3], self.patch_size)

    def call(self, images):
        p = self.patch_size
        h, w, c = images.shape[1:]
        x = ops.reshape(images, (-1, h // p, p, w // p, p, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, (h // p) * (w // p), p * p * c))

    def compute_output_shape(self, input_shape):
        p = self.patch_size
        h, w, c = input_shape[1:]
        return (input_shape[0], (h // p) * (w // p), p * p * c)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Unpatchify(keras.layers.Layer):
    """The inverse of `Patchify`: (batch, T, p * p * C) tokens -> (batch, H, W, C) images.

    Args:
        patch_size: the side `p` of the patches.
        image_shape: (H, W, C) of the images.

    Example:

    ```python
    tokens = sdae_tf.layers.Patchify(4)(images)
    again = sdae_tf.layers.Unpatchify(4, (28, 28, 1))(tokens)  # == images
    ```
    """

    def __init__(self, patch_size, image_shape, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = int(patch_size)
        self.image_shape = tuple(int(d) for d in image_shape)

    def call(self, tokens):
        p = self.patch_size
        h, w, c = self.image_shape
        x = ops.reshape(tokens, (-1, h // p, w // p, p, p, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, h, w, c))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_shape)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size,
                "image_shape": list(self.image_shape)}


def sincos_2d(grid_h, grid_w, width):
    """MAE's fixed 2-D sine-cosine position embedding, (grid_h * grid_w, width), float32:
    half the channels encode the row, half the column.

    Args:
        grid_h, grid_w: the token grid.
        width: the tokens' width, a multiple of 4.

    Returns:
        A float32 numpy array (grid_h * grid_w, width).

    Raises:
        ValueError: a width that is not a multiple of 4.
    """
    if width % 4:
        raise ValueError(f"The token width must be a multiple of 4 for sine-cosine position "
                         f"embeddings. Received: width={width}")
    def axis(positions, dim):
        omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
        angles = np.outer(positions.reshape(-1), omega)
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    rows, cols = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")
    return np.concatenate([axis(rows, width // 2), axis(cols, width // 2)],
                          axis=1).astype("float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class AddPositionEmbedding(keras.layers.Layer):
    """Adds a fixed sine-cosine position embedding (a non-trainable weight) to (batch, T, D)
    tokens laid out on a `grid` (rows, cols).

    Args:
        grid: (rows, cols) of the tokens, rows * cols = T; D must be a multiple of 4.

    Example:

    ```python
    tokens = keras.layers.Dense(32)(sdae_tf.layers.Patchify(4)(images))
    placed = sdae_tf.layers.AddPositionEmbedding((7, 7))(tokens)  # (batch, 49, 32)
    ```
    """

    def __init__(self, grid, **kwargs):
        super().__init__(**kwargs)
        self.grid = tuple(int(g) for g in grid)

    def build(self, input_shape):
        tokens, width = input_shape[1], input_shape[2]
        if tokens != self.grid[0] * self.grid[1]:
            raise ValueError(f"{self.name}: {tokens} tokens do not fill a {self.grid} grid")
        table = sincos_2d(*self.grid, width)
        self.embedding = self.add_weight(
            shape=table.shape, initializer=keras.initializers.Constant(table), trainable=False,
            name="embedding")

    def call(self, tokens):
        return tokens + ops.cast(self.embedding[None], tokens.dtype)

    def get_config(self):
        return {**super().get_config(), "grid": list(self.grid)}


class RandomMasking(keras.layers.Layer):
    """What the random masking layers share: `mask_ratio` in (0, 1) checked, a seeded
    `keras.random.SeedGenerator` (a fresh mask per call), both in the config.

    Args:
        mask_ratio: the share hidden, in (0, 1).
        seed: seeds the masks.
    """

    def __init__(self, mask_ratio=0.75, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_mask_ratio(mask_ratio)
        self.mask_ratio = float(mask_ratio)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def get_config(self):
        return {**super().get_config(), "mask_ratio": self.mask_ratio, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class RandomTokenMasking(RandomMasking):
    """Keeps a random `1 - mask_ratio` share of the tokens of each example (a fresh random
    subset per example and call, seedable): (batch, T, D) -> [visible (batch, K, D),
    restore (batch, T) int32, mask (batch, T) float32, 1 where hidden]. `restore` orders the
    visible tokens followed by the hidden ones back into the original order.

    Args:
        mask_ratio: the share of tokens hidden, in (0, 1).
        seed: seeds the masks.

    Example:

    ```python
    tokens = sdae_tf.layers.Patchify(4)(images)
    visible, restore, mask = sdae_tf.layers.RandomTokenMasking(0.75, seed=0)(tokens)
    # visible (batch, 12, 16): the encoder's input; mask.sum(axis=1) == 37 per example
    ```
    """


    def kept(self, tokens):
        """How many tokens of `tokens` stay visible (at least one)."""
        return max(1, int(round(tokens * (1.0 - self.mask_ratio))))

    def call(self, tokens):
        t = tokens.shape[1]
        keep = self.kept(t)
        noise = draws.uniform(ops.shape(tokens)[:2], seed=self.seed_generator)
        shuffle = ops.argsort(noise, axis=1)
        restore = ops.argsort(shuffle, axis=1)
        visible = ops.take_along_axis(tokens, shuffle[:, :keep, None], axis=1)
        order = ops.cast(ops.arange(t)[None, :] >= keep, "float32")  # hidden after shuffling
        mask = ops.take_along_axis(order * ops.ones_like(noise), restore, axis=1)
        return [visible, ops.cast(restore, "int32"), mask]

    def compute_output_shape(self, input_shape):
        b, t, d = input_shape
        return [(b, self.kept(t), d), (b, t), (b, t)]



@keras.saving.register_keras_serializable(package=PACKAGE)
class InsertMaskTokens(keras.layers.Layer):
    """MAE's decoder input: the visible tokens followed by a learned mask token for each
    hidden one, put back in the original order: [visible (batch, K, D), restore (batch, T)]
    -> (batch, T, D). Called on the tokens alone (every one visible) it returns them: the
    decoder that reads whole images holds the mask token too, so saving it keeps it.

    Example:

    ```python
    tokens = keras.layers.Dense(16)(sdae_tf.layers.Patchify(4)(images))
    visible, restore, _ = sdae_tf.layers.RandomTokenMasking(0.75, seed=0)(tokens)
    full = sdae_tf.layers.InsertMaskTokens()([visible, restore])  # (8, 49, 16) again
    ```
    """

    def build(self, input_shape):
        width = (input_shape[0] if isinstance(input_shape[0], (list, tuple)) else
                 input_shape)[-1]
        self.mask_token = self.add_weight(shape=(1, 1, width), name="mask_token",
                                          initializer=keras.initializers.RandomNormal(
                                              stddev=0.02))

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            return inputs
        visible, restore = inputs
        # The visible count is dynamic in a graph that takes the mask as an input (`inpaint`).
        t, k = restore.shape[1], ops.shape(visible)[1]
        fill = ops.tile(ops.cast(self.mask_token, visible.dtype),
                        (ops.shape(visible)[0], t - k, 1))
        full = ops.concatenate([visible, fill], axis=1)
        return ops.take_along_axis(full, ops.cast(restore, "int32")[:, :, None], axis=1)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape[0], (list, tuple)):
            return input_shape
        visible, restore = input_shape
        return (visible[0], restore[1], visible[2])


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedBlend(keras.layers.Layer):
    """[prediction, target, mask] -> mask * prediction + (1 - mask) * stop_gradient(target):
    the reconstruction whose error against the target is the error on the hidden parts only
    (times their share), so a plain Keras loss trains the MAE on the masked patches.

    Example:

    ```python
    prediction = np.full(images.shape, 0.5, "float32")
    mask = np.zeros(images.shape, "float32")
    mask[:, :14] = 1.0                     # the top half hidden
    out = sdae_tf.layers.MaskedBlend()([prediction, images, mask])  # 0.5 on top, images below
    ```
    """

    def call(self, inputs):
        prediction, target, mask = inputs
        while len(mask.shape) < len(prediction.shape):
            mask = ops.expand_dims(mask, -1)
        mask = ops.cast(mask, prediction.dtype)
        return mask * prediction + (1.0 - mask) * ops.stop_gradient(target)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class RandomPixelMask(RandomMasking):
    """Zero-masking of single pixels, the MAE's patch masking at the same share: images ->
    [masked images, mask (batch, H, W, 1), 1 where hidden], a fresh mask per call.

    Args:
        mask_ratio: the share of pixels hidden, in (0, 1).
        seed: seeds the masks.

    Example:

    ```python
    masked, mask = sdae_tf.layers.RandomPixelMask(0.5, seed=0)(images)
    ```
    """


    def call(self, images):
        shape = ops.shape(images)
        noise = draws.uniform((*shape[:-1], 1), seed=self.seed_generator)
        mask = ops.cast(noise < self.mask_ratio, images.dtype)  # all channels of a pixel
        return [images * (1.0 - mask), mask]

    def compute_output_shape(self, input_shape):
        return [input_shape, (*input_shape[:-1], 1)]

