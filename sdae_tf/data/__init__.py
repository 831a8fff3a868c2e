"""Named datasets -> `Splits` (train / validation / test arrays) -> `tf.data` pipelines."""

from sdae_tf.data.digits import load_digits
from sdae_tf.data.idx import IdxFormatError, read_idx
from sdae_tf.data.mnist import CONSTRUCTIONS as MNIST_CONSTRUCTIONS
from sdae_tf.data.mnist import VARIANTS as MNIST_VARIANTS
from sdae_tf.data.mnist import load_mnist
from sdae_tf.data.pipeline import make_pipeline, steps_per_epoch
from sdae_tf.data.splits import Splits
from sdae_tf.data.synthetic import load_patches, load_toy_manifold
from sdae_tf.data.tfds_images import DatasetNotPreparedError, load_tfds_images

DATASETS = ("mnist", "mnist_rot", "mnist_bg_rand", "mnist_bg_rand_rot", "digits", "cifar10",
            "cub200", "patches", "toy_manifold")


def load_dataset(name, data_dir=None, validation_size=None, seed=0, cache_dir=None,
                 construction="report"):
    """Loads a dataset by name as `Splits`.

    Args:
        name: one of `DATASETS`.
        data_dir: MNIST IDX folder (default: the vendored copy); for cifar10 / cub200 the TFDS
            data directory; for patches an optional Olshausen `IMAGES.mat`.
        validation_size: size of the validation split (default: 10000 for MNIST, 180 digits).
        seed: seeds variants and splits (not the training run).
        cache_dir: cache of built MNIST variants.
        construction: how the MNIST variants are built, "report" or "bilinear" (see
            `sdae_tf.data.mnist`); other datasets ignore it.
    """
    from sdae_tf.data.mnist import check_construction

    check_construction(construction)
    if name == "digits":
        return load_digits(**({"validation_size": validation_size} if validation_size else {}),
                           seed=seed)
    if name in ("cifar10", "cub200"):
        return load_tfds_images(name, data_dir, validation_size, seed)
    if name == "patches":
        return load_patches(images_path=data_dir, validation_size=validation_size, seed=seed)
    if name == "toy_manifold":
        return load_toy_manifold(validation_size=validation_size, seed=seed)
    if name in DATASETS:
        variant = "mnist" if name == "mnist" else name.removeprefix("mnist_")
        return load_mnist(variant, data_dir, 10000 if validation_size is None else validation_size,
                          seed, cache_dir, construction)
    raise ValueError(f"Unknown dataset {name!r}. Available: {', '.join(DATASETS)}")


__all__ = [
    "DATASETS",
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
