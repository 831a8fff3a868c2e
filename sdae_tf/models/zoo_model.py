"""`ZooModel`: a zoo model as a `keras.Model` you build, pretrain, fine-tune, save and load."""

import types

import keras
import numpy as np

from sdae_tf import zoo
from sdae_tf.models import exporting
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.train import config as config_lib
from sdae_tf.train import stages
from sdae_tf.train.checkpoints import build_optimizers
from sdae_tf.utils import checks, storage

# The input shape of each dataset's images, for `get` without `input_shape`.
DATASET_SHAPES = {
    "mnist": (28, 28, 1), "mnist_rot": (28, 28, 1), "mnist_bg_rand": (28, 28, 1),
    "mnist_bg_rand_rot": (28, 28, 1), "digits": (8, 8, 1), "cifar10": (32, 32, 3),
    "cub200": (128, 128, 3), "patches": (12, 12, 1), "toy_manifold": (32, 32, 1),
    "photos64": (64, 64, 3),
}


def _images(x, what):
    """An array of images from an array or a `tf.data.Dataset` of images (or of
    `(images, labels)` batches); the dataset is read once into memory, as the loop keeps the
    arrays in the graph. Checked (and cast to float32) by `_checked_images`."""
    if x is None:
        return None
    if hasattr(x, "as_numpy_iterator"):
        batches = [b[0] if isinstance(b, tuple) else b for b in x.as_numpy_iterator()]
        if not batches:
            raise ValueError(f"`{what}` is an empty dataset")
        return np.concatenate(batches)
    return np.asarray(x)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ZooModel(keras.Model):
    """A zoo model (`sdae_tf.models.get`) as a Keras model: images -> code -> images.

    A functional model (its graph: `encoder`, then `decoder`, no noise) whose two halves are
    `keras.Model` attributes sharing its weights: `encoder` maps images to the code (what is
    fine-tuned and exported), `decoder` maps codes to images. It saves to and loads from a
    `.keras` file in safe mode (`keras.saving.load_model`), and trains in two ways:

    - `pretrain(x)`: greedy layer-wise pretraining, each block a (denoising) autoencoder of the
      clean codes of the blocks below it, with its own optimizer: one Keras `History` per block.
    - `fit(x)` (after `compile()`): the whole (denoising) autoencoder end to end, the target the
      input itself when no `y` is given; `pretrain` then `fit` is the layer-wise-then-end-to-end
      recipe of DEC. Families trained block by block only (`can_train_end_to_end()` False)
      refuse it.

    `classifier(num_classes)` gives the encoder under a fresh head for supervised fine-tuning;
    `export(path)` writes the SavedModel + `encoder.keras` + manifest that
    `sdae_tf.feature_extractor` and `sdae_tf.denoiser` load.

    Args:
        zoo_name: a name of the zoo (`sdae_tf.zoo.REGISTRY.names()`), e.g. "sdae_mnist".
        input_shape: shape of one image; default: that of the entry's dataset.
        seed: seeds the noise layers (block k: `seed + k`) and, by default, the training.
        hparams: the family's hyperparameters to override (a key the family does not take is
            a one-line error listing the ones it does), and `recon_loss` ("bce" / "mse").
        **kwargs: `keras.Model` arguments (`name`, `trainable`, `dtype`).

    Example:

    ```python
    x_train = sdae_tf.data.load_mnist().x_train[:512]  # (N, 28, 28, 1) in [0, 1]
    model = sdae_tf.models.get("sdae_mnist", hidden_units=(256, 64))
    model.pretrain(x_train, epochs=1)
    codes = model.encoder.predict(x_train)     # (N, 64)
    ```
    """

    def __init__(self, zoo_name, input_shape=None, seed=None, hparams=None, **kwargs):
        entry = zoo.REGISTRY.get(zoo_name)
        if input_shape is None:
            input_shape = DATASET_SHAPES[entry.dataset]
        input_shape = checks.int_tuple(input_shape, "input_shape", example="(28, 28, 1)")
        hparams = {k: v for k, v in dict(hparams or {}).items() if v is not None}
        family = zoo.build(zoo_name, input_shape, **{**hparams, "seed": seed})
        decoder = family.decoder()
        images = keras.Input(input_shape, name="images")
        kwargs.setdefault("name", zoo_name)
        super().__init__(inputs=images, outputs=family.reconstruct(images), **kwargs)
        self.zoo_name = zoo_name
        self.seed = seed
        self.hparams = hparams
        self.family = family
        self.encoder = family.encoder
        self.decoder = decoder
        # The graph `fit` trains (noise at the input; the VAE's sampling and KL): None for the
        # families trained block by block. Built here, with the model, so a `.keras` file
        # always holds the same layers.
        self.end_to_end = family.end_to_end_model() if family.can_train_end_to_end() else None

    # --- what the family declares -------------------------------------------------------
    @property
    def image_shape(self):
        """Shape of one input image, e.g. (28, 28, 1)."""
        return tuple(self.family.input_shape)

    @property
    def num_blocks(self):
        """Blocks that `pretrain` trains one after another."""
        return self.family.num_blocks

    @property
    def embedding_size(self):
        """Size of the (flattened) code."""
        return self.family.embedding_size

    def can_train_end_to_end(self):
        """Whether `fit(x)` trains the whole (denoising) autoencoder at once."""
        return self.end_to_end is not None

    def describe(self):
        """The architecture and noise, as an export's manifest records them."""
        return self.family.describe()

    # --- Keras ----------------------------------------------------------------------------
    def call(self, inputs, training=None):
        if training and self.end_to_end is not None:
            return self.end_to_end(inputs, training=True)
        return super().call(inputs, training=training)

    def compile(self, optimizer="auto", loss="auto", **kwargs):
        """`keras.Model.compile` with the family's defaults: Adam at 1e-3 (`"auto"`) and the
        family's reconstruction loss (`"auto"`)."""
        if optimizer == "auto":
            optimizer = stages.make_optimizer(1e-3, "constant", 0)
        if loss == "auto":
            loss = self.family.block_loss(0)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compile_from_config(self, config):
        """Recompiles a loaded model with its saved settings (Keras' own, which skips models
        whose `compile` is overridden)."""
        from keras.src.saving import serialization_lib

        self.compile(**serialization_lib.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # An autoencoder's target is its input: `fit(x)` without `y`.
        return super().compute_loss(x=x, y=x if y is None else y, y_pred=y_pred,
                                    sample_weight=sample_weight, training=training)

    def fit(self, x=None, y=None, *args, **kwargs):
        if y is None and self.end_to_end is None:
            raise ValueError(
                f"{self.zoo_name} ({type(self.family).__name__}) is trained block by block: "
                "call pretrain(x); fit(x) trains end to end the families that can "
                "(can_train_end_to_end())")
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
        return {"name": self.name, "trainable": self.trainable, "zoo_name": self.zoo_name,
                "input_shape": list(self.image_shape), "seed": self.seed,
                "hparams": {k: config_lib.jsonable(v) for k, v in self.hparams.items()}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

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
        if self.num_blocks == 0:
            raise ValueError(f"{self.zoo_name} has no blocks to pretrain")
        defaults = type(self.family).PRETRAIN_DEFAULTS
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
        records = stages.pretrain_layerwise(self.family, data, settings,
                                            callbacks=list(callbacks or ()))
        return [_history(r) for r in records]

    def classifier(self, num_classes, head_units=1000, head_layers=1, input_noise=0.0,
                   seed=None, learning_rate=1e-3, compile=True):
        """The encoder (its weights shared with this model) under a fresh head:
        `head_layers` x Dense(`head_units`, ReLU) -> Dense(`num_classes`) logits, spatial
        codes flattened. Compiled (Adam at `learning_rate`, sparse categorical cross-entropy
        from logits, accuracy) unless `compile=False`; `input_noise` > 0 adds Gaussian noise
        to the inputs while training."""
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"`num_classes` must be an integer >= 2. Received: {num_classes!r}")
        seed = seed if seed is not None else (self.seed or 0) + 2000
        learning_rate = checks.positive_number(learning_rate, "learning_rate")
        model = zoo.classifier(self.encoder, num_classes, units=head_units,
                               name=f"{self.name}_classifier", hidden_layers=head_layers,
                               input_noise=input_noise, seed=seed)
        if compile:
            model.compile(
                optimizer=stages.make_optimizer(learning_rate, "constant", 0),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
        return model

    def segmenter(self, filters=32, train_encoder=True, learning_rate=1e-3, compile=True):
        """The encoder (its weights shared with this model) under a light decoder head to a
        per-pixel digit probability (`sdae_tf.zoo.heads.segmenter`), for masks such as
        `sdae_tf.data.segmentation.load_digit_masks`. `train_encoder=False` freezes the
        encoder (the head alone trains). Compiled (Adam at `learning_rate`, binary
        cross-entropy, pixel accuracy and foreground IoU) unless `compile=False`.

        Raises:
            ValueError: a family whose code is a vector (nothing spatial to segment from).

        Example:

        ```python
        data = sdae_tf.data.segmentation.load_digit_masks("bg_rand_rot")
        seg = sdae_tf.models.get("cdae_mnist").segmenter()
        seg.fit(data.x_train, data.y_train, epochs=1)
        ```
        """
        model = zoo.heads.segmenter(self.encoder, filters=filters,
                                    name=f"{self.name}_segmenter")
        self.encoder.trainable = bool(train_encoder)
        if compile:
            model.compile(
                optimizer=stages.make_optimizer(learning_rate, "constant", 0),
                loss="binary_crossentropy",
                metrics=[keras.metrics.BinaryAccuracy(name="pixel_accuracy"),
                         keras.metrics.BinaryIoU(target_class_ids=[1], name="iou")])
        return model

    def autoencoder(self):
        """The family's own autoencoder model (the layout of a run's pretrained weights)."""
        return self.family.autoencoder()

    def export(self, path, overwrite=False, dataset=None, value_range=(0.0, 1.0),
               check_sample=None, probe_data=None, metrics=None):
        """Writes the encoder (`serve`) and this autoencoder (`reconstruct`) as a SavedModel,
        with `encoder.keras` and `manifest.json` (checksums of every file), to `path`; see
        `sdae_tf.models.export_model`."""
        return exporting.export_model(self, path, overwrite=overwrite, dataset=dataset,
                                      value_range=value_range, check_sample=check_sample,
                                      probe_data=probe_data, metrics=metrics)

    def _checked_images(self, x, what):
        if x is None:
            return None
        return checks.images(x, self.image_shape, what, model=self.zoo_name,
                             unit_range=checks.is_cross_entropy(self.family.block_loss(0)))


def _history(record):
    history = keras.callbacks.History()
    history.history = {k: list(v) for k, v in record["history"].items()}
    history.epoch = list(range(len(next(iter(history.history.values()), []))))
    return history


def get(name, input_shape=None, seed=None, **overrides):
    """The untrained zoo model `name` as a `ZooModel`.

    Args:
        name: a zoo name, e.g. "sdae_mnist", "cdae_cifar10", "vae_mnist"
            (`sdae_tf.zoo.REGISTRY.names()`).
        input_shape: shape of one image; default: the entry's dataset's.
        seed: seeds the noise layers and the training.
        **overrides: the family's hyperparameters (e.g. `hidden_units=(500, 250)`,
            `noise_type="masking"`, `noise_level=0.3`, `recon_loss="mse"`); one the family
            does not take is a `ValueError` listing those it does.

    Example:

    ```python
    model = sdae_tf.models.get("cdae_mnist", noise_level=0.3)
    model.summary()
    ```
    """
    return ZooModel(name, input_shape=input_shape, seed=seed, hparams=overrides)
