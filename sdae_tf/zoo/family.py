"""The contract between a zoo family and the rest of the package.

The training loop, export, figures and tuning call only what `Family` declares, and the
capabilities (`FIGURES`, `NOISE_TYPES`, `RECON_LOSS_ARGS`) are class attributes, so a request a
family cannot serve is refused by `zoo.check_request` before any training.
"""

import abc
import dataclasses
from collections.abc import Callable

# `--recon_loss` -> the Keras loss name (mean over components) of the families that take one.
KERAS_RECON_LOSSES = {"bce": "binary_crossentropy", "mse": "mean_squared_error"}

# Every fixed-noise type the families share (`sdae_tf.layers.NOISE_TYPES` plus "none").
FIXED_NOISE = ("none", "gaussian", "salt_and_pepper", "masking", "dropout", "local_variance")
# The corruptions only colour images take (the image families add them).
COLOUR_NOISE = ("grayscale",)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A SavedModel endpoint a family adds to its export, beside `serve` and `reconstruct`.

    Args:
        function: tensors -> one tensor, the graph the endpoint runs (inference mode).
        inputs: `(name, shape of one example, dtype)` of each argument, images first.
        example: images (numpy, a batch) -> the endpoint's arguments for that batch: what the
            export's reload check runs.
        description: one line for the manifest.
    """

    function: Callable
    inputs: tuple
    example: Callable
    description: str = ""


class Family(abc.ABC):
    """A zoo model family.

    Attributes the rest of the package reads:
        encoder: the Keras model images -> embedding (fine-tuned and exported).
        input_shape: shape of one example.
        FIGURES: the figures (`sdae_tf.evaluation.figures`) it can draw.
        NOISE_TYPES: the `noise_type` values it trains with.
        RECON_LOSS_ARGS: `recon_loss` ("bce" / "mse") -> its own `loss` argument.
        MIXED_PRECISION: whether its training is tested under Keras mixed precision
            (`--precision=mixed_bfloat16`).

    Example:

    ```python
    family = sdae_tf.zoo.build("sdae_mnist", (28, 28, 1), hidden_units=(64, 16))
    for k in range(family.num_blocks):   # what the training loop reads of every family
        print(family.block_summary(k), family.block_loss(k))
    ```
    """

    FIGURES = frozenset({"reconstructions", "tsne"})
    # Whether the whole (denoising) autoencoder can be trained at once (`end_to_end_model`):
    # `sdae_tf.models.ZooModel.fit(x)` and `--pretrain_mode=end_to_end` need it.
    END_TO_END = False
    # The hyperparameter (a tuple of widths) whose last entry is the embedding size: what a
    # search over `embedding_size` changes (`sdae_tf.integrations.tuning`); None: not tunable.
    EMBEDDING_PARAM = None
    NOISE_TYPES = FIXED_NOISE
    RECON_LOSS_ARGS = {}
    # Whether the code keeps the image's layout (height, width, channels): `--task=segmentation`
    # needs it.
    SPATIAL_CODE = False
    MIXED_PRECISION = False
    # None when the whole-image reconstruction (the exports' `reconstruct`) is a denoiser, as
    # for every family trained to reconstruct all it reads; else {"endpoint": the endpoint to
    # use instead, "why": one sentence}: the export's manifest `denoiser.use_instead`, from
    # which the loaders, `sdae-models` and the model cards say so.
    DENOISER_INSTEAD = None
    # What `sdae_tf.models.ZooModel.pretrain` uses for what its caller leaves out, measured with
    # the Python API on 3000 MNIST digits (`benchmarks/api_defaults.py`); the command line's
    # flagfiles set their own recipes.
    PRETRAIN_DEFAULTS = {"epochs": 10, "batch_size": 32, "learning_rate": 5e-3}

    @property
    @abc.abstractmethod
    def num_blocks(self):
        """Blocks trained one after another (1: the whole autoencoder at once)."""

    @property
    @abc.abstractmethod
    def embedding_size(self):
        """Size of the (flattened) embedding."""

    @abc.abstractmethod
    def features_before(self, k):
        """A Keras model images -> the clean input of block k (None for k = 0)."""

    @abc.abstractmethod
    def pretrain_model(self, k):
        """Block k's (denoising) autoencoder, noise inside, trained on `block_loss(k)`."""

    @abc.abstractmethod
    def block_loss(self, k):
        """Block k's reconstruction loss (a Keras loss name or function)."""

    @abc.abstractmethod
    def block_summary(self, k):
        """One line naming block k's shapes, for the log."""

    @abc.abstractmethod
    def autoencoder(self):
        """A Keras model images -> code -> reconstructed images, no noise."""

    def export_endpoints(self):
        """The extra SavedModel endpoints of this family's exports, `{name: Endpoint}` (the
        masked autoencoder's `inpaint`); none by default."""
        return {}

    def block_callbacks(self, k):
        """Keras callbacks block k's pretraining `fit` adds (the VQ-VAE logs its codebook's
        use): none by default."""
        return []

    def code_model(self):
        """The Keras model images -> the code `decoder` reads: the encoder itself, except where
        the exported features summarise the code (the masked autoencoder's mean token)."""
        return self.encoder

    def reconstruct(self, images):
        """Symbolic images -> their reconstruction, no noise: `decoder()` on `code_model()`'s
        code (a family whose output also reads the input, as kernel prediction does,
        overrides it)."""
        return self.decoder()(self.code_model()(images))

    def build_decoder(self):
        """A new Keras model embedding -> images (the inverse path of `encoder`)."""
        raise NotImplementedError

    def decoder(self):
        """The Keras model embedding -> images (the inverse path of `encoder`), built once:
        every call returns the same model."""
        if getattr(self, "_decoder_model", None) is None:
            self._decoder_model = self.build_decoder()
        return self._decoder_model

    def can_train_end_to_end(self):
        """Whether `end_to_end_model` exists for this family (and these hyperparameters)."""
        return self.END_TO_END

    def end_to_end_model(self):
        """The whole (denoising) autoencoder trained at once: input noise -> encoder ->
        decoder -> images, its loss `block_loss(0)`; shares its layers with `encoder`."""
        raise ValueError(f"{self.name} ({type(self).__name__}) is trained block by block; it "
                         "has no end-to-end training")

    @abc.abstractmethod
    def describe(self):
        """What the manifest records: family, architecture, and the noise trained with."""
