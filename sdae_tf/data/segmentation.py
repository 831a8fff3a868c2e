"""Dense ground truth for the background variants (section 8's "tasks other than
classification"): the digit's mask of every bg-rand and bg-rand-rot image, known exactly from
the variant's own construction.

The background fill replaces the pixels that are 0 before it (`mnist.random_background`), so the
digit is what the image held before the fill: MNIST's digit for bg-rand, rot's rotated digit
(same seed and construction) for bg-rand-rot. A pixel is foreground when it was at least
`THRESHOLD` (64 of 255) before the fill. The spline rotation of the report's construction
leaves a faint outline around each rotated digit (values 1-63): those pixels are kept by the
fill (they are not 0) but count as background in the mask, as do MNIST's own faint edge pixels.
The images, splits and seeds are those of the classification variants (`load_mnist`): the same
validation split, the masks travelling with their images.
"""

import numpy as np

from sdae_tf.data import mnist
from sdae_tf.data.splits import Splits, split_validation

THRESHOLD = 64
SEGMENTED = {"bg_rand": "mnist", "bg_rand_rot": "rot"}  # variant -> the images before the fill


def digit_masks(before_fill, threshold=THRESHOLD):
    """The foreground mask (float32 `(N, H, W, 1)`, 1 on the digit) of uint8 images as they
    were before the background fill.

    Args:
        before_fill: uint8 images (N, H, W) before their background was filled.
        threshold: the smallest digit value (64 of 255: the spline's faint outline is background).

    Returns:
        float32 masks (N, H, W, 1).
    """
    return (np.asarray(before_fill) >= threshold).astype(np.float32)[..., None]


def load_digit_masks(variant="bg_rand_rot", data_dir=None, validation_size=10000, seed=0,
                     cache_dir=None, construction="report"):
    """A background variant's images with their digit masks as labels: `Splits` whose `y_*`
    are float32 masks `(N, 28, 28, 1)` (`num_classes=2`: background, digit), images, splits and
    seeds those of `load_mnist(variant, ...)`.

    Args:
        variant: "bg_rand" or "bg_rand_rot" (`SEGMENTED`).
        data_dir, validation_size, seed, cache_dir, construction: as `load_mnist`'s.

    Returns:
        `Splits` named "mnist_<variant>_masks".

    Raises:
        ValueError: a variant without a background fill (no mask to read off it).
    """
    if variant not in SEGMENTED:
        raise ValueError(f"MNIST variant {variant!r} has no digit masks (only the background "
                         f"variants do: {', '.join(SEGMENTED)})")
    x_train, _, x_test, _ = mnist.load_variant_arrays(variant, data_dir, seed, cache_dir,
                                                      construction)
    b_train, _, b_test, _ = mnist.load_variant_arrays(SEGMENTED[variant], data_dir, seed,
                                                      cache_dir, construction)
    m_train, m_test = digit_masks(b_train), digit_masks(b_test)
    if validation_size is None:  # the classification variants' own default
        validation_size = 10000
    x_train, m_train, x_val, m_val = split_validation(x_train, m_train, validation_size, seed)
    scale = mnist.minmax_scale if construction == "report" else mnist.unit_scale
    return Splits(f"mnist_{variant}_masks", scale(x_train), m_train, scale(x_val), m_val,
                  scale(x_test), m_test, num_classes=2)


def otsu_scores(x, masks):
    """The classical baseline: Otsu's threshold (scikit-image) on each input image, scored
    against `masks` as the segmenters are: foreground IoU and pixel accuracy over every pixel.

    Args:
        x: images (N, H, W, C).
        masks: the true masks (N, H, W, 1).

    Returns:
        {"iou", "pixel_accuracy"}: floats.
    """
    from skimage.filters import threshold_otsu

    gray = np.asarray(x, np.float32).mean(axis=-1)
    pred = np.stack([im > threshold_otsu(im) for im in gray])[..., None]
    truth = np.asarray(masks) > 0.5
    return {"iou": float((pred & truth).sum() / max((pred | truth).sum(), 1)),
            "pixel_accuracy": float((pred == truth).mean())}
