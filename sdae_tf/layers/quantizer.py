"""The VQ-VAE's vector quantiser (van den Oord et al. 2017): each code vector replaced by its
nearest codebook entry, the gradient passed straight through, the codebook and commitment
losses, and the codebook's use counted per epoch (perplexity, share of dead codes)."""

import keras
from keras import ops

from sdae_tf.package import NAME as PACKAGE


def check_num_codes(num_codes):
    """Refuses a codebook of fewer than 2 codes (one line).

    Args:
        num_codes: the codebook's size.

    Raises:
        ValueError: fewer than 2 codes.
    """
    if isinstance(num_codes, bool) or int(num_codes) < 2:
        raise ValueError(f"`num_codes` must be at least 2 (a codebook of one code carries no "
                         f"information). Received: num_codes={num_codes}")


@keras.saving.register_keras_serializable(package=PACKAGE)
class VectorQuantizer(keras.layers.Layer):
    """(batch, ..., D) code vectors -> [quantised (same shape; straight-through gradient),
    loss (batch,), indices (batch, ...)].

    `loss` is, per example, the mean over its vectors of `commitment * |z - sg(e)|^2` plus, with
    a learned codebook (`ema=False`), `|sg(z) - e|^2`; with `ema=True` the codebook follows an
    exponential moving average of the vectors assigned to each code (`decay`) instead, and a
    code whose average count falls below `restart` (a dead code) restarts at a random vector
    of the batch (seedable), against the codebook collapse of plain VQ-VAE training. While
    training, the layer counts how often each code is chosen (`counts`, reset by
    `reset_usage`); `usage()` gives the perplexity of that distribution and the share of codes
    never chosen.

    Args:
        num_codes: codebook size (>= 2).
        commitment: weight of the commitment term (the paper's beta, 0.25).
        ema: exponential-moving-average codebook updates instead of a codebook loss.
        decay: the moving average's decay.
        restart: the average count (vectors per batch) below which an EMA code restarts.
        seed: seeds the restarts.

    Example:

    ```python
    vq = sdae_tf.layers.VectorQuantizer(num_codes=16, ema=True, seed=0)
    codes = np.random.default_rng(0).normal(size=(2, 7, 7, 8)).astype("float32")
    quantised, commitment, indices = vq(codes)  # indices (2, 7, 7) in [0, 16)
    ```
    """

    def __init__(self, num_codes=128, commitment=0.25, ema=False, decay=0.99, restart=1.0,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        check_num_codes(num_codes)
        self.num_codes, self.commitment = int(num_codes), float(commitment)
        self.ema, self.decay, self.restart = bool(ema), float(decay), float(restart)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        dim = int(input_shape[-1])
        init = keras.initializers.RandomUniform(-1.0 / self.num_codes, 1.0 / self.num_codes)
        self.codebook = self.add_weight(shape=(self.num_codes, dim), initializer=init,
                                        trainable=not self.ema, name="codebook")
        self.counts = self.add_weight(shape=(self.num_codes,), initializer="zeros",
                                      trainable=False, name="counts")
        if self.ema:
            self.ema_size = self.add_weight(shape=(self.num_codes,), initializer="ones",
                                            trainable=False, name="ema_size")
            self.ema_sum = self.add_weight(shape=(self.num_codes, dim), initializer=init,
                                           trainable=False, name="ema_sum")

    def call(self, z, training=None):
        dim = z.shape[-1]
        flat = ops.reshape(z, (-1, dim))
        codebook = ops.cast(self.codebook, flat.dtype)
        distances = (ops.sum(flat**2, axis=1, keepdims=True) - 2.0 * flat @ ops.transpose(codebook)
                     + ops.sum(codebook**2, axis=1)[None, :])
        indices = ops.argmin(distances, axis=1)
        onehot = ops.one_hot(indices, self.num_codes, dtype=flat.dtype)
        quantised = ops.reshape(onehot @ codebook, ops.shape(z))
        if training:
            self.counts.assign_add(ops.sum(onehot, axis=0))
            if self.ema:
                size = self.decay * self.ema_size + (1 - self.decay) * ops.sum(onehot, axis=0)
                total = self.decay * self.ema_sum + (1 - self.decay) * (
                    ops.transpose(onehot) @ ops.stop_gradient(flat))
                n = ops.sum(size)
                smoothed = (size + 1e-5) / (n + self.num_codes * 1e-5) * n  # Laplace
                means = total / smoothed[:, None]
                # Dead codes restart at random vectors of the batch, counted as one.
                dead = ops.cast(size < self.restart, flat.dtype)[:, None]
                picks = keras.random.randint((self.num_codes,), 0, ops.shape(flat)[0],
                                             seed=self.seed_generator)
                fresh = ops.stop_gradient(ops.take(flat, picks, axis=0))
                self.ema_size.assign(dead[:, 0] + (1 - dead[:, 0]) * size)
                self.ema_sum.assign(dead * fresh + (1 - dead) * total)
                self.codebook.assign(dead * fresh + (1 - dead) * means)
        axes = tuple(range(1, len(z.shape)))
        commit = ops.mean((z - ops.stop_gradient(quantised)) ** 2, axis=axes)
        loss = self.commitment * commit
        if not self.ema:
            loss = loss + ops.mean((ops.stop_gradient(z) - quantised) ** 2, axis=axes)
        straight = z + ops.stop_gradient(quantised - z)
        return [straight, loss, ops.reshape(ops.cast(indices, "int32"), ops.shape(z)[:-1])]

    def compute_output_shape(self, input_shape):
        return [input_shape, (input_shape[0],), tuple(input_shape[:-1])]

    def reset_usage(self):
        self.counts.assign(ops.zeros(self.counts.shape, self.counts.dtype))

    def usage(self):
        """{"perplexity": exp(entropy) of the codes chosen since the last reset (1 to
        num_codes), "dead_share": share of codes never chosen}; None before any count."""
        import numpy as np

        counts = np.asarray(self.counts, dtype="float64")
        if counts.sum() == 0:
            return None
        p = counts / counts.sum()
        entropy = -np.sum(p[p > 0] * np.log(p[p > 0]))
        return {"perplexity": float(np.exp(entropy)),
                "dead_share": float(np.mean(counts == 0))}

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes,
                "commitment": self.commitment, "ema": self.ema, "decay": self.decay,
                "restart": self.restart, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AddLoss(keras.layers.Layer):
    """[x, loss] -> x, adding `weight` times the mean of `loss` (per example) to the model's
    losses; on the path to the outputs so a functional model keeps it.

    Args:
        weight: the loss's weight in the model's total.

    Example:

    ```python
    inputs = keras.Input((4,))
    penalty = keras.layers.Lambda(lambda x: keras.ops.sum(x ** 2, axis=1))(inputs)
    outputs = sdae_tf.layers.AddLoss(0.1)([inputs, penalty])  # model.losses gains it
    ```
    """

    def __init__(self, weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)

    def call(self, inputs):
        x, loss = inputs
        self.add_loss(self.weight * ops.mean(loss))
        return x

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


class CodebookUsage(keras.callbacks.Callback):
    """Logs a quantiser's use per epoch (`perplexity`, `dead_codes`: the share never chosen)
    into the epoch's logs, so `History` and the run record keep them.

    Args:
        quantizer: the `VectorQuantizer` layer whose choices are counted.

    Example:

    ```python
    family = sdae_tf.zoo.build("vqvae_mnist", (28, 28, 1), num_codes=8)
    usage = sdae_tf.layers.CodebookUsage(family.quantizer)  # model.fit(..., callbacks=[usage])
    ```
    """

    def __init__(self, quantizer):
        super().__init__()
        self.quantizer = quantizer

    def on_epoch_begin(self, epoch, logs=None):
        self.quantizer.reset_usage()

    def on_epoch_end(self, epoch, logs=None):
        used = self.quantizer.usage()
        if used is not None and logs is not None:
            logs["perplexity"] = used["perplexity"]
            logs["dead_codes"] = used["dead_share"]
