"""The layers' random draws: `keras.random.normal`, `uniform` and `dropout`, the same numbers,
except that on TensorFlow they name the Philox algorithm instead of letting TensorFlow pick.

Outside XLA TensorFlow's CPU pick is Philox already, so the draws are those of `keras.random`
(tested). Inside an XLA-compiled step (`--jit_compile` on TensorFlow) the pick is made at run
time from a dynamic batch shape, and that path trained the SDAE block about 4x slower than the
same step with Philox named (`benchmarks/perf.py xla_rng`). JAX draws through `keras.random`.
"""

import keras


def _tf_seed(seed):
    """The int32 pair a TensorFlow stateless op takes, drawn from `seed` (a
    `keras.random.SeedGenerator`) as `keras.random` draws it (the generator advanced once)."""
    import tensorflow as tf

    value = seed.next()
    if value.dtype != tf.int32:
        value = tf.cast(tf.math.floormod(value, tf.int32.max - 1), tf.int32)
    return value


def _philox(seed):
    return keras.backend.backend() == "tensorflow" and isinstance(seed, keras.random.SeedGenerator)


def normal(shape, stddev=1.0, dtype=None, seed=None):
    """`keras.random.normal(shape, stddev=stddev, dtype=dtype, seed=seed)`, Philox on TensorFlow.

    Args:
        shape: the draw's shape.
        stddev: its standard deviation (mean 0).
        dtype: its dtype (default: Keras' float type).
        seed: a `keras.random.SeedGenerator` (an int or None: `keras.random` as it is).

    Returns:
        A tensor of normal draws.

    Example:

    ```python
    gen = keras.random.SeedGenerator(0)
    eps = sdae_tf.layers.draws.normal((2, 3), seed=gen)
    ```
    """
    if not _philox(seed):
        return keras.random.normal(shape, stddev=stddev, dtype=dtype, seed=seed)
    import tensorflow as tf

    return tf.random.stateless_normal(shape, stddev=stddev, dtype=dtype or keras.config.floatx(),
                                      seed=_tf_seed(seed), alg="philox")


def uniform(shape, dtype=None, seed=None):
    """`keras.random.uniform(shape, dtype=dtype, seed=seed)` in [0, 1), Philox on TensorFlow.

    Args:
        shape: the draw's shape.
        dtype: its dtype (default: Keras' float type).
        seed: a `keras.random.SeedGenerator` (an int or None: `keras.random` as it is).

    Returns:
        A tensor of uniform draws.

    Example:

    ```python
    u = sdae_tf.layers.draws.uniform((2, 3), seed=keras.random.SeedGenerator(0))
    ```
    """
    if not _philox(seed):
        return keras.random.uniform(shape, dtype=dtype, seed=seed)
    import tensorflow as tf

    dtype = dtype or keras.config.floatx()
    return tf.random.stateless_uniform(shape, minval=tf.cast(0.0, dtype),
                                       maxval=tf.cast(1.0, dtype), dtype=dtype,
                                       seed=_tf_seed(seed), alg="philox")


def dropout(inputs, rate, seed=None):
    """`keras.random.dropout(inputs, rate, seed=seed)`, Philox on TensorFlow.

    Args:
        inputs: the tensor to drop components of.
        rate: the dropped fraction, in [0, 1].
        seed: a `keras.random.SeedGenerator` (an int or None: `keras.random` as it is).

    Returns:
        `inputs` with each component zeroed with probability `rate`, the rest scaled by
        `1 / (1 - rate)`.

    Example:

    ```python
    y = sdae_tf.layers.draws.dropout(np.ones((2, 3)), 0.5, seed=keras.random.SeedGenerator(0))
    ```
    """
    if not _philox(seed) or rate in (0.0, 1.0):
        return keras.random.dropout(inputs, rate, seed=seed)
    import tensorflow as tf

    return tf.nn.experimental.stateless_dropout(inputs, rate=rate, seed=_tf_seed(seed),
                                                rng_alg="philox")
