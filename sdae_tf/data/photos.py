"""Colour photographs at higher resolution, offline: random square crops of the photographs that
ship with scikit-learn and scikit-image (CUB-200 cannot be downloaded here), train and test
crops from disjoint photographs, for section 8's question on blurry reconstructions."""

import functools

import numpy as np

from sdae_tf.data.splits import Splits, split_validation

# The photographs (not the synthetic or grey images) bundled with scikit-image's wheel, by file;
# scikit-learn's two sample images are "china" and "flower". The two motorcycle frames are a
# stereo pair: they stay in one split.
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg",
                  "ihc.png", "motorcycle_left.png", "motorcycle_right.png", "retina.jpg",
                  "rocket.jpg")
TEST_PHOTOS = ("coffee.png", "rocket.jpg", "flower")


@functools.lru_cache(maxsize=1)
def photographs():
    """{name: (H, W, 3) float32 image in [0, 1]} of every photograph used (read once per
    process; do not modify the arrays)."""
    try:
        import skimage.io
        from skimage.data import data_dir
    except ImportError as err:
        raise ImportError("the photo crops need scikit-image (its bundled photographs): "
                          "pip install 'sdae_tf[photos]'") from err
    import pathlib

    from sklearn.datasets import load_sample_images

    sample = load_sample_images()
    out = {pathlib.Path(f).stem: img for f, img in zip(sample.filenames, sample.images,
                                                          strict=True)}
    for name in SKIMAGE_PHOTOS:
        out[name] = skimage.io.imread(pathlib.Path(data_dir) / name)[..., :3]
    return {k: np.asarray(v, np.float32) / 255.0 for k, v in out.items()}


def _crops(images, count, size, rng):
    names = sorted(images)
    which = rng.integers(0, len(names), size=count)
    crops = np.empty((count, size, size, 3), np.float32)
    for i, k in enumerate(which):
        image = images[names[k]]
        h, w = image.shape[:2]
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        crops[i] = image[y:y + size, x:x + size]
    return crops, which.astype(np.int64)


def load_photo_crops(size=64, train_crops=8000, test_crops=1000, validation_size=None, seed=0):
    """Random `size` x `size` RGB crops in [0, 1]: training (and validation) crops from nine
    photographs, test crops from three others (`TEST_PHOTOS`). Labels: the photograph a crop
    comes from (within its split), so the crops carry no class task.

    Args:
        size: side of a crop (64 or 128).
        train_crops: training + validation crops.
        test_crops: test crops.
        validation_size: validation crops (default 10 % of `train_crops`).
        seed: seeds the crops and the split.
    """
    if size < 8 or size > 300:
        raise ValueError(f"`size` must be in [8, 300] (the smallest photograph is 300 pixels "
                         f"high). Received: size={size}")
    images = photographs()
    test = {k: v for k, v in images.items() if k in TEST_PHOTOS}
    train = {k: v for k, v in images.items() if k not in TEST_PHOTOS}
    rng = np.random.default_rng(seed)
    x_rest, y_rest = _crops(train, train_crops, size, rng)
    x_test, y_test = _crops(test, test_crops, size, rng)
    x_train, y_train, x_val, y_val = split_validation(
        x_rest, y_rest, validation_size or max(1, train_crops // 10), seed + 1)
    return Splits(f"photos{size}", x_train, y_train, x_val, y_val, x_test, y_test,
                  num_classes=len(train))
