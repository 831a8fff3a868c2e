"""The masked autoencoder (He et al. 2021), the denoising autoencoder's modern descendant:
masking noise on patches, a ViT encoder that sees only the visible ones, a light decoder that
fills in the rest, the loss on the hidden patches only."""

import keras

from sdae_tf.layers import patches as patch_layers
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.zoo.family import KERAS_RECON_LOSSES, Endpoint, Family

MASK_UNITS = ("patch", "pixel")
POOLINGS = ("mean", "flatten")


def _transformer_block(width, heads, mlp_ratio, name):
    """The layers of one pre-norm ViT block (applied by `_apply_block`)."""
    return {
        "norm1": keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm1"),
        "attention": keras.layers.MultiHeadAttention(heads, width // heads,
                                                     name=f"{name}_attention"),
        "norm2": keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm2"),
        "mlp1": keras.layers.Dense(width * mlp_ratio, activation="gelu", name=f"{name}_mlp1"),
        "mlp2": keras.layers.Dense(width, name=f"{name}_mlp2"),
    }


def _apply_block(block, x):
    h = block["norm1"](x)
    x = x + block["attention"](h, h)
    return x + block["mlp2"](block["mlp1"](block["norm2"](x)))


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedAutoencoder(Family):
    """A ViT masked autoencoder, trained end to end as one block by the same loop.

    Encoder: non-overlapping `patch_size` patches -> linear embedding -> fixed sine-cosine 2-D
    position embeddings -> `depth` pre-norm transformer blocks (`width`, `heads`) -> layer
    norm. The exported features (`encoder`) are its tokens on the whole image, averaged
    (`pooling="mean"`, as He et al. fine-tune) or concatenated (`"flatten"`: `tokens * width`
    features, which keep where each patch is); the code the decoder reads (`token_encoder`) is
    the tokens themselves. Training (`pretrain_model`)
    hides `mask_ratio` of the patches of each example (a fresh random subset, seedable) and
    runs the encoder on the visible ones only, so its cost falls with the ratio; the decoder
    (`decoder_width`, `decoder_depth` blocks) takes them with a learned mask token for each
    hidden patch and predicts every patch's pixels; the squared error counts the hidden
    patches only. `mask_unit="pixel"` hides the same share of single pixels instead (zeroed,
    every token encoded): the bridge back to the 2008 denoising autoencoder's masking noise.

    Args:
        input_shape: (H, W, C); `patch_size` divides H and W.
        patch_size, width, depth, heads, mlp_ratio: the ViT encoder.
        decoder_width, decoder_depth: the light decoder.
        mask_ratio: share of patches (or pixels) hidden while training, in (0, 1).
        mask_unit: "patch" (MAE) or "pixel".
        pooling: the features from the tokens: "mean" or "flatten".
        loss: the reconstruction loss of the hidden parts (MAE: squared error).
        seed: seeds the masking.
        name: prefix of the Keras models' names.

    Example:

    ```python
    family = sdae_tf.zoo.build("mae_mnist", (28, 28, 1), width=32, depth=1, decoder_width=32)
    hidden = np.zeros((len(images), family.tokens), "float32")
    hidden[:, :37] = 1.0                       # 37 of the 49 patches hidden
    filled = family.inpaint(images, hidden)    # (8, 28, 28, 1)
    ```
    """

    FIGURES = frozenset({"reconstructions", "tsne"})
    NOISE_TYPES = ("none",)
    DENOISER_INSTEAD = {"endpoint": "inpaint",
                        "why": "a masked autoencoder fills in hidden patches from the visible "
                               "ones and was never scored on the patches it sees, so its "
                               "whole-image reconstruction is no denoiser"}
    RECON_LOSS_ARGS = KERAS_RECON_LOSSES
    END_TO_END = True
    EMBEDDING_PARAM = None
    # Adam 3e-3 at batch 32, measured against 1e-3 on `mae_mnist` with the Python API on 3000
    # MNIST digits (benchmarks/results/api_defaults_mae.json); He et al.'s 4-block setting did
    # better at batch 32 than at 128.
    PRETRAIN_DEFAULTS = {"epochs": 10, "batch_size": 32, "learning_rate": 3e-3}
    # Faster under XLA on TensorFlow (benchmarks/results/perf_backends.json).
    JIT_COMPILE = True

    def __init__(self, input_shape, patch_size=4, width=128, depth=4, heads=4, mlp_ratio=2,
                 decoder_width=64, decoder_depth=2, mask_ratio=0.75, mask_unit="patch",
                 loss="mean_squared_error", pooling="mean", seed=None, name="mae", **kwargs):
        input_shape = tuple(int(d) for d in input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be (H, W, C). Received: {input_shape}")
        patch_layers.check_patch_size(input_shape, patch_size)
        patch_layers.check_mask_ratio(mask_ratio)
        if mask_unit not in MASK_UNITS:
            raise ValueError(f"`mask_unit` must be one of {', '.join(MASK_UNITS)}. "
                             f"Received: {mask_unit!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"`pooling` must be one of {', '.join(POOLINGS)}. "
                             f"Received: {pooling!r}")
        for what, value, heads_of in (("width", width, heads),
                                      ("decoder_width", decoder_width, heads)):
            if value % 4 or value % heads_of:
                raise ValueError(f"`{what}` must be a multiple of 4 and of `heads` ({heads}). "
                                 f"Received: {what}={value}")
        self.image_shape, self.name, self.seed = input_shape, name, seed
        self.reconstruction_loss = loss
        self.patch_size, self.width, self.depth = int(patch_size), int(width), int(depth)
        self.heads, self.mlp_ratio = int(heads), int(mlp_ratio)
        self.decoder_width, self.decoder_depth = int(decoder_width), int(decoder_depth)
        self.mask_ratio, self.mask_unit, self.pooling = float(mask_ratio), mask_unit, pooling
        self.grid = (input_shape[0] // patch_size, input_shape[1] // patch_size)
        self.tokens = self.grid[0] * self.grid[1]
        pixels = patch_size * patch_size * input_shape[2]
        # The layers, shared by every graph below.
        self.patchify = patch_layers.Patchify(patch_size, name="patchify")
        self.embed = keras.layers.Dense(width, name="patch_embedding")
        self.position = patch_layers.AddPositionEmbedding(self.grid, name="position")
        self.blocks = [_transformer_block(width, heads, mlp_ratio, f"encoder_block_{i + 1}")
                       for i in range(depth)]
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")
        self.decoder_embed = keras.layers.Dense(decoder_width, name="decoder_embedding")
        self.decoder_position = patch_layers.AddPositionEmbedding(self.grid,
                                                                  name="decoder_position")
        self.decoder_blocks = [
            _transformer_block(decoder_width, heads, mlp_ratio, f"decoder_block_{i + 1}")
            for i in range(decoder_depth)]
        self.decoder_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")
        self.predict_pixels = keras.layers.Dense(pixels, activation="sigmoid",
                                                 name="pixel_prediction")
        self.unpatchify = patch_layers.Unpatchify(patch_size, input_shape, name="unpatchify")
        self.mask_tokens = patch_layers.InsertMaskTokens(name="mask_tokens")
        images = keras.Input(input_shape, name="images")
        tokens = self._encode(self.position(self.embed(self.patchify(images))))
        self.token_encoder = keras.Model(images, tokens, name=f"{name}_token_encoder")
        pooled = (keras.layers.GlobalAveragePooling1D(name="token_mean") if pooling == "mean"
                  else keras.layers.Flatten(name="tokens_flat"))(tokens)
        self.encoder = keras.Model(images, pooled, name=f"{name}_encoder")
        self._build_model(name, **kwargs)

    def _encode(self, tokens):
        for block in self.blocks:
            tokens = _apply_block(block, tokens)
        return self.norm(tokens)

    def _decode(self, tokens):
        """Decoder-width tokens (every position) -> images."""
        tokens = self.decoder_position(tokens)
        for block in self.decoder_blocks:
            tokens = _apply_block(block, tokens)
        return self.predict_pixels(self.decoder_norm(tokens))

    @property
    def num_blocks(self):
        return 1

    @property
    def embedding_size(self):
        return self.width * (1 if self.pooling == "mean" else self.tokens)

    def features_before(self, k):
        return None

    def block_loss(self, k):
        return self.reconstruction_loss

    def block_summary(self, k):
        return (f"{self.image_shape} -> {self.tokens} tokens of {self.width} "
                f"({self.mask_unit} mask ratio {self.mask_ratio:g}) -> {self.image_shape}")

    def build_decoder(self):
        """Tokens (batch, T, width) -> images: the whole decoder on every position."""
        tokens = keras.Input((self.tokens, self.width), name="tokens")
        # Every token visible: the mask tokens pass them through, and the decoder (so every
        # saved autoencoder, export and preset) holds the trained mask token.
        patches = self._decode(self.mask_tokens(self.decoder_embed(tokens)))
        return keras.Model(tokens, self.unpatchify(patches), name=f"{self.name}_decoder")

    def code_model(self):
        """images -> the code the decoder reads (the encoder's tokens)."""
        return self.token_encoder

    def pretrain_model(self, k):
        """The masked autoencoder: hidden patches (or pixels) predicted from the visible
        ones; its output equals the input outside the hidden parts (no gradient there), so
        `block_loss` counts the hidden parts only."""
        images = keras.Input(self.image_shape, name="images")
        target = self.patchify(images)
        if self.mask_unit == "patch":
            masking = patch_layers.RandomTokenMasking(self.mask_ratio, seed=self.seed,
                                                      name="token_masking")
            visible, restore, mask = masking(self.position(self.embed(target)))
            encoded = self._encode(visible)
            full = self.mask_tokens([self.decoder_embed(encoded), restore])
            predicted = self._decode(full)
            blended = patch_layers.MaskedBlend(name="hidden_only")([predicted, target, mask])
            outputs = self.unpatchify(blended)
        else:
            hidden, mask = patch_layers.RandomPixelMask(self.mask_ratio, seed=self.seed,
                                                        name="pixel_masking")(images)
            tokens = self._encode(self.position(self.embed(self.patchify(hidden))))
            predicted = self.unpatchify(self._decode(self.decoder_embed(tokens)))
            outputs = patch_layers.MaskedBlend(name="hidden_only")([predicted, images, mask])
        return keras.Model(images, outputs, name=f"{self.name}_masked_autoencoder")

    def end_to_end_model(self):
        return self.pretrain_model(0)

    def inpaint(self, images, hidden):
        """The MAE's own reconstruction of hidden patches: `hidden` (batch, tokens), 1 where a
        patch is hidden, the same number per example; the encoder sees the visible patches
        only, the decoder fills in the rest with its (trained) mask token. Returns images (the
        prediction everywhere; blend with the visible input to score the hidden parts). The
        exports' `inpaint` endpoint runs the same graph (`inpaint_graph`)."""
        import numpy as np

        hidden = np.asarray(hidden, np.float32)
        patch_layers.check_hidden(hidden, self.tokens)
        return np.concatenate([
            np.asarray(self.inpaint_graph(np.asarray(images[i:i + 256], np.float32),
                                          hidden[i:i + 256]))
            for i in range(0, len(images), 256)])

    def inpaint_graph(self, images, hidden):
        """`inpaint` on tensors (traceable: the visible count is read from `hidden`'s first
        row): visible patches first, in place order, for the encoder."""
        from keras import ops

        t = self.tokens
        hidden = ops.cast(hidden, "float32")
        # Hidden patches sort after the visible ones; the position breaks ties, so the order
        # is the same on every backend (argsort need not be stable).
        key = hidden * t + ops.cast(ops.arange(t), "float32")[None, :]
        order = ops.cast(ops.argsort(key, axis=1), "int32")
        restore = ops.cast(ops.argsort(order, axis=1), "int32")
        keep = t - ops.cast(ops.sum(hidden[0]), "int32")
        tokens = self.position(self.embed(self.patchify(images)))
        visible = ops.take_along_axis(tokens, order[:, :keep, None], axis=1)
        full = self.mask_tokens([self.decoder_embed(self._encode(visible)), restore])
        return self.unpatchify(self._decode(full))

    def export_endpoints(self):
        """`inpaint(images, hidden)`: images with the patches `hidden` marks (1, the same
        number per example) filled in from the visible ones."""
        import numpy as np

        def example(images):
            rng = np.random.default_rng(0)
            count = int(round(self.tokens * self.mask_ratio))
            order = np.argsort(rng.random((len(images), self.tokens)), axis=1)
            hidden = np.zeros((len(images), self.tokens), np.float32)
            np.put_along_axis(hidden, order[:, :count], 1.0, axis=1)
            return images, hidden

        return {"inpaint": Endpoint(
            self.inpaint_graph,
            (("images", self.image_shape, "float32"), ("hidden", (self.tokens,), "float32")),
            example,
            f"images with the {self.patch_size}x{self.patch_size} patches `hidden` marks "
            f"(1 of {self.tokens} row-major patches, the same number per example) filled in "
            "from the visible ones")}

    def describe(self):
        return {
            "family": self.family_name(),
            "patch_size": self.patch_size, "width": self.width, "depth": self.depth,
            "heads": self.heads, "mlp_ratio": self.mlp_ratio,
            "decoder_width": self.decoder_width, "decoder_depth": self.decoder_depth,
            "tokens": self.tokens, "pooling": self.pooling,
            "noise": {"type": f"{self.mask_unit}_masking", "level": self.mask_ratio},
            "loss": f"{self.reconstruction_loss} on the hidden {self.mask_unit}s",
        }
