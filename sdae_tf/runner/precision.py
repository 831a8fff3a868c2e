"""A run's compute precision: Keras' dtype policy for the models it builds, and the float32
copy of a mixed-precision model that is exported and served."""

import contextlib

import keras

from sdae_tf.runner import config as config_lib


@contextlib.contextmanager
def compute_precision(policy):
    """Keras' global dtype policy set to `policy` inside the block, restored after it (the
    models built inside compute in it; their weights stay float32).

    Args:
        policy: a Keras dtype policy name ("float32", "mixed_bfloat16").
    """
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def float32_stack(cfg, stack, input_shape):
    """`stack` itself when it computes in float32, else a float32 copy of it (built afresh,
    the trained weights copied): what is exported and served.

    Args:
        cfg: the run's `TrainConfig`.
        stack: the trained family object.
        input_shape: one example's shape.

    Returns:
        A float32 family object.
    """
    if cfg.precision == "float32":
        return stack
    with compute_precision("float32"):
        copy = config_lib.build_model(cfg, input_shape)
    copy.autoencoder().set_weights(stack.autoencoder().get_weights())  # the encoder's too
    return copy
