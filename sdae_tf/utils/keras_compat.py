"""Every use of Keras internals in one place, checked against the Keras versions this package
is tested with (`TESTED`). Outside that range the package still imports; the functions that need
an internal raise an error naming the version instead of failing deep inside Keras."""

import keras

# The Keras minor versions the test suite runs on (setup.cfg's range matches).
TESTED = ((3, 15),)


def keras_version():
    """The installed Keras as (major, minor)."""
    return tuple(int(p) for p in keras.__version__.split(".")[:2])


def check_version(what):
    """Raises a RuntimeError naming `what` when Keras is not a tested version.

    Args:
        what: what needs the tested Keras, for the message.

    Raises:
        RuntimeError: an untested Keras version.
    """
    if keras_version() not in TESTED:
        tested = ", ".join(".".join(map(str, v)) for v in TESTED)
        raise RuntimeError(f"{what} relies on Keras internals tested with Keras {tested}; "
                           f"found {keras.__version__}")


def track_variable(layer, variable):
    """Makes `variable` one of `layer`'s non-trainable weights (so checkpoints carry it):
    Keras' `Layer._track_variable`, which has no public equivalent.

    Args:
        layer: a Keras layer.
        variable: a Keras variable.
    """
    if not hasattr(layer, "_track_variable"):
        check_version("Tracking a noise layer's random-stream state")
        raise RuntimeError("keras Layer._track_variable is missing")
    layer._track_variable(variable)


def tensorflow_trainer_internals():
    """(`keras.src.tree`, `keras.src.backend.tensorflow.trainer`): what the multi-worker patch
    (`sdae_tf.train.distribute`) replaces."""
    check_version("The multi-worker patch")
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    return tree, trainer
