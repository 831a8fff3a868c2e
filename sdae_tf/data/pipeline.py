"""numpy arrays -> `tf.data` pipelines (seeded shuffle, batch, prefetch)."""

import math

import numpy as np
import tensorflow as tf

# A shuffled pipeline runs through this many epochs (fit stops it with steps_per_epoch).
MAX_EPOCHS = 100_000


def steps_per_epoch(num_examples, batch_size, drop_remainder=False):
    """Batches per epoch of a pipeline over `num_examples`.

    Args:
        num_examples: examples per epoch.
        batch_size: examples per batch.
        drop_remainder: whether the last, smaller batch is dropped.

    Returns:
        The number of batches, an int.

    Example:

    ```python
    sdae_tf.data.steps_per_epoch(50000, 128)  # 391
    ```
    """
    if drop_remainder:
        return num_examples // batch_size
    return math.ceil(num_examples / batch_size)


def make_pipeline(x, y=None, batch_size=128, shuffle=False, seed=None, drop_remainder=False,
                  initial_epoch=0):
    """A batched, prefetched `tf.data.Dataset` of `(x, y)` pairs.

    With `y=None` the target is the input itself, `(x, x)`, as autoencoders train. Without
    `shuffle` it is one pass in order. With `shuffle=True` it runs epoch after epoch from
    `initial_epoch`, epoch e in the order `stateless_shuffle(seed=(seed, e))`: the order
    depends only on (seed, epoch), so a run resumed at epoch e sees what an uninterrupted one
    would. Give `fit` `steps_per_epoch(len(x), batch_size)`.

    The arrays live in the graph once; the pipeline shuffles and batches example *indices*
    and gathers each batch in one op. Shuffling the examples themselves copies every example
    through the shuffle buffer, which cost 1-2.5 s per epoch of MNIST codes here (and a
    full buffer fill before the first batch); the index form costs about 0.3 s.

    Args:
        x: inputs, an array (N, ...).
        y: targets (N, ...), or None for `(x, x)`.
        batch_size: examples per batch.
        shuffle: reshuffle every epoch, repeating (see above); else one pass in order.
        seed: seeds the shuffles.
        drop_remainder: drop the last, smaller batch.
        initial_epoch: the epoch a resumed run starts at (its order is that epoch's).

    Returns:
        A `tf.data.Dataset` of `(x, y)` batches.

    Raises:
        ValueError: a batch size below 1, an empty `x`, or `x` and `y` of different lengths.

    Example:

    ```python
    ds = sdae_tf.data.make_pipeline(images, batch_size=4, shuffle=True, seed=0)
    x, target = next(iter(ds))  # target is x: the autoencoder's pair
    ```
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    n = len(x)
    if n == 0:
        raise ValueError("Cannot build a pipeline from an empty array")
    if y is not None and len(y) != n:
        raise ValueError(f"x and y differ in length: {n} and {len(y)}")
    x = tf.constant(x)
    y = x if y is None else tf.constant(y)
    if shuffle:
        seed = int(np.random.randint(2**31)) if seed is None else int(seed)

        def epoch_batches(epoch):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
            return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder)

        ds = tf.data.Dataset.range(initial_epoch, MAX_EPOCHS).flat_map(epoch_batches)
    else:
        ds = tf.data.Dataset.range(n).batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(lambda i: (tf.gather(x, i), tf.gather(y, i)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
