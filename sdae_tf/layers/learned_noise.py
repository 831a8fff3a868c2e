"""The report's "noise transformer" (section 4): Gaussian noise whose sigma a small network
predicts from the input, trained to keep the autoencoder's task hard."""

import math

import keras
from keras import ops

from sdae_tf.layers import draws
from sdae_tf.layers.noise import PACKAGE, check_seed, tracked_seed_generator


@keras.saving.register_keras_serializable(package=PACKAGE)
class LearnedGaussianNoise(keras.layers.Layer):
    """`x + sigma(x) * eps`, with `sigma(x)` from a dense network `input -> input/2 (ReLU) -> 1`.

    `sigma = floor + (1 - floor) * sigmoid(a)`: it stays within `[floor, 1]` and, unlike a hard
    clamp at the floor (whose gradient is zero below it, which left sigma stuck in the report's
    experiments), always passes a gradient. `eps ~ N(0, 1)` is drawn outside the differentiable
    path (reparameterization), so d(output)/d(sigma) = eps.

    The layer only predicts and applies sigma; a training step (see
    `sdae_tf.zoo.LearnedSigmaBlock`) rewards it with `-lambda * mean(sigma)`.
    Like the other noise layers it is the identity unless `training=True`.

    Args:
        floor: lower bound of sigma, in [0, 1) (the report: 0.4).
        per_component: one sigma per input component instead of one per example (the
            report's first attempt, which learned to noise the background only).
        hidden_units: width of the hidden layer (default: half the input size).
        seed: optional integer seed of eps.

    Example:

    ```python
    layer = sdae_tf.layers.LearnedGaussianNoise(floor=0.4, seed=0)
    flat = images.reshape(len(images), -1)
    noisy, sigma = layer(flat, training=True, return_sigma=True)  # sigma in [0.4, 1]
    ```
    """

    def __init__(self, floor=0.4, per_component=False, hidden_units=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor < 1:
            raise ValueError(f"`floor` must be a number in [0, 1). Received: floor={floor!r}")
        if hidden_units is not None and (not isinstance(hidden_units, int) or hidden_units < 1):
            raise ValueError(
                f"`hidden_units` must be a positive integer or None. "
                f"Received: hidden_units={hidden_units!r}"
            )
        self.floor = float(floor)
        self.per_component = bool(per_component)
        self.hidden_units = hidden_units
        self.seed = check_seed(seed)
        self.seed_generator = tracked_seed_generator(self, seed)

    def build(self, input_shape):
        dim = math.prod(input_shape[1:])
        self.hidden = keras.layers.Dense(self.hidden_units or max(1, dim // 2),
                                         activation="relu", name="sigma_hidden")
        self.out = keras.layers.Dense(dim if self.per_component else 1, name="sigma_logit")
        self.hidden.build((None, dim))
        self.out.build((None, self.hidden.units))

    def sigma(self, inputs):
        """Predicted sigma, `(batch, 1)` or `(batch, components)`, within [floor, 1]."""
        if not self.built:
            self.build(tuple(inputs.shape))
            self.built = True
        flat = ops.reshape(inputs, (ops.shape(inputs)[0], -1))
        return self.floor + (1.0 - self.floor) * ops.sigmoid(self.out(self.hidden(flat)))

    def call(self, inputs, training=False, return_sigma=False):
        if not training:
            return (inputs, self.sigma(inputs)) if return_sigma else inputs
        sigma = self.sigma(inputs)
        flat = ops.reshape(inputs, (ops.shape(inputs)[0], -1))
        eps = ops.stop_gradient(draws.normal(ops.shape(flat), dtype=self.compute_dtype,
                                              seed=self.seed_generator))
        noisy = ops.reshape(flat + sigma * eps, ops.shape(inputs))
        return (noisy, sigma) if return_sigma else noisy

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "floor": self.floor,
            "per_component": self.per_component,
            "hidden_units": self.hidden_units,
            "seed": self.seed,
        }
