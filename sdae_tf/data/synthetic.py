"""Datasets made from images that ship with scikit-learn: natural-image patches for the filter
figures (Olshausen-style) and the toy 1-D manifold of report section 5.2."""

import numpy as np

from sdae_tf.data.splits import Splits, split_validation


def _sample_images_gray():
    """scikit-learn's two sample photographs (china.jpg, flower.jpg) in grayscale [0, 1]."""
    from sklearn.datasets import load_sample_images

    images = load_sample_images().images
    return [img.astype(np.float32).mean(axis=-1) / 255.0 for img in images]


def _load_mat_images(path):
    """Olshausen's `IMAGES.mat` (512x512x10 whitened images) as a list of 2-D arrays."""
    from scipy.io import loadmat

    data = loadmat(path)
    if "IMAGES" not in data:
        raise ValueError(f"{path}: no 'IMAGES' array (expected Olshausen's IMAGES.mat)")
    stack = np.asarray(data["IMAGES"], dtype=np.float32)
    return [stack[..., i] for i in range(stack.shape[-1])]


def load_patches(num_patches=20000, patch_size=12, images_path=None, validation_size=None,
                 seed=0):
    """Random `patch_size` square patches of natural images, each patch centred, the set
    scaled to [0, 1] (a contrast-normalised stand-in for Olshausen's whitened patches).

    Args:
        num_patches: total patches drawn (train + validation + test).
        patch_size: side of a patch (report: 12).
        images_path: a user's `IMAGES.mat`; default: scikit-learn's sample images.
        validation_size: validation patches (default: 10 %); the test split is another 10 %.
        seed: seeds the patch positions and splits.

    Labels are all 0 (an unsupervised dataset, `num_classes=1`).

    Example:

    ```python
    patches = sdae_tf.data.load_patches(num_patches=600, patch_size=12)
    print(patches.x_train.shape[1:])  # (12, 12, 1)
    ```
    """
    images = _load_mat_images(images_path) if images_path else _sample_images_gray()
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(images), size=num_patches)
    patches = np.empty((num_patches, patch_size, patch_size), np.float32)
    for i, k in enumerate(which):
        h, w = images[k].shape
        y, x = rng.integers(0, h - patch_size), rng.integers(0, w - patch_size)
        patches[i] = images[k][y:y + patch_size, x:x + patch_size]
    patches -= patches.mean(axis=(1, 2), keepdims=True)
    scale = 3.0 * patches.std()
    patches = np.clip(0.5 + 0.5 * patches / scale, 0.0, 1.0)[..., None]
    labels = np.zeros(num_patches, np.int64)
    tenth = max(1, num_patches // 10)
    x_rest, y_rest, x_test, y_test = split_validation(patches, labels, tenth, seed)
    x_train, y_train, x_val, y_val = split_validation(x_rest, y_rest, validation_size or tenth,
                                                      seed + 1)
    return Splits("patches", x_train, y_train, x_val, y_val, x_test, y_test, num_classes=1)


def load_toy_manifold(steps=6400, size=32, validation_size=None, seed=0):
    """The toy 1-D manifold: one image (scikit-learn's flower, grayscale, `size` square)
    interpolated towards black in `steps` brightness steps, `t * image` for t in [0, 1].

    Labels are the brightness decile (10 classes), so the manifold position is visible in plots.

    Args:
        steps: images on the manifold.
        size: side of the square images.
        validation_size: examples held out for validation (default: a tenth).
        seed: seeds the splits.

    Returns:
        `Splits` named "toy_manifold", images (N, size, size, 1) in [0, 1].

    Example:

    ```python
    toy = sdae_tf.data.load_toy_manifold(steps=200, size=16)
    ```
    """
    import tensorflow as tf

    flower = _sample_images_gray()[1]
    image = tf.image.resize(flower[..., None], (size, size), antialias=True).numpy()
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)
    x = np.clip(t[:, None, None, None] * image[None], 0.0, 1.0).astype(np.float32)
    y = np.minimum((t * 10).astype(np.int64), 9)
    tenth = max(1, steps // 10)
    x_rest, y_rest, x_test, y_test = split_validation(x, y, tenth, seed)
    x_train, y_train, x_val, y_val = split_validation(x_rest, y_rest, validation_size or tenth,
                                                      seed + 1)
    return Splits("toy_manifold", x_train, y_train, x_val, y_val, x_test, y_test, num_classes=10)
