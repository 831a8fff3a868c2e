"""Corruption processes for denoising autoencoders: Gaussian, salt-and-pepper, zero-masking,
dropout (masking with the survivors rescaled), Gaussian noise scaled by the local variance
of an image (the report's section 8 suggestion), and desaturation (colour images to grey: the
colorization pretext of section 8)."""

import keras
from keras import ops

from sdae_tf.layers import draws
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.utils.keras_compat import track_variable


def check_seed(seed):
    """Returns `seed` if it is an integer or None, else raises a ValueError naming it.

    Args:
        seed: an int or None.

    Returns:
        `seed`.

    Raises:
        ValueError: anything else (a bool, a float, a str).
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")
    return seed


def tracked_seed_generator(layer, seed):
    """A `keras.random.SeedGenerator` for `layer` whose state is also one of the layer's
    non-trainable weights, so checkpoints (`save_weights`, `.keras`) carry the position in the
    random stream and a resumed run draws the same noise as an uninterrupted one.

    Args:
        layer: the Keras layer that owns it.
        seed: an int or None.

    Returns:
        A `keras.random.SeedGenerator`.
    """
    generator = keras.random.SeedGenerator(seed, name=f"{layer.name}_seed_generator")
    track_variable(layer, generator.state)
    return generator


class NoiseLayer(keras.layers.Layer):
    """Base of the noise layers: corrupts inputs when `training=True`, identity otherwise.

    Subclasses implement `corrupt(inputs)`. Each layer owns a `keras.random.SeedGenerator`, so
    a fixed `seed` gives the same sequence of corruptions.

    Args:
        seed: optional integer seed of the layer's random generator.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:

    ```python
    class Flip(sdae_tf.layers.NoiseLayer):  # a new corruption: define `corrupt`
        def corrupt(self, inputs):
            return 1.0 - inputs

    flipped = Flip()(images, training=True)
    ```
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_seed(seed)
        self.seed_generator = tracked_seed_generator(self, seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if training and self.active:
            return self.corrupt(inputs)
        return inputs

    @property
    def active(self):
        """False when the configured level makes the layer an identity."""
        return True

    def corrupt(self, inputs):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _check_fraction(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GaussianNoise(NoiseLayer):
    """Additive isotropic Gaussian noise: `x + stddev * eps`, `eps ~ N(0, 1)`.

    Args:
        stddev: standard deviation of the noise, >= 0 (the report's default is 0.4).
        seed: optional integer seed.

    Example:

    ```python
    layer = sdae_tf.layers.GaussianNoise(0.4, seed=0)
    noisy = layer(images, training=True)   # images + N(0, 0.4^2); unchanged at inference
    ```
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
            raise ValueError(f"`stddev` must be a number >= 0. Received: stddev={stddev!r}")
        self.stddev = float(stddev)

    @property
    def active(self):
        return self.stddev > 0

    def corrupt(self, inputs):
        noise = draws.normal(
            ops.shape(inputs), stddev=self.stddev, dtype=self.compute_dtype,
            seed=self.seed_generator,
        )
        return inputs + noise

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SaltAndPepperNoise(NoiseLayer):
    """Salt-and-pepper noise: each component, with probability `rate`, is set to
    `min_value` or `max_value` (each with probability 1/2).

    Args:
        rate: probability in [0, 1) that a component is corrupted (report: 0.25).
        min_value: the "pepper" value (default 0).
        max_value: the "salt" value (default 1); must be greater than `min_value`.
        seed: optional integer seed.

    Example:

    ```python
    layer = sdae_tf.layers.SaltAndPepperNoise(0.25, seed=0)
    noisy = layer(images, training=True)   # a quarter of the pixels set to 0 or 1
    ```
    """

    def __init__(self, rate, min_value=0.0, max_value=1.0, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_fraction("rate", rate)
        for name, value in (("min_value", min_value), ("max_value", max_value)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"`{name}` must be a number. Received: {name}={value!r}")
        if not min_value < max_value:
            raise ValueError(
                "`min_value` must be less than `max_value`. "
                f"Received: min_value={min_value!r}, max_value={max_value!r}"
            )
        self.min_value = float(min_value)
        self.max_value = float(max_value)

    @property
    def active(self):
        return self.rate > 0

    def corrupt(self, inputs):
        shape = ops.shape(inputs)
        dtype = self.compute_dtype
        hit = draws.uniform(shape, dtype=dtype, seed=self.seed_generator) < self.rate
        salt = draws.uniform(shape, dtype=dtype, seed=self.seed_generator) < 0.5
        value = ops.where(salt, ops.cast(self.max_value, dtype), ops.cast(self.min_value, dtype))
        return ops.where(hit, value, inputs)

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "min_value": self.min_value,
            "max_value": self.max_value,
        }


class RateNoise(NoiseLayer):
    """Base of the noise layers with one corrupted fraction `rate` in [0, 1) (identity at 0).

    Args:
        rate: the corrupted fraction, in [0, 1).
        seed: seeds the noise.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_fraction("rate", rate)

    @property
    def active(self):
        return self.rate > 0

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ZeroMaskingNoise(RateNoise):
    """Masking noise: each component is set to 0 independently with probability `rate`.

    Unlike dropout, the survivors are not rescaled: the autoencoder must fill in what is missing.

    Args:
        rate: probability in [0, 1) that a component is zeroed (report: 0.65).
        seed: optional integer seed.

    Example:

    ```python
    layer = sdae_tf.layers.ZeroMaskingNoise(0.25, seed=0)
    masked = layer(images, training=True)  # a quarter of the pixels set to 0
    ```
    """

    def corrupt(self, inputs):
        keep = draws.uniform(
            ops.shape(inputs), dtype=self.compute_dtype, seed=self.seed_generator
        ) >= self.rate
        return ops.where(keep, inputs, ops.zeros_like(inputs))


@keras.saving.register_keras_serializable(package=PACKAGE)
class DropoutNoise(RateNoise):
    """Dropout as a corruption: each component is set to 0 with probability `rate` and the
    survivors are scaled by `1 / (1 - rate)` (Keras' inverted dropout), so the expected input
    is unchanged; masking noise (`ZeroMaskingNoise`) at the same rate does not rescale.

    Args:
        rate: probability in [0, 1) that a component is dropped.
        seed: optional integer seed.

    Example:

    ```python
    layer = sdae_tf.layers.DropoutNoise(0.2, seed=0)
    dropped = layer(images, training=True)  # survivors scaled by 1 / 0.8
    ```
    """

    def corrupt(self, inputs):
        return draws.dropout(inputs, self.rate, seed=self.seed_generator)


@keras.saving.register_keras_serializable(package=PACKAGE)
class LocalVarianceGaussianNoise(NoiseLayer):
    """Gaussian noise whose standard deviation follows the local variation of each image:
    `x + sigma_ij * eps` with `sigma_ij` proportional to the standard deviation of the pixels in
    a `window` x `window` neighbourhood of (i, j), normalised so that its mean over each image
    is `stddev` (same mean level as `GaussianNoise(stddev)`, spent on strokes and edges rather
    than on flat background). Inputs of rank 4 (batch, height, width, channels); flat inputs
    (the codes of upper blocks, with no neighbourhoods) get uniform noise of level `stddev`.

    Args:
        stddev: mean standard deviation of the noise over an image, >= 0.
        window: odd neighbourhood size (default 3).
        seed: optional integer seed.

    Example:

    ```python
    layer = sdae_tf.layers.LocalVarianceGaussianNoise(0.4, window=3, seed=0)
    noisy = layer(images, training=True)   # more noise on strokes and edges
    ```
    """

    def __init__(self, stddev, window=3, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
            raise ValueError(f"`stddev` must be a number >= 0. Received: stddev={stddev!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1 \
                or window % 2 == 0:
            raise ValueError(f"`window` must be an odd integer >= 1. Received: window={window!r}")
        self.stddev, self.window = float(stddev), int(window)

    @property
    def active(self):
        return self.stddev > 0

    def noise_scale(self, inputs):
        """The per-pixel standard deviation map (same shape as `inputs`)."""
        if len(inputs.shape) != 4:
            return ops.full_like(inputs, self.stddev)
        pool = lambda t: ops.average_pool(t, self.window, 1, padding="same")  # noqa: E731
        mean = pool(inputs)
        local = ops.sqrt(ops.maximum(pool(inputs * inputs) - mean * mean, 0.0) + 1e-12)
        per_image = ops.mean(local, axis=(1, 2, 3), keepdims=True)
        return self.stddev * local / ops.maximum(per_image, 1e-6)

    def corrupt(self, inputs):
        eps = draws.normal(ops.shape(inputs), dtype=self.compute_dtype,
                                  seed=self.seed_generator)
        return inputs + self.noise_scale(inputs) * eps

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "window": self.window}


@keras.saving.register_keras_serializable(package=PACKAGE)
class GrayscaleNoise(NoiseLayer):
    """Desaturation: colour images moved towards their luminance, `x + strength * (y - x)`
    with `y` the ITU-R BT.601 luma (0.2989 R + 0.5870 G + 0.1140 B, the weights of
    `tf.image.rgb_to_grayscale`) on every channel. At `strength=1` the input is grey and an
    autoencoder trained to reproduce the clean image learns colorization (section 8's
    colorization-vs-denoising question). Deterministic; only images with 3 channels, a
    `(batch, height, width, 3)` tensor, are accepted.

    Args:
        strength: in [0, 1]: 0 leaves the colours, 1 removes them.
        seed: unused (the corruption is deterministic); kept for the noise layers' signature.

    Example:

    ```python
    colour = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    layer = sdae_tf.layers.GrayscaleNoise(1.0)
    grey = layer(colour, training=True)  # every channel the image's luma
    assert np.allclose(grey[..., 0], grey[..., 2])
    ```
    """

    LUMA = (0.2989, 0.5870, 0.1140)

    def __init__(self, strength, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) \
                or not 0 <= strength <= 1:
            raise ValueError(f"`strength` must be a number in [0, 1]. Received: "
                             f"strength={strength!r}")
        self.strength = float(strength)

    def _check_shape(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] != 3:
            raise ValueError(
                f"{type(self).__name__} desaturates colour images, (batch, height, width, 3); "
                f"received inputs of shape {tuple(input_shape)}: use it on a model of colour "
                "images (cae_cifar10, cdae_cifar10, ...)")

    def call(self, inputs, training=False):
        self._check_shape(inputs.shape)
        return super().call(inputs, training=training)

    def compute_output_shape(self, input_shape):
        self._check_shape(input_shape)
        return input_shape

    @property
    def active(self):
        return self.strength > 0

    def corrupt(self, inputs):
        luma = ops.sum(inputs * ops.convert_to_tensor(self.LUMA, dtype=inputs.dtype),
                       axis=-1, keepdims=True)
        return inputs + self.strength * (luma - inputs)

    def get_config(self):
        return {**super().get_config(), "strength": self.strength}


# name -> (class, name of its level argument)
NOISE_TYPES = {
    "gaussian": (GaussianNoise, "stddev"),
    "salt_and_pepper": (SaltAndPepperNoise, "rate"),
    "masking": (ZeroMaskingNoise, "rate"),
    "dropout": (DropoutNoise, "rate"),
    "local_variance": (LocalVarianceGaussianNoise, "stddev"),
    "grayscale": (GrayscaleNoise, "strength"),
}


def make_noise(kind, level, seed=None, name=None):
    """Builds a noise layer from a type name and its level, or returns None for no noise.

    Args:
        kind: one of `NOISE_TYPES` ("gaussian", "salt_and_pepper", "masking") or "none".
        level: Gaussian stddev, or the corrupted fraction for the other two.
        seed: optional integer seed.
        name: optional layer name.

    Example:

    ```python
    layer = sdae_tf.layers.make_noise("masking", 0.25, seed=0)  # a ZeroMaskingNoise
    assert sdae_tf.layers.make_noise("none", 0.0) is None
    ```
    """
    if kind in (None, "none") or not level:
        return None
    if kind not in NOISE_TYPES:
        raise ValueError(
            f"Unknown noise type {kind!r}. Available: {', '.join(['none', *NOISE_TYPES])}"
        )
    cls, arg = NOISE_TYPES[kind]
    return cls(**{arg: level}, seed=seed, name=name)


def corrupt(inputs, kind, level, seed=None, name=None):
    """`inputs` through the noise layer of `kind` at `level` (`make_noise`), or unchanged for
    no noise: the corruption step every family's pretraining model starts with.

    Args:
        inputs: a tensor (or a Keras input).
        kind: a noise type of `NOISE_TYPES` ("gaussian", "masking", ...) or "none".
        level: the noise's level (its stddev or rate); 0 is no noise.
        seed: seeds the noise layer.
        name: the noise layer's name.

    Returns:
        The corrupted tensor, or `inputs` itself for no noise.

    Example:

    ```python
    inputs = keras.Input((28, 28, 1))
    noisy = sdae_tf.layers.corrupt(inputs, "masking", 0.25, seed=0)
    model = keras.Model(inputs, noisy)  # noise while training only (Keras' convention)
    ```
    """
    noise = make_noise(kind, level, seed=seed, name=name)
    return inputs if noise is None else noise(inputs)
