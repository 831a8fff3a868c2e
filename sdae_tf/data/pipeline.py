"""numpy arrays -> `tf.data` pipelines (seeded shuffle, batch, prefetch)."""

import tensorflow as tf


def make_pipeline(x, y=None, batch_size=128, shuffle=False, seed=None, drop_remainder=False):
    """A batched, prefetched `tf.data.Dataset` of `(x, y)` pairs.

    With `y=None` the target is the input itself, `(x, x)`, as autoencoders train. With
    `shuffle=True` the order is reshuffled every epoch from `seed` (same seed, same order).
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    if len(x) == 0:
        raise ValueError("Cannot build a pipeline from an empty array")
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if y is None:
        ds = ds.map(lambda a: (a, a), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
