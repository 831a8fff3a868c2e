"""Supervised heads attached to a (pretrained) encoder for fine-tuning."""

import keras

from sdae_tf.layers import corrupt
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.utils import storage
from sdae_tf.zoo import compiling

# Where a task keeps its family: a name starting with "__", which Keras' saving walk skips.
_FAMILY_KEY = "__family"


@keras.saving.register_keras_serializable(package=PACKAGE)
class Task(compiling.RecompiledOnLoad, keras.Model):
    """A task model (a classifier, segmenter or clusterer over a family's encoder, `family`
    the family it was built on): a functional `keras.Model` whose `save` is written whole or
    not at all (`sdae_tf.utils.storage.save_keras`): a failed
    save leaves the file it would have replaced as it was. A task kind (`Classifier`,
    `Segmenter`) declares what `compile` fills in (`"auto"`) and the validation metric its
    fine-tuning keeps the best epoch of (`MONITOR`)."""

    MONITOR = None

    def __getattr__(self, name):
        # `family`: the family (`sdae_tf.zoo.Family`) whose encoder this task reads, its
        # weights shared; None for a task loaded from a file, which holds the encoder and the
        # head, not the whole family. Held outside Keras' tracking (a key Keras' saving skips,
        # read here rather than through a property, which the saving would walk), so the
        # task's weights, optimizer and files are what they are without it.
        if name == "family":
            return self.__dict__.get(_FAMILY_KEY)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def attach_family(self, family):
        """Records `family` as the one this task was built on (`task.family`); returns self."""
        object.__setattr__(self, _FAMILY_KEY, family)
        return self

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile` with the task's defaults for what is left `"auto"`: Adam at
        1e-3 and the task kind's loss and metrics."""
        defaults = self.compile_defaults()
        super().compile(
            optimizer=compiling.default_optimizer() if optimizer == "auto" else optimizer,
            loss=defaults["loss"] if loss == "auto" else loss,
            metrics=defaults["metrics"] if metrics == "auto" else metrics, **kwargs)

    def compile_defaults(self):
        """{"loss": ..., "metrics": [...]}: what `compile` uses for `"auto"`."""
        return {"loss": None, "metrics": None}

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        storage.save_keras(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Classifier(Task):
    """Images -> class logits (not probabilities: apply `keras.ops.softmax` for those);
    compiled by default with sparse categorical cross-entropy from logits and accuracy."""

    MONITOR = "val_accuracy"

    def compile_defaults(self):
        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                "metrics": ["accuracy"]}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Segmenter(Task):
    """Images -> per-pixel foreground probabilities (batch, H, W, 1); compiled by default with
    binary cross-entropy, pixel accuracy and the foreground IoU."""

    MONITOR = "val_iou"

    def compile_defaults(self):
        return {"loss": "binary_crossentropy",
                "metrics": [keras.metrics.BinaryAccuracy(name="pixel_accuracy"),
                            keras.metrics.BinaryIoU(target_class_ids=[1], name="iou")]}


def dense_head(num_classes, units=1000, name="head", hidden_layers=1):
    """The report's fresh head: `hidden_layers` x Dense(units, ReLU) -> Dense(num_classes)
    logits (one hidden layer: the two-layer head of Tables 1-4; two: Table 5's three-layer head
    on CUB-200). Spatial (conv) codes are flattened first.

    Args:
        num_classes: the logits' size.
        units: width of each hidden layer.
        name: the head's name (its layers' prefix).
        hidden_layers: hidden layers, an integer >= 1.

    Returns:
        A `keras.Sequential` code -> logits.

    Example:

    ```python
    head = sdae_tf.zoo.dense_head(10, units=256)
    logits = head(np.zeros((2, 64), "float32"))  # (2, 10)
    ```
    """
    if isinstance(hidden_layers, bool) or not isinstance(hidden_layers, int) or hidden_layers < 1:
        raise ValueError(f"`hidden_layers` must be an integer >= 1. Received: {hidden_layers!r}")
    hidden = [keras.layers.Dense(units, activation="relu",
                                 name=f"{name}_hidden" + (f"_{i + 1}" if i else ""))
              for i in range(hidden_layers)]
    return keras.Sequential(
        [
            keras.layers.Flatten(name=f"{name}_flatten"),
            *hidden,
            keras.layers.Dense(num_classes, name=f"{name}_logits"),
        ],
        name=name,
    )


def classifier(encoder, num_classes, units=1000, name="classifier", hidden_layers=1,
               input_noise=0.0, seed=None):
    """`encoder` followed by a fresh `dense_head`: a functional model from inputs to logits.
    `input_noise` > 0 corrupts the inputs with Gaussian noise of that stddev while training
    (a regulariser of fine-tuning; the encoder itself, and so its export, has no noise).

    Args:
        encoder: a Keras model images -> code.
        num_classes: the logits' size.
        units: width of the head's hidden layers.
        name: the model's name.
        hidden_layers: the head's hidden layers.
        input_noise: stddev of the Gaussian noise on the inputs while training (0: none).
        seed: seeds that noise.

    Returns:
        A `Classifier` (a functional `keras.Model`) images -> logits, the encoder's weights
        shared.

    Example:

    ```python
    encoder = sdae_tf.models.get("sdae_mnist", hidden_units=(256, 64)).encoder
    model = sdae_tf.zoo.classifier(encoder, 10, units=128)
    logits = model(images)  # (batch, 10)
    ```
    """
    inputs = keras.Input(encoder.input_shape[1:], name="images")
    h = corrupt(inputs, "gaussian", input_noise, seed=seed, name="finetune_noise")
    logits = dense_head(num_classes, units, hidden_layers=hidden_layers)(encoder(h))
    return Classifier(inputs, logits, name=name)


def segmenter(encoder, filters=32, name="segmenter"):
    """`encoder` (spatial codes `(h, w, c)`) followed by a light decoder head to one per-pixel
    digit probability: Conv 3x3 (`filters`, ReLU), bilinear upsampling to the image's size,
    Conv 3x3 (`filters`, ReLU), Conv 1x1 sigmoid. Encoders with a vector code (the dense and VAE
    stacks, the masked autoencoder's mean token) have no layout to segment: a one-line error.

    Args:
        encoder: a Keras model images -> a spatial code (h, w, c) whose grid divides the image.
        filters: the head's width.
        name: the model's name.

    Returns:
        A `Segmenter` (a functional `keras.Model`) images -> (batch, H, W, 1) digit
        probabilities.

    Raises:
        ValueError: a vector code (naming the families with a spatial one), or a grid that
            does not divide the image.
    """
    shape = tuple(encoder.output_shape[1:])
    image = tuple(encoder.input_shape[1:])
    if len(shape) != 3:
        from sdae_tf.zoo import REGISTRY  # the registry is built from this package's modules
        raise ValueError(f"Segmentation needs a spatial code (height, width, channels); "
                         f"{encoder.name}'s code has shape {shape}: use a convolutional family "
                         f"({', '.join(REGISTRY.with_spatial_code('mnist'))})")
    if image[0] % shape[0] or image[1] % shape[1]:
        raise ValueError(f"{encoder.name}: the code's {shape[:2]} grid does not divide the "
                         f"image's {image[:2]}")
    inputs = keras.Input(image, name="images")
    h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                            name=f"{name}_conv1")(encoder(inputs))
    h = keras.layers.UpSampling2D((image[0] // shape[0], image[1] // shape[1]),
                                  interpolation="bilinear", name=f"{name}_up")(h)
    h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                            name=f"{name}_conv2")(h)
    out = keras.layers.Conv2D(1, 1, activation="sigmoid", name=f"{name}_mask")(h)
    return Segmenter(inputs, out, name=name)
