"""Reparameterization sampling for VAEs, with the KL term added as a layer loss."""

import keras
from keras import ops

from sdae_tf.layers import draws
from sdae_tf.layers.noise import PACKAGE, check_seed, tracked_seed_generator


@keras.saving.register_keras_serializable(package=PACKAGE)
class Sampling(keras.layers.Layer):
    """Draws `z = mu + exp(0.5 * logvar) * eps` from inputs `[mu, logvar]`.

    It adds `kl_weight * mean_batch(KL(N(mu, exp(logvar)) || N(0, I)))` with `add_loss` on every
    call, so a model that contains it trains on the KL term without further wiring.

    Args:
        kl_weight: weight of the KL term, >= 0 (0 disables it).
        deterministic: if True, return `mu` instead of a sample (features, reconstructions).
        seed: optional integer seed of the layer's random generator.

    Example:

    ```python
    mu, logvar = np.zeros((4, 2), "float32"), np.zeros((4, 2), "float32")
    z = sdae_tf.layers.Sampling(seed=0)([mu, logvar])  # mu + exp(logvar / 2) * eps; adds the KL
    ```
    """

    def __init__(self, kl_weight=1.0, deterministic=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(kl_weight, bool) or not isinstance(kl_weight, (int, float)) or kl_weight < 0:
            raise ValueError(
                f"`kl_weight` must be a number >= 0. Received: kl_weight={kl_weight!r}"
            )
        if not isinstance(deterministic, bool):
            raise ValueError(
                f"`deterministic` must be a bool. Received: deterministic={deterministic!r}"
            )
        self.kl_weight = float(kl_weight)
        self.deterministic = deterministic
        self.seed = check_seed(seed)
        self.seed_generator = tracked_seed_generator(self, seed)
        self.built = True

    @staticmethod
    def kl_divergence(mu, logvar):
        """Per-example KL(N(mu, exp(logvar)) || N(0, I)), summed over the latent axis."""
        return -0.5 * ops.sum(1.0 + logvar - ops.square(mu) - ops.exp(logvar), axis=-1)

    def call(self, inputs):
        mu, logvar = inputs
        if self.kl_weight > 0:
            self.add_loss(self.kl_weight * ops.mean(self.kl_divergence(mu, logvar)))
        if self.deterministic:
            return mu
        eps = draws.normal(ops.shape(mu), dtype=self.compute_dtype, seed=self.seed_generator)
        return mu + ops.exp(0.5 * logvar) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "kl_weight": self.kl_weight,
            "deterministic": self.deterministic,
            "seed": self.seed,
        }
