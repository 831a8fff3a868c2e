"""scikit-learn's 8x8 handwritten digits (1797 images, ships with scikit-learn): the tiny
embedded dataset for quick runs and tests."""

import numpy as np

from sdae_tf.data.splits import Splits, split_validation


def load_digits(validation_size=180, test_size=360, seed=0):
    """The 8x8 digits as `Splits`: images `(N, 8, 8, 1)` float32 in [0, 1], seeded splits.

    scikit-learn's 1797 handwritten digits (shipped with it, offline): the tiny dataset tests
    and quick examples train on.

    Args:
        validation_size: examples in the validation split.
        test_size: examples in the test split.
        seed: seeds the split.

    Returns:
        `Splits` named "digits", 10 classes.

    Example:

    ```python
    digits = sdae_tf.data.load_digits()
    print(digits.x_train.shape)  # (1257, 8, 8, 1)
    ```
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[..., None]
    y = bunch.target.astype(np.int64)
    x_rest, y_rest, x_test, y_test = split_validation(x, y, test_size, seed)
    x_train, y_train, x_val, y_val = split_validation(x_rest, y_rest, validation_size, seed + 1)
    return Splits("digits", x_train, y_train, x_val, y_val, x_test, y_test, num_classes=10)
