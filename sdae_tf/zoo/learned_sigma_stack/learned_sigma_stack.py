"""SDAE with learned noise (report section 4): each block's Gaussian sigma is predicted by a
noise network that is rewarded for keeping reconstruction hard."""

import keras
import tensorflow as tf
from keras import ops

from sdae_tf.layers import LearnedGaussianNoise
from sdae_tf.optimizers import FusedAdam
from sdae_tf.optimizers.partitioned import PartitionedOptimizer
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.dense_stack.dense_stack import DenseStack


def _replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


class LearnedSigmaBlock(keras.Model):
    """One denoising block trained with two optimizers over disjoint variables.

    Both gradients come from one forward and one backward pass, then each optimizer applies
    its own:
    - the autoencoder (`autoencoder`) on the reconstruction loss (the compiled loss), with the
      compiled optimizer;
    - the noise network (`noise`) on `reconstruction - lam * mean(sigma)`, with its own
      `noise_optimizer`.
    The sigma reward does not depend on the autoencoder's variables, so one gradient of the
    noise loss serves both (d(noise_loss)/d(autoencoder) = d(loss)/d(autoencoder)); `compile`
    joins the two optimizers in one `PartitionedOptimizer`, the one optimizer whose state
    Keras' trainers carry. The step is written for every backend: TensorFlow's `GradientTape`
    step, and JAX's stateless one (the same terms, `jax.value_and_grad`).

    Logged per epoch: `loss` (reconstruction), `noise_loss`, `sigma` (mean predicted sigma).
    Validation (`test_step`) measures the clean reconstruction, as for the fixed-noise blocks,
    and the sigma the network would apply.

    Args:
        noise: a `LearnedGaussianNoise` layer.
        autoencoder: a Keras model, clean block input -> reconstruction (no noise inside).
        lam: weight of the sigma reward (report: 0.026 for block 1, 0.016 for block 2).
        noise_learning_rate: Adam learning rate of the noise network.

    Example:

    ```python
    family = sdae_tf.zoo.build("sdae_learned_sigma_mnist", (28, 28, 1), hidden_units=(64,),
                               lambdas=(0.026,))
    block = family.pretrain_model(0)
    block.compile(optimizer="adam", loss="binary_crossentropy")
    block.fit(images, images, epochs=1, verbose=0)  # noise net and autoencoder, own losses
    ```
    """

    def __init__(self, noise, autoencoder, lam, noise_learning_rate=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.noise = noise
        self.autoencoder = autoencoder
        self.lam = float(lam)
        self.noise_optimizer = FusedAdam(noise_learning_rate)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.noise_loss_tracker = keras.metrics.Mean(name="noise_loss")
        self.sigma_tracker = keras.metrics.Mean(name="sigma")
        self.noise.build((None, *autoencoder.input_shape[1:]))
        # Variables must exist before the first traced step (see STACK_NOTES).
        self.noise_optimizer.build(self.noise.trainable_variables)
        self.built = True  # both parts are built: weights can be saved before any step

    def call(self, inputs, training=False):
        return self.autoencoder(self.noise(inputs, training=training), training=training)

    def compile(self, optimizer="rmsprop", loss=None, *args, **kwargs):
        """Keras' `compile` (same arguments); `optimizer` trains the autoencoder, joined with
        the noise network's own optimizer in one `PartitionedOptimizer`."""
        optimizer = keras.optimizers.get(optimizer)
        if not isinstance(optimizer, PartitionedOptimizer):
            optimizer = PartitionedOptimizer(
                optimizer, [(self.noise_optimizer, self.noise.trainable_variables)])
        super().compile(optimizer, loss, *args, **kwargs)

    def build_optimizers(self):
        """Builds the optimizers over the variables the step applies them to (a restored
        checkpoint needs the slots to exist; the noise optimizer is built already)."""
        if not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return [self.loss_tracker, self.noise_loss_tracker, self.sigma_tracker]

    def _loss_terms(self, x, y, training):
        """(reconstruction loss, noise loss, mean sigma) of one replica's batch. Under a
        `tf.distribute` strategy Keras' compiled loss comes divided by the number of replicas
        (the gradients are summed over replicas: the global-batch mean); the sigma reward is
        scaled alike, and `_track` logs the unscaled values."""
        noisy, sigma = self.noise(x, training=training, return_sigma=True)
        reconstruction = self.autoencoder(noisy, training=training)
        loss = self.compute_loss(x=x, y=y, y_pred=reconstruction)
        mean_sigma = ops.mean(sigma)
        reward = self.lam * mean_sigma / _replicas()
        return loss, loss - reward, mean_sigma

    def _test_terms(self, x, y):
        reconstruction = self.autoencoder(x, training=False)
        loss = self.compute_loss(x=x, y=y, y_pred=reconstruction)
        mean_sigma = ops.mean(self.noise.sigma(x))
        return loss, loss - self.lam * mean_sigma / _replicas(), mean_sigma

    def _track(self, loss, noise_loss, mean_sigma):
        replicas = _replicas()
        self.loss_tracker.update_state(loss * replicas)
        self.noise_loss_tracker.update_state(noise_loss * replicas)
        self.sigma_tracker.update_state(mean_sigma)
        return {m.name: m.result() for m in self.metrics}

    if keras.backend.backend() == "jax":

        def _stateless(self, variables, values, fn):
            """`fn()` with `variables` holding `values`; (its result, the variables' values
            after it)."""
            mapping = list(zip(variables, values, strict=True))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                result = fn()
            updated = [scope.get_current_value(v) for v in variables]
            return result, [u if u is not None else old
                           for u, old in zip(updated, values, strict=True)]

        def _noise_loss(self, trainable, non_trainable, x, y):
            terms, values = self._stateless(
                self.trainable_variables + self.non_trainable_variables,
                list(trainable) + list(non_trainable),
                lambda: self._loss_terms(x, y, training=True))
            return terms[1], (terms, values[len(trainable):])

        def train_step(self, state, data):
            import jax

            trainable, non_trainable, optimizer_values, metrics_values = state
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            (_, (terms, non_trainable)), grads = jax.value_and_grad(
                self._noise_loss, has_aux=True)(trainable, non_trainable, x, y)
            trainable, optimizer_values = self.optimizer.stateless_apply(
                optimizer_values, grads, trainable)
            logs, metrics_values = self._stateless(self.metrics_variables, metrics_values,
                                                   lambda: self._track(*terms))
            return logs, (trainable, non_trainable, optimizer_values, metrics_values)

        def test_step(self, state, data):
            trainable, non_trainable, metrics_values = state
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            terms, _ = self._stateless(self.trainable_variables + self.non_trainable_variables,
                                       list(trainable) + list(non_trainable),
                                       lambda: self._test_terms(x, y))
            logs, metrics_values = self._stateless(self.metrics_variables, metrics_values,
                                                   lambda: self._track(*terms))
            return logs, (trainable, non_trainable, metrics_values)

    else:

        def gradients(self, x, y):
            """(the noise loss's gradients for `trainable_variables`, the loss terms) of one
            batch: one backward pass for both parts (see the class)."""
            with tf.GradientTape() as tape:
                terms = self._loss_terms(x, y, training=True)
            return tape.gradient(terms[1], self.trainable_variables), terms

        def train_step(self, data):
            x, y = data
            grads, terms = self.gradients(x, y)
            self.optimizer.apply(grads, self.trainable_variables)
            return self._track(*terms)

        def test_step(self, data):
            x, y = data
            return self._track(*self._test_terms(x, y))


@keras.saving.register_keras_serializable(package=PACKAGE)
class LearnedSigmaStack(DenseStack):
    """A `DenseStack` whose blocks corrupt their input with learned Gaussian noise.

    Args:
        input_shape, hidden_units, activation, loss, seed, name: as `DenseStack`.
        lambdas: sigma reward weight per block (report: 0.026, 0.016).
        floor: lower bound of sigma (report: 0.4).
        per_component: one sigma per input component instead of one per example.
        noise_learning_rate: Adam learning rate of the noise networks.

    Example:

    ```python
    family = sdae_tf.zoo.build("sdae_learned_sigma_mnist", (28, 28, 1), hidden_units=(64, 32))
    block_1 = family.pretrain_model(0)  # a LearnedSigmaBlock: its own train_step
    ```
    """

    NOISE_TYPES = ("none", "learned_gaussian")  # "none" and unset both mean: learned
    MIXED_PRECISION = False  # its custom train step (two optimizers) is float32 only
    END_TO_END = False  # each block's noise network is trained with its own block

    def __init__(self, input_shape, hidden_units=(1000, 1000), activation="sigmoid",
                 lambdas=(0.026, 0.016), floor=0.4, per_component=False,
                 noise_learning_rate=1e-3, loss="binary_crossentropy", seed=None,
                 name="sdae_learned_sigma", noise_type=None, noise_level=None, **kwargs):
        super().__init__(input_shape, hidden_units, activation, noise_type="none",
                         noise_level=0.0, loss=loss, seed=seed, name=name, **kwargs)
        if noise_type not in (None, "none", "learned_gaussian"):
            raise ValueError(
                "The learned-sigma SDAE learns its Gaussian noise; it takes no other noise "
                f"type. Received: noise_type={noise_type!r}"
            )
        if noise_level is not None:
            floor = noise_level  # --noise_level sets the floor of the learned sigma
        lambdas = tuple(float(v) for v in lambdas)
        if len(lambdas) != self.num_blocks:
            raise ValueError(
                f"`lambdas` needs one value per block ({self.num_blocks}). "
                f"Received: lambdas={lambdas!r}"
            )
        LearnedGaussianNoise(floor=floor)  # validates the floor early
        self.lambdas, self.floor = lambdas, float(floor)
        self.per_component = per_component
        self.noise_learning_rate = noise_learning_rate
        self.noise_layers = [None] * self.num_blocks

    def pretrain_model(self, k):
        plain = super().pretrain_model(k)  # no noise inside: noise_type is "none"
        seed = None if self.seed is None else self.seed + k
        self.noise_layers[k] = LearnedGaussianNoise(
            floor=self.floor, per_component=self.per_component, seed=seed,
            name=f"learned_noise_{k + 1}",
        )
        return LearnedSigmaBlock(self.noise_layers[k], plain, self.lambdas[k],
                                 self.noise_learning_rate, name=f"{self.name}_block_{k + 1}")

    def describe(self):
        return {
            **super().describe(),
            "family": self.family_name(),
            "noise": {"type": "learned_gaussian", "floor": self.floor,
                      "lambdas": list(self.lambdas), "per_component": self.per_component},
        }
