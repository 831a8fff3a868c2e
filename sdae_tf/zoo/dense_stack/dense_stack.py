"""Dense stacked (denoising) autoencoders: blocks of Dense + sigmoid, mirrored decoder."""

import math

import keras

from sdae_tf.layers import corrupt, make_noise
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.family import KERAS_RECON_LOSSES, Family


@keras.saving.register_keras_serializable(package=PACKAGE)
class DenseStack(Family):
    """A stack of Dense blocks with a mirrored decoder, trained greedily block by block.

    Block k maps the clean code of blocks < k (the image itself for k = 0) through
    `noise -> encoder_k -> decoder_k` back to that clean code. The encoder alone (`self.encoder`,
    Flatten + the encoder Dense layers, no noise) is what gets fine-tuned and exported.

    Args:
        input_shape: shape of one example, e.g. (28, 28, 1).
        hidden_units: widths of the encoder blocks, e.g. (1000, 1000).
        activation: activation of every block, encoder and decoder (the report: sigmoid).
        noise_type: "gaussian", "salt_and_pepper", "masking" or "none".
        noise_level: Gaussian stddev or corrupted fraction.
        loss: reconstruction loss of each block ("binary_crossentropy" fits [0, 1] targets).
        seed: seeds the noise layers (block k uses seed + k).
        name: prefix of the Keras models' names.
        block_noise_types, block_noise_levels: one noise type / level per block, overriding
            `noise_type` / `noise_level` block by block (e.g. masking at the input, Gaussian on
            the codes; sigma increasing with depth).
        hidden_dropout: dropout rate on each block's hidden code while it is pretrained (the
            dropout autoencoder; 0: none).
        code_activation: activation of the last encoder layer (default: `activation`);
            "linear" gives DEC's unbounded code.
        output_activation: activation of the decoder's last layer, the one that gives the
            image back (default: `activation`; DEC-keras: "linear").
        kernel_initializer: every Dense layer's kernel initializer, a Keras initializer's
            name or its config dict (DEC-keras on MNIST: `{"class_name": "VarianceScaling",
            "config": {"scale": 1 / 3, "mode": "fan_in", "distribution": "uniform"}}`).

    Example:

    ```python
    family = sdae_tf.zoo.build("sdae_mnist", (28, 28, 1), hidden_units=(256, 64))
    block_1 = family.pretrain_model(0)  # noise -> 784-256 -> 784, what the loop trains first
    ```
    """

    EMBEDDING_PARAM = "hidden_units"
    RECON_LOSS_ARGS = KERAS_RECON_LOSSES
    FIGURES = frozenset({"filters", "reconstructions", "samples", "tsne", "manifold",
                         "interpolation"})
    MIXED_PRECISION = True
    END_TO_END = True
    # The base's Adam 1e-3 for the classifier (not the recipes' 2e-3): with the Python API on
    # 3000 MNIST digits (`benchmarks/api_defaults.py`'s setting, seeds 0-5, 2-core Intel Xeon)
    # the SDAE scored 0.888 / 0.923 after 2 + 2 / 5 + 5 epochs at 1e-3 against 0.885 / 0.903
    # at 2e-3 (seed spread 0.01-0.02 at 2e-3, under 0.005 at 1e-3 after 5 + 5).

    def __init__(self, input_shape, hidden_units=(1000, 1000), activation="sigmoid",
                 noise_type="gaussian", noise_level=0.4, loss="binary_crossentropy",
                 seed=None, name="dense_stack", block_noise_types=None,
                 block_noise_levels=None, hidden_dropout=0.0, code_activation=None,
                 output_activation=None, kernel_initializer="glorot_uniform", **kwargs):
        if not hidden_units or any(int(u) < 1 for u in hidden_units):
            raise ValueError(
                f"`hidden_units` must be a non-empty list of positive widths. "
                f"Received: hidden_units={hidden_units!r}"
            )
        self.image_shape = tuple(input_shape)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.noise_type = noise_type
        self.noise_level = noise_level
        self.reconstruction_loss = loss
        self.seed = seed
        self.name = name
        self.block_noise = self._block_noise(block_noise_types, block_noise_levels)
        for kind, level in self.block_noise:
            make_noise(kind, level)  # validates the noise arguments early
        self.hidden_dropout = float(hidden_dropout or 0.0)
        if not 0 <= self.hidden_dropout < 1:
            raise ValueError(f"`hidden_dropout` must be in [0, 1). Received: {hidden_dropout!r}")
        dims = [math.prod(self.image_shape), *self.hidden_units]
        self.code_activation = code_activation or activation
        self.output_activation = output_activation or activation
        try:
            init = keras.initializers.get(kernel_initializer)
        except ValueError as error:
            raise ValueError(f"`kernel_initializer`: {error}") from None
        self.kernel_initializer = keras.initializers.serialize(init)
        last = len(self.hidden_units) - 1
        self.encoder_layers = [
            keras.layers.Dense(u, activation=self.code_activation if k == last else activation,
                               kernel_initializer=keras.initializers.get(self.kernel_initializer),
                               name=f"encoder_{k + 1}")
            for k, u in enumerate(self.hidden_units)
        ]
        self.decoder_layers = [
            keras.layers.Dense(dims[k], activation=self.output_activation if k == 0 else
                               activation,
                               kernel_initializer=keras.initializers.get(self.kernel_initializer),
                               name=f"decoder_{k + 1}")
            for k in range(len(self.hidden_units))
        ]
        inputs = keras.Input(self.image_shape, name="images")
        h = keras.layers.Flatten(name="flatten")(inputs)
        for layer in self.encoder_layers:
            h = layer(h)
        self.encoder = keras.Model(inputs, h, name=f"{name}_encoder")
        self._build_model(name, **kwargs)

    def _block_noise(self, types, levels):
        """[(noise type, level)] of every block: the per-block overrides, else the stack's."""
        n = len(self.hidden_units)
        for label, values in (("block_noise_types", types), ("block_noise_levels", levels)):
            if values is not None and len(values) != n:
                raise ValueError(f"`{label}` needs one value per block ({n}: "
                                 f"{list(self.hidden_units)}). Received: {list(values)}")
        types = list(types) if types is not None else [self.noise_type] * n
        levels = [float(v) for v in levels] if levels is not None else [self.noise_level] * n
        return list(zip(types, levels, strict=True))

    @property
    def num_blocks(self):
        return len(self.hidden_units)

    @property
    def embedding_size(self):
        return self.hidden_units[-1]

    def block_input_shape(self, k):
        return self.image_shape if k == 0 else (self.hidden_units[k - 1],)

    def block_summary(self, k):
        return f"{self.block_input_shape(k)} -> {self.hidden_units[k]}"

    def block_loss(self, k):
        return self.reconstruction_loss

    def features_before(self, k):
        """A model from images to the clean code that block k reconstructs (None for k = 0)."""
        if k == 0:
            return None
        inputs = keras.Input(self.image_shape, name="images")
        h = keras.layers.Flatten()(inputs)
        for layer in self.encoder_layers[:k]:
            h = layer(h)
        return keras.Model(inputs, h, name=f"{self.name}_features_{k}")

    def pretrain_model(self, k):
        """The denoising autoencoder of block k; shares its Dense layers with `encoder`."""
        shape = self.block_input_shape(k)
        inputs = keras.Input(shape, name=f"block_{k + 1}_inputs")
        seed = None if self.seed is None else self.seed + k
        kind, level = self.block_noise[k]
        h = corrupt(inputs, kind, level, seed=seed, name=f"noise_{k + 1}")
        if k == 0:
            h = keras.layers.Flatten()(h)
        h = self.encoder_layers[k](h)
        if self.hidden_dropout:
            h = corrupt(h, "dropout", self.hidden_dropout,
                        seed=None if seed is None else seed + 500, name=f"hidden_dropout_{k + 1}")
        h = self.decoder_layers[k](h)
        if k == 0:
            h = keras.layers.Reshape(shape)(h)
        return keras.Model(inputs, h, name=f"{self.name}_block_{k + 1}")

    def build_decoder(self):
        """The top code -> images, through every block's decoder (no noise)."""
        code = keras.Input((self.embedding_size,), name="code")
        h = code
        for layer in reversed(self.decoder_layers):
            h = layer(h)
        outputs = keras.layers.Reshape(self.image_shape)(h)
        return keras.Model(code, outputs, name=f"{self.name}_decoder")

    def autoencoder(self):
        """The whole stack, images -> code -> reconstructed images (no noise)."""
        inputs = keras.Input(self.image_shape, name="images")
        h = self.encoder(inputs)
        for layer in reversed(self.decoder_layers):
            h = layer(h)
        outputs = keras.layers.Reshape(self.image_shape)(h)
        return keras.Model(inputs, outputs, name=f"{self.name}_autoencoder")

    def end_to_end_model(self):
        """The whole stack trained at once (the alternative to greedy layer-wise pretraining):
        images -> the first block's noise -> every encoder -> every decoder -> images, with
        the hidden dropout (if any) on the top code; the loss is `block_loss(0)`."""
        inputs = keras.Input(self.image_shape, name="images")
        kind, level = self.block_noise[0]
        h = corrupt(inputs, kind, level, seed=self.seed, name="noise_end_to_end")
        h = keras.layers.Flatten()(h)
        for layer in self.encoder_layers:
            h = layer(h)
        if self.hidden_dropout:
            h = corrupt(h, "dropout", self.hidden_dropout,
                        seed=None if self.seed is None else self.seed + 500,
                        name="hidden_dropout_end_to_end")
        for layer in reversed(self.decoder_layers):
            h = layer(h)
        outputs = keras.layers.Reshape(self.image_shape)(h)
        return keras.Model(inputs, outputs, name=f"{self.name}_end_to_end")

    def describe(self):
        """What the export manifest records about the architecture and noise."""
        noise = {"type": self.noise_type, "level": self.noise_level}
        if len(set(self.block_noise)) > 1 or self.block_noise[0] != (self.noise_type,
                                                                      self.noise_level):
            noise["per_block"] = [{"type": t, "level": v} for t, v in self.block_noise]
        if self.hidden_dropout:
            noise["hidden_dropout"] = self.hidden_dropout
        return {
            "family": self.family_name(),
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            **({"code_activation": self.code_activation}
               if self.code_activation != self.activation else {}),
            **({"output_activation": self.output_activation}
               if self.output_activation != self.activation else {}),
            **({"kernel_initializer": self.kernel_initializer}
               if self._constructor_arguments.get("kernel_initializer") != "glorot_uniform"
               else {}),
            "noise": noise,
            "loss": self.reconstruction_loss,
        }
