"""The in-memory dataset record shared by all sources: train/validation/test arrays."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Splits:
    """A labelled image dataset as float32 arrays in its value range, with its three splits.

    Images are `(N, H, W, C)` float32, labels `(N,)` int64.

    Attributes:
        name: the dataset's name, e.g. "mnist_bg_rand".
        x_train, y_train, x_val, y_val, x_test, y_test: the three splits.
        num_classes: the number of classes.
        value_range: (low, high) of the pixel values.

    Example:

    ```python
    small = sdae_tf.data.load_digits().limit(train=100, eval=50)
    print(small.input_shape, len(small.x_train))  # (8, 8, 1) 100
    ```
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    value_range: tuple = (0.0, 1.0)

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])

    def limit(self, train=None, eval=None):
        """A copy keeping at most `train` training and `eval` validation/test examples."""
        return dataclasses.replace(
            self,
            x_train=self.x_train[:train], y_train=self.y_train[:train],
            x_val=self.x_val[:eval], y_val=self.y_val[:eval],
            x_test=self.x_test[:eval], y_test=self.y_test[:eval],
        )

    def without_validation(self):
        """The report's protocol: the validation examples go back into the training set and
        the held-out split (`x_val`, what `fit` logs after each epoch) is the test set."""
        return dataclasses.replace(
            self,
            x_train=np.concatenate([self.x_train, self.x_val]),
            y_train=np.concatenate([self.y_train, self.y_val]),
            x_val=self.x_test, y_val=self.y_test,
        )

    def pooled(self):
        """DEC's protocol (`--protocol=all_images`, unsupervised tasks only): every image of
        the three splits in the training set (the labels kept, to score with); the held-out
        split `fit` logs is the test set, itself trained on."""
        return dataclasses.replace(
            self,
            x_train=np.concatenate([self.x_train, self.x_val, self.x_test]),
            y_train=np.concatenate([self.y_train, self.y_val, self.y_test]),
            x_val=self.x_test, y_val=self.y_test,
        )

    def sizes(self):
        return {"train": len(self.x_train), "val": len(self.x_val), "test": len(self.x_test)}


def split_validation(x, y, validation_size, seed):
    """Carves a seeded random validation set of `validation_size` examples off (x, y).

    Args:
        x, y: arrays of the same length.
        validation_size: examples held out, in [1, len(x) - 1].
        seed: seeds the choice.

    Returns:
        `(x_train, y_train, x_val, y_val)`; the training part keeps the original order.

    Raises:
        ValueError: a size outside [1, len(x) - 1].
    """
    if not 0 < validation_size < len(x):
        raise ValueError(
            f"`validation_size` must be in [1, {len(x) - 1}]. Received: {validation_size}"
        )
    order = np.random.default_rng(seed).permutation(len(x))
    val = np.sort(order[:validation_size])
    train = np.sort(order[validation_size:])
    return x[train], y[train], x[val], y[val]
