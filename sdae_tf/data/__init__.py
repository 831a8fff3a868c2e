"""Named datasets -> `Splits` (train / validation / test arrays) -> `tf.data` pipelines."""

from sdae_tf.data.digits import load_digits
from sdae_tf.data.idx import IdxFormatError, read_idx
from sdae_tf.data.mnist import VARIANTS as MNIST_VARIANTS
from sdae_tf.data.mnist import load_mnist
from sdae_tf.data.pipeline import make_pipeline
from sdae_tf.data.splits import Splits

DATASETS = ("mnist", "mnist_rot", "mnist_bg_rand", "mnist_bg_rand_rot", "digits")


def load_dataset(name, data_dir=None, validation_size=None, seed=0, cache_dir=None):
    """Loads a dataset by name as `Splits`.

    Args:
        name: one of `DATASETS`.
        data_dir: MNIST IDX folder (MNIST datasets only; default: the vendored copy).
        validation_size: size of the validation split (default: 10000 for MNIST, 180 digits).
        seed: seeds variants and splits (not the training run).
        cache_dir: cache of built MNIST variants.
    """
    if name == "digits":
        return load_digits(**({"validation_size": validation_size} if validation_size else {}),
                           seed=seed)
    if name in DATASETS:
        variant = "mnist" if name == "mnist" else name.removeprefix("mnist_")
        return load_mnist(variant, data_dir, validation_size or 10000, seed, cache_dir)
    raise ValueError(f"Unknown dataset {name!r}. Available: {', '.join(DATASETS)}")


__all__ = [
    "DATASETS",
    "MNIST_VARIANTS",
    "IdxFormatError",
    "Splits",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "make_pipeline",
    "read_idx",
]
