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


def bfloat16_warning(policy, flags=None):
    """The line a run prints when it computes in bfloat16 on a CPU without native bfloat16
    (AVX512-BF16 or AMX), where it can be many times slower than float32; None otherwise or
    off Linux (no flags to read).

    Args:
        policy: the run's precision.
        flags: the CPU's instruction sets (default: `machine.instruction_sets()`).

    Returns:
        A str, or None.
    """
    from sdae_tf.utils import machine

    flags = machine.instruction_sets() if flags is None else flags
    if policy != "mixed_bfloat16" or not flags or {"avx512_bf16", "amx_bf16"} & set(flags):
        return None
    return (f"--precision={policy} on a CPU without native bfloat16 (its flags: "
            f"{', '.join(flags)}): bfloat16 is emulated here and can be many times slower "
            "than float32; measure with `benchmarks/perf.py precision`")


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
