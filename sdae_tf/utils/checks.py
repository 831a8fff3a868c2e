"""Checks at the boundary, written once: what a user hands the Python API, scikit-learn or the
command line (images, batch sizes, lists of widths) is checked here, and a bad value is one
`ValueError` line naming what was received and what is expected."""

import numbers

import numpy as np


def _positive(value, name, integral):
    kind = numbers.Integral if integral else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not np.isfinite(value) or \
            (value < 1 if integral else value <= 0):
        wanted = "an integer >= 1" if integral else "a finite number > 0"
        raise ValueError(f"`{name}` must be {wanted}. Received: {value!r}")
    return int(value) if integral else float(value)


def positive_int(value, name):
    """`value` as an int >= 1, else a one-line `ValueError`.

    Args:
        value: what the user gave.
        name: the argument's name, for the message.

    Returns:
        An int.
    """
    return _positive(value, name, integral=True)


def non_negative_int(value, name):
    """`value` as an int >= 0 (a count that may be zero), else a one-line `ValueError`.

    Args:
        value: what the user gave.
        name: the argument's name, for the message.

    Returns:
        The int.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0. Received: {value!r}")
    return int(value)


def positive_number(value, name):
    """`value` as a finite float > 0, else a one-line `ValueError`.

    Args:
        value: what the user gave.
        name: the argument's name, for the message.

    Returns:
        A float.
    """
    return _positive(value, name, integral=False)


def int_tuple(value, name, allow_empty=False, example="(500, 250)"):
    """`value` (a list or tuple of positive integers) as a tuple of ints. A string is not a
    list of digits and a bare integer is not a list: both are refused, as is an empty list
    (unless `allow_empty`).

    Args:
        value: what the user gave.
        name: the argument's name, for the message.
        allow_empty: whether `()` is accepted.
        example: a valid value, for the message.

    Returns:
        A tuple of ints.
    """
    example = f"e.g. {name}={example}"
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise ValueError(f"`{name}` must be a list or tuple of positive integers ({example}). "
                         f"Received: {value!r}")
    items = list(value)
    if not items and not allow_empty:
        raise ValueError(f"`{name}` must hold at least one integer ({example}). Received: "
                         f"{value!r}")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in items):
        raise ValueError(f"`{name}` must be a list or tuple of positive integers ({example}). "
                         f"Received: {value!r}")
    return tuple(int(v) for v in items)


def images(x, image_shape, what="x", unit_range=False, model=None):
    """`x` as a float32 batch of images of `image_shape`, checked: a batch (not one image),
    the right shape, not empty, no NaN or infinity, and with `unit_range` every value in
    [0, 1] (a model reconstructing with binary cross-entropy; 0-255 images are named as
    such).

    Args:
        x: an array-like `(N, *image_shape)`.
        image_shape: one image's shape, e.g. (28, 28, 1).
        what: the argument's name, for the message.
        unit_range: whether values must lie in [0, 1].
        model: the model's name, for the message.

    Returns:
        A float32 numpy array.
    """
    image_shape = tuple(image_shape)
    of = f" ({model})" if model else ""
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"`{what}` must be a numeric array of images{of}. Received dtype "
                         f"{x.dtype}")
    if tuple(x.shape) == image_shape:
        raise ValueError(f"`{what}` must be a batch of images, shape (N, "
                         f"{', '.join(map(str, image_shape))}){of}. Received one image of "
                         f"shape {x.shape}: add a batch axis (x[None])")
    if x.ndim < 2 or tuple(x.shape[1:]) != image_shape:
        raise ValueError(f"`{what}` must hold images of shape {image_shape}{of}. Received an "
                         f"array of shape {x.shape}")
    if len(x) == 0:
        raise ValueError(f"`{what}` holds no images")
    integer = np.issubdtype(x.dtype, np.integer)
    x = x.astype("float32", copy=False)
    finite = np.isfinite(x)
    if not finite.all():
        bad = int(x.size - np.count_nonzero(finite))
        first = int(np.argmin(finite.reshape(len(x), -1).all(axis=1)))
        raise ValueError(f"`{what}` holds {bad} NaN or infinite value(s) (the first in image "
                         f"{first}); clean or drop them before training")
    if unit_range:
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            hint = ("integer images in 0-255: divide by 255" if integer or hi > 1.5
                    else "rescale to [0, 1] (e.g. (x + 1) / 2)")
            raise ValueError(f"`{what}` holds values in [{lo:g}, {hi:g}]; {model or 'this model'}"
                             " reconstructs with binary cross-entropy and takes images in "
                             f"[0, 1]: {hint}, or build it with recon_loss='mse'")
    return x


def is_cross_entropy(loss):
    """Whether a Keras loss (a name, a function or a `Loss`) is a binary cross-entropy, whose
    targets must lie in [0, 1].

    Args:
        loss: a loss.

    Returns:
        A bool.
    """
    name = loss if isinstance(loss, str) else getattr(loss, "name", None) or getattr(
        loss, "__name__", type(loss).__name__)
    name = str(name).lower()
    return "binary_crossentropy" in name or name in ("bce", "binarycrossentropy")


def same_batch(a, b, what_a, what_b):
    """Refuses two inputs whose batch sizes differ, in one line.

    Args:
        a, b: arrays (or tensors) with a leading batch axis.
        what_a, what_b: their names, for the message.
    """
    na, nb = int(np.shape(a)[0]), int(np.shape(b)[0])
    if na != nb:
        raise ValueError(f"`{what_a}` holds {na} examples and `{what_b}` {nb}; they must "
                         f"hold the same number (one row of `{what_b}` per example of "
                         f"`{what_a}`)")
