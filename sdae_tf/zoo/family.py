"""`Family`: the base of every zoo model, a `keras.Model` (images -> code -> images).

Each family (`DenseStack`, `ConvAutoencoder`, ...) is one registered subclass: its constructor
builds its layers, its `encoder` and `decoder` (`keras.Model`s sharing its weights) and ends
with `_build_model`, which makes the instance the functional model `decoder(encoder(images))`.
Its config is its constructor's arguments. The training loop, export, figures and tuning call
only what `Family` declares, and the capabilities (`FIGURES`, `NOISE_TYPES`, `RECON_LOSS_ARGS`)
are class attributes, so a request a family cannot serve is refused by `zoo.check_request`
before any training.
"""

import dataclasses
import inspect
import json
import re
import types
from collections.abc import Callable

import keras
import numpy as np

from sdae_tf.package import NAME as PACKAGE
from sdae_tf.utils import checks, storage
from sdae_tf.zoo import compiling

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


# Registered under the name of the generic wrapper it replaced (`ZooModel`, version 0.2.0), so
# `.keras` files of that version load (`from_config`).
@keras.saving.register_keras_serializable(package=PACKAGE, name="ZooModel")
class Family(compiling.RecompiledOnLoad, keras.Model):
    """A zoo model: a functional `keras.Model` images -> code -> images (no noise).

    Its two halves are `keras.Model` attributes sharing its weights: `encoder` maps images to
    the code (what is fine-tuned and exported), `decoder` maps codes to images. It saves to and
    loads from a `.keras` file in safe mode (`keras.saving.load_model`), its config being its
    constructor's arguments, and trains in two ways:

    - `pretrain(x)`: greedy layer-wise pretraining, each block a (denoising) autoencoder of the
      clean codes of the blocks below it, with its own optimizer: one Keras `History` per block.
    - `fit(x)`: the whole (denoising) autoencoder end to end, the target the input itself when
      no `y` is given (compiled with the family's defaults if `compile` was not called);
      `pretrain` then `fit` is the layer-wise-then-end-to-end recipe of DEC. Families trained
      block by block only (`can_train_end_to_end()` False) refuse it.

    `classifier(num_classes)` gives the encoder under a fresh head for supervised fine-tuning;
    `export(path)` writes the SavedModel + `encoder.keras` + manifest that
    `sdae_tf.feature_extractor` and `sdae_tf.denoiser` load.

    What the training loop reads of every family: `num_blocks`, `features_before(k)`,
    `pretrain_model(k)`, `block_loss(k)`, `block_summary(k)`, `block_callbacks(k)`,
    `end_to_end_model()`, `embedding_size`, `image_shape`, `describe()`.

    Class attributes:
        FIGURES: the figures (`sdae_tf.evaluation.figures`) it can draw.
        NOISE_TYPES: the `noise_type` values it trains with.
        RECON_LOSS_ARGS: `recon_loss` ("bce" / "mse") -> its own `loss` argument.
        MIXED_PRECISION: whether its training is tested under Keras mixed precision
            (`--precision=mixed_bfloat16`).

    Example:

    ```python
    model = sdae_tf.zoo.DenseStack((28, 28, 1), hidden_units=(64, 16))
    for k in range(model.num_blocks):   # what the training loop reads of every family
        print(model.block_summary(k), model.block_loss(k))
    ```
    """

    FIGURES = frozenset({"reconstructions", "tsne"})
    # Whether the whole (denoising) autoencoder can be trained at once (`end_to_end_model`):
    # `fit(x)` and `--pretrain_mode=end_to_end` need it.
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
    # What `pretrain` uses for what its caller leaves out, measured with the Python API on
    # 3000 MNIST digits (`benchmarks/api_defaults.py`); the command line's flagfiles set their
    # own recipes.
    PRETRAIN_DEFAULTS = {"epochs": 10, "batch_size": 32, "learning_rate": 5e-3}
    # The Keras backends it is tested on (`tests/test_backends.py`); built on another, it is
    # refused in one line.
    BACKENDS = ("tensorflow", "jax")
    # Whether its pretraining steps are XLA-compiled on TensorFlow when the caller does not
    # say (`--jit_compile` unset): the faster of the two there, measured per family
    # (`benchmarks/perf.py backends`). JAX always compiles its steps.
    JIT_COMPILE = False
    # What `classifier()` and `segmenter()` compile with when their caller leaves the learning
    # rate out (Adam), measured the same way.
    FINETUNE_DEFAULTS = {"learning_rate": 1e-3}

    @classmethod
    def pretrain_jit_compile(cls, jit_compile=None, strategy="none"):
        """Whether pretraining XLA-compiles on TensorFlow: `jit_compile` when given, else
        `JIT_COMPILE`, except under a `strategy` (XLA steps under tf.distribute's
        MirroredStrategy fail on CPU devices: a replica's variable read from another device)."""
        if jit_compile is not None:
            return bool(jit_compile)
        return bool(cls.JIT_COMPILE) and strategy == "none"

    def __new__(cls, *args, **kwargs):
        # The constructor's arguments, defaults filled in: what `get_config` returns.
        # (Keras also calls `cls.__new__(cls)` bare, on its way to the functional class.)
        instance = super().__new__(cls, *args, **kwargs)
        signature = inspect.signature(cls.__init__)
        try:
            bound = signature.bind(None, *args, **kwargs)
        except TypeError:  # the constructor itself raises the error that names it
            return instance
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop(next(iter(signature.parameters)))  # self
        arguments.update(arguments.pop("kwargs", {}))
        object.__setattr__(instance, "_constructor_arguments", arguments)
        return instance

    def _build_model(self, name, **kwargs):
        """Makes this instance the functional model images -> `reconstruct(images)`, once its
        constructor has built its layers and `encoder` (and, where it builds its own,
        `decoder`); builds the end-to-end training graph where there is one."""
        if keras.backend.backend() not in self.BACKENDS:
            raise ValueError(f"{type(self).__name__} runs on the {' and '.join(self.BACKENDS)} "
                             f"backend{'s' if len(self.BACKENDS) > 1 else ''} only; this "
                             f"process uses {keras.backend.backend()}: set "
                             f"KERAS_BACKEND={self.BACKENDS[0]} before Keras is imported")
        if getattr(self, "decoder", None) is None:
            self.decoder = self.build_decoder()
        images = keras.Input(self.image_shape, name="images")
        super().__init__(inputs=images, outputs=self.reconstruct(images), name=name, **kwargs)
        # The graph `fit` trains (noise at the input; the VAE's sampling and KL): None for the
        # families trained block by block. Built with the model, so a `.keras` file always
        # holds the same layers.
        self.end_to_end = self.end_to_end_model() if self.can_train_end_to_end() else None

    # --- what every family declares ----------------------------------------------------------
    @property
    def num_blocks(self):
        """Blocks trained one after another (1: the whole autoencoder at once)."""
        raise NotImplementedError

    @property
    def embedding_size(self):
        """Size of the (flattened) embedding."""
        raise NotImplementedError

    @classmethod
    def family_name(cls):
        """The family's one name: its class's, in snake case (`DenseStack` -> "dense_stack"),
        as its folder (`sdae_tf/zoo/dense_stack/`) and the manifests' `architecture.family`
        spell it."""
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls.__name__).lower()

    def features_before(self, k):
        """A Keras model images -> the clean input of block k (None for k = 0)."""
        raise NotImplementedError

    def pretrain_model(self, k):
        """Block k's (denoising) autoencoder, noise inside, trained on `block_loss(k)`."""
        raise NotImplementedError

    def block_loss(self, k):
        """Block k's reconstruction loss (a Keras loss name or function)."""
        raise NotImplementedError

    def block_summary(self, k):
        """One line naming block k's shapes, for the log."""
        raise NotImplementedError

    def autoencoder(self):
        """A Keras model images -> code -> reconstructed images, no noise."""
        images = keras.Input(self.image_shape, name="images")
        return keras.Model(images, self.reconstruct(images), name=f"{self.name}_autoencoder")

    def describe(self):
        """What the manifest records: family, architecture, and the noise trained with."""
        raise NotImplementedError

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
        """Symbolic images -> their reconstruction, no noise: `decoder` on `code_model()`'s
        code (a family whose output also reads the input, as kernel prediction does,
        overrides it)."""
        return self.decoder(self.code_model()(images))

    def build_decoder(self):
        """A new Keras model embedding -> images (the inverse path of `encoder`)."""
        raise NotImplementedError

    def can_train_end_to_end(self):
        """Whether `end_to_end_model` exists for this family (and these hyperparameters):
        whether `fit(x)` trains the whole (denoising) autoencoder at once."""
        return self.END_TO_END

    def end_to_end_model(self):
        """The whole (denoising) autoencoder trained at once: input noise -> encoder ->
        decoder -> images, its loss `block_loss(0)`; shares its layers with `encoder`."""
        raise ValueError(block_by_block(self))

    # --- Keras ----------------------------------------------------------------------------
    def call(self, inputs, training=None):
        if training and self.end_to_end is not None:
            return self.end_to_end(inputs, training=True)
        return super().call(inputs, training=training)

    def compile(self, optimizer="auto", loss="auto", **kwargs):
        """`keras.Model.compile` with the family's defaults: Adam at 1e-3 (`"auto"`) and the
        family's reconstruction loss (`"auto"`)."""
        if optimizer == "auto":
            optimizer = compiling.default_optimizer()
        if loss == "auto":
            loss = self.block_loss(0)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # An autoencoder's target is its input: `fit(x)` without `y`.
        return super().compute_loss(x=x, y=x if y is None else y, y_pred=y_pred,
                                    sample_weight=sample_weight, training=training)

    def fit(self, x=None, y=None, *args, **kwargs):
        from sdae_tf.train.checkpoints import build_optimizers

        if y is None and self.end_to_end is None:
            raise ValueError(block_by_block(self) + ": call pretrain(x); fit(x) trains end to "
                             "end the families that can (can_train_end_to_end())")
        if not self.compiled:  # as Keras tasks do: the family's defaults (`compile()`)
            self.compile()
        if y is None and isinstance(x, np.ndarray | list):
            x = self._checked_images(x, "x")
        build_optimizers(self)  # before the first traced step: it is traced once, not twice
        return super().fit(x, y, *args, **kwargs)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """`keras.Model.save`, written whole or not at all: staged beside `filepath`, fsynced
        and moved into place, so a failed save (a full disk, a kill) leaves the file it would
        have replaced as it was; `overwrite=False` and an existing file is a
        `FileExistsError`."""
        storage.save_keras(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def get_config(self):
        """The constructor's arguments (JSON types), `name` and `trainable`."""
        arguments = {k: v for k, v in self._constructor_arguments.items()
                     if k not in ("name", "trainable")}
        # As JSON holds them (tuples as lists), so a config equals its reloaded self.
        return {"name": self.name, "trainable": self.trainable,
                **json.loads(json.dumps(arguments))}

    @classmethod
    def from_config(cls, config):
        if cls is Family:  # a `.keras` file of version 0.2.0: the wrapper's config
            from sdae_tf.zoo.records import from_legacy_config

            return from_legacy_config(config)
        return cls(**config)

    @classmethod
    def from_preset(cls, name_or_path, weights="pretrained", verify=True):
        """A shipped model by name, or an export folder, as a trainable model of this class
        (`sdae_tf.models.from_preset`, which any class's call gives): `DenseStack.from_preset(
        "sdae_mnist")` is the trained SDAE, where `sdae_tf.models.get("sdae_mnist")` is the
        untrained one.

        Args:
            name_or_path: a shipped model's name or an export folder.
            weights: "pretrained" or "finetuned" (see `sdae_tf.models.from_preset`).
            verify: check the files' SHA-256 against the manifest first.

        Returns:
            The model, with the export's weights.

        Raises:
            ValueError: a preset of another family than this class's.

        Example:

        ```python
        model = sdae_tf.zoo.DenseStack.from_preset("sdae_mnist")
        ```
        """
        from sdae_tf.zoo import presets

        model = presets.from_preset(name_or_path, weights=weights, verify=verify)
        if not isinstance(model, cls):
            raise ValueError(f"{name_or_path} is a {type(model).__name__} preset, not a "
                             f"{cls.__name__} one: load it with "
                             f"{type(model).__name__}.from_preset or "
                             "sdae_tf.models.from_preset")
        return model

    # --- training -------------------------------------------------------------------------
    def pretrain(self, x, epochs=None, batch_size=None, learning_rate=None,
                 validation_data=None, callbacks=None, verbose="auto", seed=None,
                 lr_schedule="constant", weight_decay=0.0, noise_schedule="constant"):
        """Greedy layer-wise pretraining: block k, a (denoising) autoencoder of the clean codes
        of blocks < k (the images for k = 0), trained with its own Adam for `epochs` epochs.

        Args:
            x: images, a numpy array `(N, *image_shape)` or a `tf.data.Dataset` of images (or
                of `(images, labels)`, labels ignored), in the range the model is meant for.
            epochs, batch_size, learning_rate: per block; None: the family's
                `PRETRAIN_DEFAULTS` (measured to work from Python on small data,
                `benchmarks/api_defaults.py`).
            validation_data: images logged after every epoch (`val_loss`), or None.
            callbacks: Keras callbacks, given to every block's `fit`.
            verbose: Keras' `fit` verbosity.
            seed: shuffling seed (block k: `seed + k`); default: the model's seed, else 0.
            lr_schedule: "constant" or "cosine" (to zero over the block's steps).
            weight_decay: PyTorch-Adam-style L2 weight decay.
            noise_schedule: "constant", or an annealing of the noise level over the epochs
                (see `sdae_tf.train.noise_schedule`).

        Returns:
            One `keras.callbacks.History` per block.
        """
        from sdae_tf.train import stages

        if self.num_blocks == 0:
            raise ValueError(f"{self.name} has no blocks to pretrain")
        defaults = type(self).PRETRAIN_DEFAULTS
        epochs = defaults["epochs"] if epochs is None else epochs
        batch_size = defaults["batch_size"] if batch_size is None else batch_size
        learning_rate = defaults["learning_rate"] if learning_rate is None else learning_rate
        batch_size = checks.positive_int(batch_size, "batch_size")
        epochs = checks.positive_int(epochs, "epochs")
        learning_rate = checks.positive_number(learning_rate, "learning_rate")
        x_train = self._checked_images(_images(x, "x"), "x")
        x_val = self._checked_images(_images(validation_data, "validation_data"),
                                     "validation_data")
        seed = seed if seed is not None else (self.seed if self.seed is not None else 0)
        settings = stages.Stage(epochs=int(epochs), learning_rate=float(learning_rate),
                                lr_schedule=lr_schedule, weight_decay=float(weight_decay),
                                batch_size=int(batch_size), seed=int(seed), verbose=verbose,
                                noise_schedule=noise_schedule)
        data = types.SimpleNamespace(x_train=x_train, x_val=x_val)
        records = stages.pretrain_layerwise(self, data, settings,
                                            callbacks=list(callbacks or ()))
        return [_history(r) for r in records]

    def classifier(self, num_classes, head_units=1000, head_layers=1, input_noise=0.0,
                   seed=None, learning_rate=None, compile=True):
        """The encoder (its weights shared with this model) under a fresh head:
        `head_layers` x Dense(`head_units`, ReLU) -> Dense(`num_classes`) **logits**, spatial
        codes flattened: a `sdae_tf.zoo.heads.Classifier`. Compiled (Adam at `learning_rate`,
        default the family's `FINETUNE_DEFAULTS`; sparse categorical cross-entropy from
        logits, accuracy) unless `compile=False`; `input_noise` > 0 adds Gaussian noise to the
        inputs while training."""
        from sdae_tf.train import stages
        from sdae_tf.zoo import heads

        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"`num_classes` must be an integer >= 2. Received: {num_classes!r}")
        seed = seed if seed is not None else (self.seed or 0) + 2000
        learning_rate = self._finetune_learning_rate(learning_rate)
        model = heads.classifier(self.encoder, num_classes, units=head_units,
                                 name=f"{self.name}_classifier", hidden_layers=head_layers,
                                 input_noise=input_noise, seed=seed).attach_family(self)
        if compile:
            model.compile(optimizer=stages.make_optimizer(learning_rate, "constant", 0))
        return model

    def clusterer(self, n_clusters, alpha=1.0, projection=None, reconstruction_weight=0.0,
                  compile=True):
        """DEC (or, with `reconstruction_weight` > 0, IDEC) over this model's code (its
        weights shared): a `sdae_tf.zoo.clusterer.Clusterer`, images -> soft assignment to
        `n_clusters` clusters; `fit(x)` initialises the centres by k-means and self-trains,
        `predict(x)` gives cluster ids, `predict_proba(x)` the soft assignment. IDEC's
        reconstruction term uses this family's decoder and reconstruction loss. A spatial
        code needs `projection` ("flatten" or a Dense width). Compiled with DEC's (IDEC's)
        defaults unless `compile=False`.

        Example:

        ```python
        model = sdae_tf.models.get("sdae_dec_mnist")
        model.pretrain(x)
        clusterer = model.clusterer(10)
        clusterer.fit(x)
        ids = clusterer.predict(x)
        ```
        """
        from sdae_tf.zoo import clusterer as clusterer_lib

        model = clusterer_lib.clusterer(
            self.code_model(), n_clusters, alpha=alpha, projection=projection,
            decoder=self.decoder, reconstruction_weight=reconstruction_weight,
            name=f"{self.name}_clusterer").attach_family(self)
        if reconstruction_weight > 0:
            model.reconstruction_loss = self.block_loss(0)
            model.reconstruction_weight = float(reconstruction_weight)
        self.encoder.trainable = True
        if compile:
            model.compile()
        return model

    def segmenter(self, filters=32, train_encoder=True, learning_rate=None, compile=True):
        """The encoder (its weights shared with this model) under a light decoder head to a
        per-pixel digit probability (a `sdae_tf.zoo.heads.Segmenter`), for masks such as
        `sdae_tf.data.segmentation.load_digit_masks`. `train_encoder=False` freezes the
        encoder (the head alone trains). Compiled (Adam at `learning_rate`, default the
        family's `FINETUNE_DEFAULTS`; binary cross-entropy, pixel accuracy and foreground IoU)
        unless `compile=False`.

        Raises:
            ValueError: a family whose code is a vector (nothing spatial to segment from).

        Example:

        ```python
        data = sdae_tf.data.segmentation.load_digit_masks("bg_rand_rot")
        seg = sdae_tf.models.get("cdae_mnist").segmenter()
        seg.fit(data.x_train, data.y_train, epochs=1)
        ```
        """
        from sdae_tf.train import stages
        from sdae_tf.zoo import heads

        learning_rate = self._finetune_learning_rate(learning_rate)
        model = heads.segmenter(self.encoder, filters=filters,
                                name=f"{self.name}_segmenter").attach_family(self)
        self.encoder.trainable = bool(train_encoder)
        if compile:
            model.compile(optimizer=stages.make_optimizer(learning_rate, "constant", 0))
        return model

    def export(self, path, overwrite=False, dataset=None, value_range=(0.0, 1.0),
               check_sample=None, probe_data=None, metrics=None):
        """Writes the encoder (`serve`) and this autoencoder (`reconstruct`) as a SavedModel,
        with `encoder.keras` and `manifest.json` (checksums of every file), to `path`; see
        `sdae_tf.models.export_model`."""
        from sdae_tf.zoo import exporting

        return exporting.export_model(self, path, overwrite=overwrite, dataset=dataset,
                                      value_range=value_range, check_sample=check_sample,
                                      probe_data=probe_data, metrics=metrics)

    def _finetune_learning_rate(self, learning_rate):
        if learning_rate is None:
            learning_rate = type(self).FINETUNE_DEFAULTS["learning_rate"]
        return checks.positive_number(learning_rate, "learning_rate")

    def _checked_images(self, x, what):
        if x is None:
            return None
        return checks.images(x, self.image_shape, what, model=self.name,
                             unit_range=checks.is_cross_entropy(self.block_loss(0)))


def block_by_block(model):
    """The one sentence refusing end-to-end training to a family trained block by block.

    Args:
        model: the zoo model refused.

    Returns:
        The sentence, naming the model and its class.
    """
    return (f"{model.name} ({type(model).__name__}) is trained block by block; it has no "
            "end-to-end training")


def _images(x, what):
    """An array of images from an array or a `tf.data.Dataset` of images (or of
    `(images, labels)` batches); the dataset is read once into memory, as the loop keeps the
    arrays in the graph. Checked (and cast to float32) by `Family._checked_images`."""
    if x is None:
        return None
    if hasattr(x, "as_numpy_iterator"):
        batches = [b[0] if isinstance(b, tuple) else b for b in x.as_numpy_iterator()]
        if not batches:
            raise ValueError(f"`{what}` is an empty dataset")
        return np.concatenate(batches)
    return np.asarray(x)


def _history(record):
    history = keras.callbacks.History()
    history.history = {k: list(v) for k, v in record["history"].items()}
    history.epoch = list(range(len(next(iter(history.history.values()), []))))
    return history
