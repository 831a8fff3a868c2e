"""Reconstruction losses summed over an example's components (the ELBO's scale), for VAEs."""

import keras
from keras import ops

from sdae_tf.package import NAME as PACKAGE


def _flat(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


@keras.saving.register_keras_serializable(package=PACKAGE)
def summed_binary_crossentropy(y_true, y_pred):
    """Bernoulli negative log-likelihood of each example: BCE summed over its components.

    Args:
        y_true: the targets (batch, ...).
        y_pred: the reconstructions, the same shape.

    Returns:
        A (batch,) tensor, one loss per example.
    """
    y_pred = ops.clip(_flat(y_pred), 1e-7, 1.0 - 1e-7)
    y_true = _flat(y_true)
    return -ops.sum(y_true * ops.log(y_pred) + (1.0 - y_true) * ops.log(1.0 - y_pred), axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
def summed_squared_error(y_true, y_pred):
    """Unit-variance Gaussian negative log-likelihood (up to a constant): 0.5 * summed SE.

    Args:
        y_true: the targets (batch, ...).
        y_pred: the reconstructions, the same shape.

    Returns:
        A (batch,) tensor, one loss per example.
    """
    return 0.5 * ops.sum(ops.square(_flat(y_true) - _flat(y_pred)), axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
def summed_mse(y_true, y_pred):
    """Squared error summed over an example's components, without the Gaussian NLL's 0.5: the
    report's VAE reconstruction loss (`F.mse_loss(..., reduction="sum")`, per example).

    Args:
        y_true: the targets (batch, ...).
        y_pred: the reconstructions, the same shape.

    Returns:
        A (batch,) tensor, one loss per example.
    """
    return ops.sum(ops.square(_flat(y_true) - _flat(y_pred)), axis=-1)
