"""Named datasets -> `Splits` (train / validation / test arrays) -> `tf.data` pipelines."""

import dataclasses
from collections.abc import Callable

from sdae_tf.data.digits import load_digits
from sdae_tf.data.idx import IdxFormatError, read_idx
from sdae_tf.data.mnist import CONSTRUCTIONS as MNIST_CONSTRUCTIONS
from sdae_tf.data.mnist import VARIANTS as MNIST_VARIANTS
from sdae_tf.data.mnist import check_construction, load_mnist
from sdae_tf.data.photos import load_photo_crops
from sdae_tf.data.pipeline import make_pipeline, steps_per_epoch
from sdae_tf.data.splits import Splits
from sdae_tf.data.synthetic import load_patches, load_toy_manifold
from sdae_tf.data.tfds_images import DatasetNotPreparedError, load_tfds_images


@dataclasses.dataclass(frozen=True)
class DatasetEntry:
    """A named dataset.

    Args:
        name: what `--dataset` takes.
        load: `load(data_dir, validation_size, seed, cache_dir, construction)` -> `Splits`
            (`validation_size` None: the dataset's default).
        label: how tables and figures name it (the report's column or row).
    """

    name: str
    load: Callable
    label: str


def _mnist(variant):
    def load(data_dir, validation_size, seed, cache_dir, construction):
        return load_mnist(variant, data_dir, 10000 if validation_size is None else
                          validation_size, seed, cache_dir, construction)
    return load


def _digits(data_dir, validation_size, seed, cache_dir, construction):
    return load_digits(**({"validation_size": validation_size} if validation_size else {}),
                       seed=seed)


def _tfds(name):
    def load(data_dir, validation_size, seed, cache_dir, construction):
        return load_tfds_images(name, data_dir, validation_size, seed)
    return load


def _patches(data_dir, validation_size, seed, cache_dir, construction):
    return load_patches(images_path=data_dir, validation_size=validation_size, seed=seed)


def _photos(size):
    def load(data_dir, validation_size, seed, cache_dir, construction):
        return load_photo_crops(size, validation_size=validation_size, seed=seed)
    return load


def _toy(data_dir, validation_size, seed, cache_dir, construction):
    return load_toy_manifold(validation_size=validation_size, seed=seed)


REGISTRY = {e.name: e for e in [
    DatasetEntry("mnist", _mnist("mnist"), "MNIST"),
    DatasetEntry("mnist_rot", _mnist("rot"), "MNIST rot"),
    DatasetEntry("mnist_bg_rand", _mnist("bg_rand"), "MNIST bg-rand"),
    DatasetEntry("mnist_bg_rand_rot", _mnist("bg_rand_rot"), "MNIST bg-rand-rot"),
    DatasetEntry("digits", _digits, "digits"),
    DatasetEntry("cifar10", _tfds("cifar10"), "CIFAR-10"),
    DatasetEntry("cub200", _tfds("cub200"), "CUB-200-2011"),
    DatasetEntry("patches", _patches, "natural 12x12 patches"),
    DatasetEntry("toy_manifold", _toy, "toy manifold"),
    DatasetEntry("photos64", _photos(64), "photo crops 64x64"),
]}
DATASETS = tuple(REGISTRY)


def load_dataset(name, data_dir=None, validation_size=None, seed=0, cache_dir=None,
                 construction="report"):
    """Loads a dataset by name (`REGISTRY`) as `Splits`.

    Args:
        name: one of `DATASETS`.
        data_dir: MNIST IDX folder (default: the vendored copy); for cifar10 / cub200 the TFDS
            data directory; for patches an optional Olshausen `IMAGES.mat`.
        validation_size: size of the validation split (default: 10000 for MNIST, 180 digits).
        seed: seeds variants and splits (not the training run).
        cache_dir: cache of built MNIST variants.
        construction: how the MNIST variants are built, "report" or "bilinear" (see
            `sdae_tf.data.mnist`); other datasets ignore it.

    Example:

    ```python
    mnist = sdae_tf.data.load_dataset("mnist")    # the vendored MNIST, 50k / 10k / 10k
    digits = sdae_tf.data.load_dataset("digits")  # scikit-learn's 8x8 digits
    # load_dataset("mnist_bg_rand_rot") builds a variant once, then reads it from the cache
    ```
    """
    check_construction(construction)
    if name not in REGISTRY:
        raise ValueError(f"Unknown dataset {name!r}. Available: {', '.join(DATASETS)}")
    return REGISTRY[name].load(data_dir, validation_size, seed, cache_dir, construction)


__all__ = [
    "DATASETS",
    "REGISTRY",
    "DatasetEntry",
    "DatasetNotPreparedError",
    "MNIST_CONSTRUCTIONS",
    "MNIST_VARIANTS",
    "IdxFormatError",
    "Splits",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "load_patches",
    "load_tfds_images",
    "load_toy_manifold",
    "make_pipeline",
    "steps_per_epoch",
    "read_idx",
]
