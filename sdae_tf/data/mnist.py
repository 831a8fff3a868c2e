"""MNIST from the IDX files (vendored copy by default) and its seeded variants rot / bg_rand /
bg_rand_rot, cached on disk so each is built once.

Two constructions of the variants (`CONSTRUCTIONS`):
- "report" (the default): the report's own dataset code (`reference/report_protocol.md`):
  cubic-spline rotation (order 3, `scipy.ndimage.rotate`'s default; same size, zero fill),
  rounded and clipped into uint8, then every pixel that is exactly 0 gets a uniform integer in
  [0, 255] (rotation first), then each image is min-max scaled to [0, 1] on its own. The spline
  leaves small positive values around the strokes, which survive the fill as a dark outline.
- "bilinear": this project's first construction (bilinear rotation, the same fill, images
  divided by 255), kept so the two can be compared.
"""

import functools
import hashlib
import os
import pathlib
import sys
import zipfile
import zlib

import numpy as np

from sdae_tf.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from sdae_tf.data.splits import Splits, split_validation
from sdae_tf.utils import storage

VENDORED_DIR = pathlib.Path(__file__).parent / "raw" / "mnist"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
COUNTS = {"train": 60000, "test": 10000}
VARIANTS = ("mnist", "rot", "bg_rand", "bg_rand_rot")
CONSTRUCTIONS = ("report", "bilinear")
_CACHE_FORMAT = 2  # bump when the way variants are built changes


def _find(data_dir, stem):
    for name in (stem + ".gz", stem):
        path = pathlib.Path(data_dir) / name
        if path.exists():
            return path
    return pathlib.Path(data_dir) / (stem + ".gz")  # read_idx names the missing file


def load_raw(data_dir=None):
    """Reads the four IDX files: returns uint8 `(x_train, y_train, x_test, y_test)`, images
    `(N, 28, 28)`. `data_dir` defaults to the copy vendored in the package.

    Args:
        data_dir: the folder of the IDX files, or None (the vendored copy).

    Raises:
        FileNotFoundError: a missing folder or file. IdxFormatError: a damaged file.
    """
    data_dir = pathlib.Path(data_dir) if data_dir else VENDORED_DIR
    if not data_dir.is_dir():
        what = "does not exist" if not data_dir.exists() else "is not a directory"
        raise NotADirectoryError(
            f"MNIST data directory {data_dir} {what}: give --data_dir a folder holding the four "
            "IDX files (train-images-idx3-ubyte[.gz], ...), or leave it out for the vendored copy")
    out = []
    for split in ("train", "test"):
        images_path = _find(data_dir, FILES[f"{split}_images"])
        labels_path = _find(data_dir, FILES[f"{split}_labels"])
        images = read_idx(images_path, IMAGES_MAGIC, COUNTS[split])
        labels = read_idx(labels_path, LABELS_MAGIC, COUNTS[split])
        if images.shape[1:] != (28, 28):
            raise ValueError(f"{images_path}: images are {images.shape[1:]}, expected (28, 28)")
        if labels.max() > 9:
            raise ValueError(f"{labels_path}: label {labels.max()} outside 0-9")
        out += [images, labels]
    return tuple(out)


def check_construction(construction):
    """Refuses an unknown variant construction (`CONSTRUCTIONS`) with a ValueError listing them.

    Args:
        construction: "report" or "bilinear".

    Raises:
        ValueError: another value.
    """
    if construction not in CONSTRUCTIONS:
        raise ValueError(f"Unknown MNIST variant construction {construction!r}. Available: "
                         f"{', '.join(CONSTRUCTIONS)}")


def rotate_spline(images, angles_deg):
    """Rotates uint8 images `(N, H, W)` about their centres as the report's code did:
    `scipy.ndimage.rotate` (cubic spline, order 3), same size, zero fill, rounded and clipped
    back into uint8.

    Args:
        images: uint8 images (N, H, W).
        angles_deg: one angle per image, in degrees.

    Returns:
        uint8 images of the same shape.
    """
    from scipy import ndimage

    out = np.empty_like(images)
    for i, (image, angle) in enumerate(zip(images, angles_deg, strict=True)):
        rotated = ndimage.rotate(image.astype(np.float64), float(angle), reshape=False, order=3,
                                 mode="constant", cval=0.0)
        out[i] = np.clip(np.rint(rotated), 0, 255)
    return out


def rotate(images, angles_deg):
    """Rotates uint8 images `(N, H, W)` about their centres (bilinear, zero fill): the
    "bilinear" construction.

    Args:
        images: uint8 images (N, H, W).
        angles_deg: one angle per image, in degrees.

    Returns:
        uint8 images of the same shape.
    """
    import tensorflow as tf

    n, h, w = images.shape
    theta = np.deg2rad(angles_deg).astype(np.float32)
    cos, sin = np.cos(theta), np.sin(theta)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    # Maps each output pixel to the input pixel it samples: a rotation about the centre.
    transforms = np.stack(
        [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy,
         np.zeros_like(cos), np.zeros_like(cos)], axis=1,
    ).astype(np.float32)
    out = np.empty_like(images)
    for start in range(0, n, 10000):
        chunk = tf.constant(images[start:start + 10000, :, :, None].astype(np.float32))
        rotated = tf.raw_ops.ImageProjectiveTransformV3(
            images=chunk, transforms=transforms[start:start + 10000],
            output_shape=[h, w], fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT",
        )
        out[start:start + 10000] = np.clip(np.rint(rotated.numpy()[..., 0]), 0, 255)
    return out


def random_background(images, rng):
    """Replaces the background (zero pixels) of uint8 images by uniform random values.

    Args:
        images: uint8 images (N, H, W).
        rng: a numpy `Generator`.

    Returns:
        uint8 images of the same shape.
    """
    noise = rng.integers(0, 256, size=images.shape, dtype=np.uint8)
    return np.where(images > 0, images, noise)


def make_variant(images, variant, seed, construction="report", rotated=None):
    """Builds a variant of uint8 images `(N, 28, 28)` deterministically from `seed`, with the
    report's construction (spline rotation) or the bilinear one. bg_rand_rot is rot's images
    (same seed, same angles) with the background filled; `rotated`, rot's images of the same
    seed and construction, spares rotating them again.

    Args:
        images: uint8 images (N, H, W).
        variant: "rot", "bg_rand" or "bg_rand_rot".
        seed: seeds the angles and the fill.
        construction: "report" or "bilinear".
        rotated: rot's images of the same seed and construction, or None.

    Returns:
        uint8 images of the same shape.
    """
    if variant not in VARIANTS:
        raise ValueError(f"Unknown MNIST variant {variant!r}. Available: {', '.join(VARIANTS)}")
    check_construction(construction)
    rng = np.random.default_rng(seed)
    if variant in ("rot", "bg_rand_rot"):
        angles = rng.uniform(0.0, 360.0, size=len(images))  # drawn either way: same stream
        if rotated is None:
            turn = rotate_spline if construction == "report" else rotate
            images = turn(images, angles)
        elif rotated.shape != images.shape:
            raise ValueError(f"rotated images are {rotated.shape}, expected {images.shape}")
        else:
            images = rotated
    if variant in ("bg_rand", "bg_rand_rot"):
        images = random_background(images, rng)
    return images


def default_cache_dir():
    """Where built MNIST variants are cached: `$SDAE_TF_CACHE`, else `~/.cache/sdae_tf`."""
    return pathlib.Path(
        os.environ.get("SDAE_TF_CACHE") or pathlib.Path.home() / ".cache" / "sdae_tf"
    )


def _atomic_savez(path, **arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    with storage.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def _source_key(x_train, x_test):
    digest = hashlib.sha256(x_train.tobytes())
    digest.update(x_test.tobytes())
    return digest.hexdigest()[:12]


def _cache_name(variant, construction, seed, key):
    """The cache file name of a built variant (`key`: the source images' digest, or "*")."""
    return f"mnist_{variant}_{construction}_seed{seed}_v{_CACHE_FORMAT}_{key}.npz"


def load_variant_arrays(variant, data_dir=None, seed=0, cache_dir=None, construction="report"):
    """Returns uint8 `(x_train, y_train, x_test, y_test)` of an MNIST variant.

    Variants are built from the train and test sets with independent seeded streams and
    cached in `cache_dir` (default `$SDAE_TF_CACHE` or `~/.cache/sdae_tf`) under a name that
    carries the construction, the seed and a digest of the source images.

    Args:
        variant: a variant of `VARIANTS`.
        data_dir: the folder of the IDX files, or None (the vendored copy).
        seed: seeds the construction.
        cache_dir: the cache folder, or None.
        construction: "report" or "bilinear".
    """
    check_construction(construction)
    x_train, y_train, x_test, y_test = load_raw(data_dir)
    if variant == "mnist":
        return x_train, y_train, x_test, y_test
    if variant not in VARIANTS:
        raise ValueError(f"Unknown MNIST variant {variant!r}. Available: {', '.join(VARIANTS)}")
    cache_dir = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    x_train, x_test = _cached_variant(variant, x_train, x_test, _source_key(x_train, x_test),
                                      seed, cache_dir, construction)
    return x_train, y_train, x_test, y_test


def _cached_variant(variant, x_train, x_test, key, seed, cache_dir, construction):
    """A variant's uint8 (train, test) images built from the source images (digest `key`):
    from the cache, else built and cached. bg_rand_rot starts from rot's images (same seed,
    same angles), themselves taken from the cache or built and cached: rotated once."""
    path = cache_dir / _cache_name(variant, construction, seed, key)
    if path.exists():
        cached = _read_cache(path, len(x_train), len(x_test), x_train.shape[1:])
        if cached is not None:
            return cached
    rot_train = rot_test = None
    if variant == "bg_rand_rot":
        rot_train, rot_test = _cached_variant("rot", x_train, x_test, key, seed, cache_dir,
                                              construction)
    x_train = make_variant(x_train, variant, [seed, 0], construction, rotated=rot_train)
    x_test = make_variant(x_test, variant, [seed, 1], construction, rotated=rot_test)
    try:
        _atomic_savez(path, x_train=x_train, x_test=x_test)
    except OSError as err:  # the arrays are built: a cache that cannot be written costs time only
        print(f"warning: could not write the MNIST variant cache {path} ({err.strerror or err});"
              " the variant is built again next time (set $SDAE_TF_CACHE to a writable folder)",
              file=sys.stderr, flush=True)
    return x_train, x_test


def _read_cache(path, n_train, n_test, image_shape):
    """A variant cache file's (train, test) images, or None (with a warning naming the file)
    when it is damaged: truncated, not a zip, wrong arrays, shapes or dtype. It is then
    rebuilt."""
    try:
        with np.load(path, allow_pickle=False) as cached:
            x_train, x_test = cached["x_train"], cached["x_test"]
        if (x_train.dtype != np.uint8 or x_test.dtype != np.uint8
                or x_train.shape != (n_train, *image_shape)
                or x_test.shape != (n_test, *image_shape)):
            raise ValueError(f"arrays {x_train.dtype}{x_train.shape} / {x_test.dtype}"
                             f"{x_test.shape}, expected uint8 ({n_train} / {n_test}, "
                             f"{', '.join(map(str, image_shape))})")
        return x_train, x_test
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        print(f"warning: the MNIST variant cache {path} is damaged ({type(err).__name__}: "
              f"{str(err).splitlines()[0] if str(err) else ''}); rebuilding it", file=sys.stderr,
              flush=True)
        return None


def minmax_scale(images):
    """Each uint8 image `(N, H, W)` scaled to [0, 1] on its own: `(x - min) / (max - min)`
    (a constant image becomes 0), as float32 `(N, H, W, 1)`. One float array, scaled in place:
    the temporaries of the plain expression cost seconds on 70k images.

    Args:
        images: uint8 images (N, H, W).

    Returns:
        float32 images (N, H, W, 1).
    """
    low = images.min(axis=(1, 2), keepdims=True).astype(np.float32)
    span = images.max(axis=(1, 2), keepdims=True).astype(np.float32) - low
    x = images.astype(np.float32)
    x -= low
    np.divide(x, span, out=x, where=span > 0)  # a constant image is 0 already
    return x[..., None]


def unit_scale(images):
    """uint8 images `(N, H, W)` divided by 255, as float32 `(N, H, W, 1)` (in place).

    Args:
        images: uint8 images (N, H, W).

    Returns:
        float32 images (N, H, W, 1).
    """
    x = images.astype(np.float32)
    x /= 255.0
    return x[..., None]


def _stamp(paths):
    """(path, mtime, size) of each existing file: a changed or rebuilt file changes it."""
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def load_mnist(variant="mnist", data_dir=None, validation_size=10000, seed=0, cache_dir=None,
               construction="report"):
    """MNIST or a variant as `Splits` (`_load_mnist`), kept in memory for the next call in this
    process with the same arguments while the source files and the variant's cache file are
    unchanged: an experiment's cells, and a test run's, load the same few datasets over and
    over. The arrays are read-only (views of the kept ones); `Splits.limit` and
    `Splits.without_validation` give new records, never writing into them.

    Args:
        variant: "mnist", "rot", "bg_rand" or "bg_rand_rot" (`VARIANTS`); a variant is built
            from the IDX files on first use and cached on disk.
        data_dir: folder of the four IDX files (default: the copy vendored in the package).
        validation_size: training examples held out as the validation split.
        seed: seeds the split and a variant's construction.
        cache_dir: where variants are cached (default: `~/.cache/sdae_tf` or
            `$SDAE_TF_CACHE`).
        construction: how variants are built: "report" (the report's code) or "bilinear".

    Returns:
        `Splits`: images (N, 28, 28, 1) float32 in [0, 1], labels int64.

    Raises:
        FileNotFoundError: an IDX file missing from `data_dir`. ValueError: an unknown variant
            or construction.

    Example:

    ```python
    mnist = sdae_tf.data.load_mnist()
    print(len(mnist.x_train), len(mnist.x_val), len(mnist.x_test))  # 50000 10000 10000
    ```
    """
    data_dir = pathlib.Path(data_dir) if data_dir else VENDORED_DIR
    sources = [_find(data_dir, stem) for stem in FILES.values()]
    cache = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    cached = (sorted(cache.glob(_cache_name(variant, construction, seed, "*")))
              if variant != "mnist" else [])
    return _load_mnist_kept(variant, str(data_dir), validation_size, seed, str(cache),
                            construction, _stamp(sources) + _stamp(cached))


@functools.lru_cache(maxsize=3)
def _load_mnist_kept(variant, data_dir, validation_size, seed, cache_dir, construction, stamp):
    del stamp  # part of the key only
    splits = _load_mnist(variant, data_dir, validation_size, seed, cache_dir, construction)
    for value in vars(splits).values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return splits


def _load_mnist(variant="mnist", data_dir=None, validation_size=10000, seed=0, cache_dir=None,
                construction="report"):
    """MNIST or a variant as `Splits`: images `(N, 28, 28, 1)` float32 in [0, 1].

    Args:
        variant: "mnist", "rot", "bg_rand" or "bg_rand_rot".
        data_dir: folder with the four IDX files (gzip or not); default: the vendored copy.
        validation_size: examples carved off the 60k training set for validation (the
            report's protocol puts them back: `Splits.without_validation`).
        seed: seeds both the variant's construction and the validation split.
        cache_dir: where built variants are cached.
        construction: "report" (spline rotation, per-image min-max scaling of the variants) or
            "bilinear" (see the module's docstring). Plain MNIST is the same under both
            (divided by 255).
    """
    x_train, y_train, x_test, y_test = load_variant_arrays(variant, data_dir, seed, cache_dir,
                                                           construction)
    x_train, y_train, x_val, y_val = split_validation(x_train, y_train, validation_size, seed)

    def scale(x):
        if construction == "report" and variant != "mnist":
            return minmax_scale(x)
        return unit_scale(x)

    def lab(y):
        return y.astype(np.int64)

    name = "mnist" if variant == "mnist" else f"mnist_{variant}"
    return Splits(
        name, scale(x_train), lab(y_train), scale(x_val), lab(y_val), scale(x_test), lab(y_test),
        num_classes=10,
    )
