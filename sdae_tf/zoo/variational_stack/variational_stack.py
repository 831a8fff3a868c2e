"""Variational autoencoders: VAE, denoising VAE (noise on the input, Im et al. 2015) and the
stacked DVAE trained layer-wise (report section 3). Features are the latent means."""

import math

import keras

from sdae_tf.layers import Sampling, corrupt, make_noise
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.family import Family
from sdae_tf.zoo.losses import summed_binary_crossentropy, summed_mse, summed_squared_error


@keras.saving.register_keras_serializable(package=PACKAGE)
class VariationalStack(Family):
    """One or more VAE blocks; block k encodes the latent mean of block k - 1.

    Block k: `noise -> Dense(hidden, ReLU) -> (mu, logvar) -> Sampling (+KL) -> Dense(hidden,
    ReLU) -> Dense(input)`. Block 1 reconstructs images in [0, 1] (sigmoid output, Bernoulli
    likelihood: summed binary cross-entropy); later blocks reconstruct real-valued means
    (linear output, summed squared error). VAE and DVAE share the loss, so they compare cleanly.
    `loss="mse"` replaces block 1's likelihood by the summed squared error (the report's VAE).

    Args:
        input_shape: shape of one example.
        hidden_units: hidden width of each block, e.g. (400,).
        latent_units: latent size of each block, e.g. (20,); the last is the embedding size.
        noise_type, noise_level: input corruption of each block while training (DVAE).
        kl_weight: weight of the KL term.
        loss: block 1's reconstruction loss, "bce" (summed binary cross-entropy, the default)
            or "mse" (summed squared error, the report's VAE).
        seed: seeds noise and sampling.
        name: prefix of the Keras models' names.

    Example:

    ```python
    family = sdae_tf.zoo.build("dvae_mnist", (28, 28, 1))
    z_mean = family.encoder(images)  # (8, 20): the features
    ```
    """

    # `--recon_loss` -> this family's `loss` argument.
    EMBEDDING_PARAM = "latent_units"
    # Faster under XLA on TensorFlow (benchmarks/results/perf_backends.json).
    JIT_COMPILE = True
    RECON_LOSS_ARGS = {"bce": "bce", "mse": "mse"}
    FIGURES = frozenset({"filters", "reconstructions", "traversal", "tsne", "manifold",
                         "interpolation"})

    def __init__(self, input_shape, hidden_units=(400,), latent_units=(20,), noise_type="none",
                 noise_level=0.0, kl_weight=1.0, loss="bce", seed=None, name="vae", **kwargs):
        if len(hidden_units) != len(latent_units) or not latent_units:
            raise ValueError(
                "`hidden_units` and `latent_units` must be non-empty and of equal length. "
                f"Received: hidden_units={hidden_units!r}, latent_units={latent_units!r}"
            )
        make_noise(noise_type, noise_level)
        if loss not in self.RECON_LOSS_ARGS.values():
            raise ValueError(f"`loss` must be 'bce' or 'mse'. Received: loss={loss!r}")
        self.reconstruction_loss = loss
        self.image_shape = tuple(input_shape)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.latent_units = tuple(int(u) for u in latent_units)
        self.noise_type, self.noise_level = noise_type, noise_level
        self.kl_weight, self.seed, self.name = kl_weight, seed, name
        dims = [math.prod(self.image_shape), *self.latent_units]
        dense = keras.layers.Dense
        self.blocks = [
            {
                "hidden": dense(h, activation="relu", name=f"encoder_{k + 1}"),
                "mu": dense(z, name=f"mu_{k + 1}"),
                "logvar": dense(z, name=f"logvar_{k + 1}"),
                "decoder_hidden": dense(h, activation="relu", name=f"decoder_{k + 1}_hidden"),
                "decoder_out": dense(dims[k], activation="sigmoid" if k == 0 else None,
                                     name=f"decoder_{k + 1}_out"),
            }
            for k, (h, z) in enumerate(zip(self.hidden_units, self.latent_units, strict=True))
        ]
        for block, h in zip(self.blocks, self.hidden_units, strict=True):
            block["logvar"].build((None, h))  # in no inference graph, yet in every `.keras`
        self.encoder = self._means_model(len(self.blocks), f"{name}_encoder")
        self._build_model(name, **kwargs)

    @property
    def num_blocks(self):
        return len(self.blocks)

    @property
    def embedding_size(self):
        return self.latent_units[-1]

    def _means_model(self, upto, name):
        inputs = keras.Input(self.image_shape, name="images")
        h = keras.layers.Flatten(name="flatten")(inputs)
        for block in self.blocks[:upto]:
            h = block["mu"](block["hidden"](h))
        return keras.Model(inputs, h, name=name)

    def features_before(self, k):
        """Images -> latent mean of block k - 1 (None for k = 0)."""
        return None if k == 0 else self._means_model(k, f"{self.name}_features_{k}")

    def block_summary(self, k):
        return f"{self.image_shape if k == 0 else self.latent_units[k - 1]} -> " \
               f"{self.hidden_units[k]} -> latent {self.latent_units[k]}"

    def block_loss(self, k):
        if k > 0:  # later blocks reconstruct real-valued means
            return summed_squared_error
        return summed_binary_crossentropy if self.reconstruction_loss == "bce" else summed_mse

    def pretrain_model(self, k):
        """VAE block k: corrupted input -> sample -> reconstruction of the clean input; the
        KL term enters the loss through the `Sampling` layer."""
        block = self.blocks[k]
        shape = self.image_shape if k == 0 else (self.latent_units[k - 1],)
        inputs = keras.Input(shape, name=f"block_{k + 1}_inputs")
        seed = None if self.seed is None else self.seed + 2 * k
        h = corrupt(inputs, self.noise_type, self.noise_level, seed=seed, name=f"noise_{k + 1}")
        h = keras.layers.Flatten()(h) if k == 0 else h
        h = block["hidden"](h)
        z = Sampling(kl_weight=self.kl_weight, seed=None if seed is None else seed + 1,
                     name=f"sampling_{k + 1}")([block["mu"](h), block["logvar"](h)])
        out = block["decoder_out"](block["decoder_hidden"](z))
        if k == 0:
            out = keras.layers.Reshape(shape)(out)
        return keras.Model(inputs, out, name=f"{self.name}_block_{k + 1}")

    def can_train_end_to_end(self):
        return self.num_blocks == 1  # one block: its pretraining is the whole VAE

    def end_to_end_model(self):
        if not self.can_train_end_to_end():
            return super().end_to_end_model()
        return self.pretrain_model(0)

    def build_decoder(self):
        """Latent code of the last block -> images, through every decoder (for samples and
        latent traversals)."""
        code = keras.Input((self.latent_units[-1],), name="latent")
        h = code
        for block in reversed(self.blocks):
            h = block["decoder_out"](block["decoder_hidden"](h))
        return keras.Model(code, keras.layers.Reshape(self.image_shape)(h),
                           name=f"{self.name}_decoder")

    def describe(self):
        return {
            "family": self.family_name(),
            "hidden_units": list(self.hidden_units),
            "latent_units": list(self.latent_units),
            "kl_weight": self.kl_weight,
            "loss": self.reconstruction_loss,
            "noise": {"type": self.noise_type, "level": self.noise_level},
        }
