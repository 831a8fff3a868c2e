"""Exported models as Keras layers, by name (a shipped model) or by path, with their input
contract and their files' checksums checked: encoders as feature extractors, and the whole
autoencoders of exports that carry one as denoisers.

    encoder = sdae_tf.feature_extractor("sdae_mnist")      # frozen Keras layer
    encoder.contract  # InputContract(shape=(28, 28, 1), dtype='float32', value_range=(0, 1), ...)
    clean = sdae_tf.denoiser("sdae_mnist")(noisy_images)  # reconstruction, same shape

Names resolve in the folders of `sdae_tf.hub.resources.model_roots()`: `$SDAE_TF_MODELS`, the
models installed with the package, the repository's `exported_models/`.
"""

import dataclasses
import os
import pathlib

import keras
from keras import ops

from sdae_tf.hub import export as export_lib
from sdae_tf.hub import packing, resources
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.utils import checks

MODELS_ENV = resources.MODELS_ENV


def list_models(root=None):
    """Manifests of the exports under `root`, by name.

    Args:
        root: a folder of exports; default: every folder of `resources.model_roots()`, the
            first holding a name wins.

    Returns:
        A dict name -> manifest, each with `path` and `size_mb` added.

    Example:

    ```python
    for name, manifest in sdae_tf.hub.pretrained.list_models().items():
        print(name, manifest["size_mb"])
    ```
    """
    if root is not None and not pathlib.Path(root).is_dir():
        raise FileNotFoundError(f"{root}: no such folder of exported models")
    roots = [pathlib.Path(root)] if root is not None else resources.model_roots()
    out = {}
    for folder in roots:
        for manifest_file in sorted(folder.glob(f"*/{export_lib.MANIFEST_FILE}")):
            path = manifest_file.parent
            if path.name in out or path.name.startswith("."):
                continue
            manifest = export_lib.load_manifest(path)
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            out[path.name] = {**manifest, "path": str(path),
                              "size_mb": round(size / 2**20, 2)}
    return out


def resolve(name_or_path):
    """The export folder of a path, or of a shipped model name.

    A name resolves to its first match in `resources.model_roots()`; a pack
    (`sdae_tf.hub.packing`, what the wheel ships) to its full export, unpacked into the cache
    on first use. A place the user named is never passed over: a path (absolute, or with a
    folder in it) that is a folder without `manifest.json`, or a `$SDAE_TF_MODELS` folder
    holding the name without one, is an error naming it, not a fall-back to another copy.

    Args:
        name_or_path: a shipped model's name or an export folder.

    Returns:
        The full export's folder, a `pathlib.Path` (what TensorFlow alone loads).

    Raises:
        FileNotFoundError: no such model; the message lists the known names and where they
            were looked for.

    Example:

    ```python
    path = sdae_tf.hub.pretrained.resolve("sdae_mnist")
    encoder = tf.saved_model.load(str(path))  # keep the reference while calling it
    codes = encoder.serve(images)
    ```
    """
    found = _find(name_or_path)
    return packing.unpack(found) if packing.is_packed(found) else found


def _find(name_or_path):
    candidate = pathlib.Path(name_or_path)
    if (candidate / export_lib.MANIFEST_FILE).exists():
        return candidate
    text = str(name_or_path)
    if candidate.is_dir() and (candidate.is_absolute() or "/" in text or os.sep in text):
        raise FileNotFoundError(f"{candidate} holds no {export_lib.MANIFEST_FILE}: not an "
                                "sdae_tf export (an export folder has its manifest)")
    roots = resources.model_roots()
    user_root = resources.user_models_root()
    for root in roots:
        by_name = root / text
        if (by_name / export_lib.MANIFEST_FILE).exists():
            return by_name
        if user_root is not None and root == user_root and by_name.exists():
            raise FileNotFoundError(
                f"${MODELS_ENV}={user_root} holds {text} but {by_name} has no "
                f"{export_lib.MANIFEST_FILE}: not an sdae_tf export; fix or remove it (the "
                "other model folders are not searched past a model the user named)")
    known = ", ".join(list_models()) or "none"
    where = ", ".join(str(r) for r in roots) or "no model folder"
    raise FileNotFoundError(
        f"No exported model {text!r}: not a folder with {export_lib.MANIFEST_FILE}"
        f" and not a shipped model in {where} (shipped: {known})")


@dataclasses.dataclass(frozen=True)
class InputContract:
    """What an exported encoder takes: images of `shape` (batch first, any batch size), float32
    (integer and float64 inputs are cast), values within `value_range`.

    Attributes:
        shape: one image's shape, e.g. (28, 28, 1).
        dtype: "float32".
        value_range: (low, high) of the pixel values, e.g. (0.0, 1.0).
        embedding_size: size of the flattened embedding.
        output_shape: the embedding's shape, without the batch.

    Example:

    ```python
    contract = sdae_tf.feature_extractor("sdae_mnist").contract
    print(contract.describe())  # images of shape (batch, 28, 28, 1), float32, values in [0, 1]
    ```
    """

    shape: tuple
    dtype: str
    value_range: tuple
    embedding_size: int
    output_shape: tuple

    @classmethod
    def from_manifest(cls, manifest):
        return cls(shape=tuple(manifest["input"]["shape"]), dtype=manifest["input"]["dtype"],
                   value_range=tuple(manifest["input"]["range"]),
                   embedding_size=int(manifest["embedding_size"]),
                   output_shape=tuple(manifest["output_shape"]))

    def describe(self):
        return (f"images of shape (batch, {', '.join(map(str, self.shape))}), "
                f"{self.dtype}, values in [{self.value_range[0]:g}, {self.value_range[1]:g}]")

    def check_shape(self, shape, name="encoder"):
        shape = tuple(shape)
        dims = shape[1:]
        if len(dims) != len(self.shape) or any(
                got is not None and want != got
                for want, got in zip(self.shape, dims, strict=True)):
            hint = ""
            if len(shape) >= 2 and _prod(shape[1:]) == _prod(self.shape):
                hint = f"; reshape to (-1, {', '.join(map(str, self.shape))})"
            raise ValueError(f"{name} expects {self.describe()}; received input of shape "
                             f"{shape}{hint}")


def _prod(dims):
    out = 1
    for d in dims:
        if d is None:
            return None
        out *= d
    return out


class _ExportedLayer(keras.layers.Layer):
    """What the exported-model layers share: the export's manifest and input contract, checked
    on every call (shape, dtype, and with `check_range` the value range)."""

    def __init__(self, export_path, trainable=False, check_range=True, suffix="", **kwargs):
        path = resolve(export_path)
        kwargs.setdefault("name", f"{path.name}_{suffix}")
        super().__init__(trainable=trainable, **kwargs)
        self.export_path, self.check_range = str(path), bool(check_range)
        self.manifest = export_lib.load_manifest(path)
        self.contract = InputContract.from_manifest(self.manifest)

    def build(self, input_shape):
        self.contract.check_shape(input_shape, self.name)
        self.built = True

    def checked(self, images):
        """`images` as float32 after the contract's checks."""
        self.contract.check_shape(images.shape, self.name)
        dtype = keras.backend.standardize_dtype(images.dtype)
        if not ("float" in dtype or "int" in dtype):
            raise TypeError(f"{self.name} expects {self.contract.describe()}; received dtype "
                            f"{dtype}")
        images = ops.cast(images, "float32")
        if not self.check_range:
            return images
        import tensorflow as tf

        lo, hi = self.contract.value_range
        if tf.executing_eagerly():  # checked in `__call__`, before Keras wraps the error
            return images
        bad = f"{self.name} expects finite values in [{lo:g}, {hi:g}]"
        with tf.control_dependencies([
            tf.debugging.assert_all_finite(images, message=f"{bad}; received NaN or inf"),
            tf.debugging.assert_greater_equal(images, tf.constant(lo, tf.float32),
                                              message=f"{bad}; received smaller values"),
            tf.debugging.assert_less_equal(images, tf.constant(hi, tf.float32),
                                           message=f"{bad}; received larger values (scale "
                                                   "0-255 images by 1/255)"),
        ]):
            return tf.identity(images)

    def __call__(self, images, *args, **kwargs):
        # Eager calls on concrete values get a one-line ValueError; inside a traced function
        # (fit, predict, a SavedModel) the assertions of `checked` fire instead.
        import numpy as np
        import tensorflow as tf

        if (self.check_range and tf.executing_eagerly()
                and not isinstance(images, keras.KerasTensor)):
            values = np.asarray(images)
            if values.dtype.kind in "fiu":
                self._check_values(values.astype(np.float32), *self.contract.value_range)
        return super().__call__(images, *args, **kwargs)

    def _check_values(self, images, lo, hi):
        import numpy as np

        finite = np.isfinite(images)
        if not finite.all():
            raise ValueError(f"{self.name} expects finite values in [{lo:g}, {hi:g}]; received "
                             f"{int((~finite).sum())} NaN or infinite values of {images.size}")
        if images.size == 0:
            return
        low, high = float(images.min()), float(images.max())
        if low < lo or high > hi:
            hint = " (scale 0-255 images by 1/255)" if high > hi and high <= 255 else ""
            raise ValueError(f"{self.name} expects values in [{lo:g}, {hi:g}]; received values "
                             f"in [{low:g}, {high:g}]{hint}")

    def get_config(self):
        return {**super().get_config(), "export_path": self.export_path,
                "check_range": self.check_range}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PretrainedEncoder(_ExportedLayer):
    """An exported encoder as a Keras layer (images -> embedding) that checks its input contract
    and, before loading, the SHA-256 of the files it reads.

    Args:
        export_path: an export folder, or a shipped model's name (see `resolve`).
        trainable: False (default) runs the frozen SavedModel (`keras.layers.TFSMLayer`); True
            loads the `.keras` copy (safe mode) whose weights fine-tune with the model above it.
        check_range: assert at run time that inputs lie within the contract's value range (a
            cheap min/max per batch); a clear `InvalidArgumentError` otherwise.

    Example:

    ```python
    layer = sdae_tf.hub.pretrained.PretrainedEncoder("cdae_mnist")
    codes = layer(images)  # (8, 7, 7, 16); layer.contract says what it takes
    ```
    """

    def __init__(self, export_path, trainable=False, check_range=True, **kwargs):
        super().__init__(export_path, trainable=trainable, check_range=check_range,
                         suffix="encoder", **kwargs)
        path = pathlib.Path(self.export_path)
        self.inner = export_lib.load_encoder(path, trainable=trainable,
                                             name=f"{path.name}_saved_model")

    def call(self, images):
        return self.inner(self.checked(images))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.contract.output_shape)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PretrainedDenoiser(_ExportedLayer):
    """An export's whole autoencoder (its `reconstruct` endpoint) as a frozen Keras layer:
    images -> reconstructed images of the same shape, input contract and checksums checked.
    `layer.noise` is what the manifest says it was trained to remove.

    Args:
        export_path: an export folder, or a shipped model's name (see `resolve`).
        check_range: assert at run time that inputs lie within the contract's value range.

    Example:

    ```python
    layer = sdae_tf.hub.pretrained.PretrainedDenoiser("cdae_mnist")
    print(layer.noise)  # {'type': 'gaussian', 'level': 0.4}
    clean = layer(images)
    ```
    """

    def __init__(self, export_path, check_range=True, **kwargs):
        kwargs.pop("trainable", None)
        super().__init__(export_path, trainable=False, check_range=check_range,
                         suffix="denoiser", **kwargs)
        path = pathlib.Path(self.export_path)
        instead = self.manifest.get("denoiser", {}).get("use_instead")
        if instead:
            name = self.manifest.get("model") or path.name
            loader = LOADERS.get(instead["endpoint"], f"its {instead['endpoint']!r} endpoint")
            raise ValueError(f"{name} is not a denoiser: {instead['why']}; use "
                             f"{loader}({str(export_path)!r})")
        self.inner = export_lib.load_reconstructor(path, name=f"{path.name}_reconstruct")
        self.noise = self.manifest["denoiser"].get("noise")

    def call(self, images):
        return self.inner(self.checked(images))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.manifest["denoiser"]["output_shape"])


@keras.saving.register_keras_serializable(package=PACKAGE)
class PretrainedInpainter(_ExportedLayer):
    """A masked autoencoder's export (its `inpaint` endpoint) as a frozen Keras layer:
    `[images, hidden]` -> images with the patches `hidden` marks filled in from the visible
    ones. `hidden` is (batch, patches), 1 where a patch is hidden (row-major patches of
    `layer.patch_size`), the same number per example. Input contract and checksums checked.

    Args:
        export_path: an export folder with the `inpaint` endpoint, or a shipped model's name.
        check_range: check that images lie within the contract's value range.

    Example:

    ```python
    layer = sdae_tf.hub.pretrained.PretrainedInpainter("mae_mnist")
    hidden = np.zeros((len(images), layer.patches), "float32")
    hidden[:, ::2] = 1.0  # every other patch hidden
    filled = layer([images, hidden])
    ```
    """

    ENDPOINT = "inpaint"

    def __init__(self, export_path, check_range=True, **kwargs):
        kwargs.pop("trainable", None)
        super().__init__(export_path, trainable=False, check_range=check_range,
                         suffix="inpainter", **kwargs)
        path = pathlib.Path(self.export_path)
        self.inner = export_lib.load_endpoint(path, self.ENDPOINT,
                                              name=f"{path.name}_{self.ENDPOINT}")
        inputs = self.manifest["extra_endpoints"][self.ENDPOINT]["inputs"]
        self.patches = int(inputs[1]["shape"][0])
        self.patch_size = self.manifest["architecture"].get("patch_size")

    def build(self, input_shape):
        self.contract.check_shape(input_shape[0], self.name)
        self.built = True

    def __call__(self, inputs, *args, **kwargs):
        import numpy as np
        import tensorflow as tf

        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"{self.name} takes [images, hidden]; received "
                             f"{type(inputs).__name__}")
        images, hidden = inputs
        if tf.executing_eagerly() and not isinstance(hidden, keras.KerasTensor):
            from sdae_tf.layers.patches import check_hidden

            check_hidden(np.asarray(hidden, np.float32), self.patches)
            if not isinstance(images, keras.KerasTensor):
                checks.same_batch(images, hidden, "images", "hidden")
            if self.check_range and not isinstance(images, keras.KerasTensor):
                self._check_values(np.asarray(images, np.float32), *self.contract.value_range)
        return keras.layers.Layer.__call__(self, [images, hidden], *args, **kwargs)

    def call(self, inputs):
        images, hidden = inputs
        return self.inner([self.checked(images), ops.cast(hidden, "float32")])

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], *self.contract.shape)


def inpainter(name_or_path, check_range=True, name=None):
    """A masked autoencoder's export (a shipped name or an export folder) as a frozen Keras
    layer, `[images, hidden]` -> images with the hidden patches filled in.

    Args:
        name_or_path: a shipped model's name (`mae_mnist`) or an export folder of a family
            with the `inpaint` endpoint.
        check_range: check that images lie in the contract's value range.
        name: the layer's name.

    Returns:
        A `PretrainedInpainter` layer; `layer.patches` is the number of patches `hidden` flags,
        `layer.patch_size` their size.

    Raises:
        FileNotFoundError: no such model. ValueError: an export without `inpaint` (every
            family but the masked autoencoder), a damaged one.

    Example:

    ```python
    inpaint = sdae_tf.inpainter("mae_mnist")
    hidden = np.zeros((len(images), inpaint.patches), "float32")
    hidden[:, :21] = 1.0  # the top three rows of 4x4 patches hidden
    filled = inpaint([images, hidden])  # (batch, 28, 28, 1)
    ```
    """
    kwargs = {"name": name} if name else {}
    return PretrainedInpainter(name_or_path, check_range=check_range, **kwargs)


# The loader of each extra endpoint, named where an export says to use it instead of its
# `reconstruct` (the manifest's `denoiser.use_instead`).
LOADERS = {PretrainedInpainter.ENDPOINT: "sdae_tf.inpainter"}


def feature_extractor(name_or_path, trainable=False, check_range=True, name=None):
    """An exported encoder (a shipped name or an export folder) as a Keras layer.

    Args:
        name_or_path: a shipped model's name (`sdae_tf.list_models()`) or an export folder.
        trainable: False (default): the frozen SavedModel; True: the `.keras` copy, whose
            weights fine-tune with the model above it.
        check_range: check that inputs lie in the contract's value range.
        name: the layer's name.

    Returns:
        A `PretrainedEncoder` layer (images -> embedding); its input contract is
        `layer.contract`, its manifest `layer.manifest`.

    Raises:
        FileNotFoundError: no such model. ValueError: a damaged or altered export.

    Example:

    ```python
    encoder = sdae_tf.feature_extractor("sdae_mnist")
    codes = encoder(images)  # (batch, 28, 28, 1) in [0, 1] -> (batch, 1000)
    ```
    """
    kwargs = {"name": name} if name else {}
    return PretrainedEncoder(name_or_path, trainable=trainable, check_range=check_range, **kwargs)


def denoiser(name_or_path, check_range=True, name=None):
    """An export's whole autoencoder (a shipped name or an export folder) as a frozen Keras
    layer, images -> reconstruction.

    Args:
        name_or_path: a shipped model's name or an export folder.
        check_range: check that inputs lie in the contract's value range.
        name: the layer's name.

    Returns:
        A `PretrainedDenoiser` layer; `layer.noise` is the noise it was trained to remove.

    Raises:
        FileNotFoundError: no such model. ValueError: an export without a decoder (or written
            before version 0.2), a masked autoencoder (use `inpainter`), or a damaged one.

    Example:

    ```python
    clean = sdae_tf.denoiser("cdae_mnist")(images)  # same shape as the input
    ```
    """
    kwargs = {"name": name} if name else {}
    return PretrainedDenoiser(name_or_path, check_range=check_range, **kwargs)
