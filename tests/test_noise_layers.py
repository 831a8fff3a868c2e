"""Noise layers: identity at inference, statistics with a fixed seed, validation, serialization."""

import keras
import numpy as np
import pytest

from sdae_tf.layers import (
    DropoutNoise,
    GaussianNoise,
    GrayscaleNoise,
    LocalVarianceGaussianNoise,
    SaltAndPepperNoise,
    ZeroMaskingNoise,
    draws,
    make_noise,
)

from .layer_round_trip import assert_config_round_trip, assert_keras_file_round_trip

LAYERS = {
    "gaussian": lambda seed=1: GaussianNoise(0.4, seed=seed),
    "salt_and_pepper": lambda seed=1: SaltAndPepperNoise(0.25, min_value=-1.0, max_value=2.0,
                                                         seed=seed),
    "masking": lambda seed=1: ZeroMaskingNoise(0.65, seed=seed),
    "dropout": lambda seed=1: DropoutNoise(0.3, seed=seed),
    "local_variance": lambda seed=1: LocalVarianceGaussianNoise(0.4, window=3, seed=seed),
}


@pytest.fixture(params=sorted(LAYERS))
def make(request):
    return LAYERS[request.param]


def _x(shape=(64, 100)):
    return np.random.default_rng(0).uniform(0.1, 0.9, size=shape).astype("float32")


def test_identity_at_inference(make):
    layer, x = make(), _x()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    assert not np.allclose(layer(x, training=True), x)


def test_same_seed_same_noise_other_seed_other_noise(make):
    x = _x()
    a = np.asarray(make(seed=3)(x, training=True))
    b = np.asarray(make(seed=3)(x, training=True))
    c = np.asarray(make(seed=4)(x, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gaussian_statistics():
    x = np.zeros((400, 500), "float32")
    noise = np.asarray(GaussianNoise(0.4, seed=0)(x, training=True))
    assert abs(noise.std() - 0.4) < 0.004
    assert abs(noise.mean()) < 0.002


def test_salt_and_pepper_statistics():
    x = np.full((400, 500), 0.5, "float32")
    out = np.asarray(SaltAndPepperNoise(0.25, seed=0)(x, training=True))
    hit = out != 0.5
    assert abs(hit.mean() - 0.25) < 0.005
    assert set(np.unique(out[hit])) == {0.0, 1.0}
    assert abs((out[hit] == 1.0).mean() - 0.5) < 0.01


def test_salt_and_pepper_custom_values():
    x = np.full((100, 100), 0.5, "float32")
    out = np.asarray(SaltAndPepperNoise(0.5, min_value=-1, max_value=3, seed=0)(x, training=True))
    assert set(np.unique(out)) == {-1.0, 0.5, 3.0}


def test_masking_statistics():
    x = np.ones((400, 500), "float32")
    out = np.asarray(ZeroMaskingNoise(0.65, seed=0)(x, training=True))
    assert abs((out == 0).mean() - 0.65) < 0.005
    assert set(np.unique(out)) == {0.0, 1.0}  # survivors are not rescaled


def test_dropout_statistics_rescale_survivors():
    x = np.ones((400, 500), "float32")
    out = np.asarray(DropoutNoise(0.3, seed=0)(x, training=True))
    assert abs((out == 0).mean() - 0.3) < 0.005
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7], rtol=1e-6)
    assert abs(out.mean() - 1.0) < 0.01  # the expected input is kept


def test_local_variance_noise_follows_the_strokes():
    """On images that are flat but for a bright bar, the noise sits on the bar's edges (none on
    the flat background far from it), and its mean level over each image is `stddev`."""
    x = np.zeros((200, 16, 16, 1), "float32")
    x[:, 6:10, 4:12] = 1.0
    layer = LocalVarianceGaussianNoise(0.4, window=3, seed=0)
    scale = np.asarray(layer.noise_scale(x))
    np.testing.assert_allclose(scale.mean(axis=(1, 2, 3)), 0.4, rtol=1e-4)
    assert np.all(scale[:, 0:3, :] < 1e-4)  # flat background, far from the bar
    assert scale[:, 5, 8].min() > 0.4  # the bar's edge gets more than the mean
    noise = np.asarray(layer(x, training=True)) - x
    assert np.abs(noise[:, 0:3]).max() < 1e-3
    edge = noise[:, 5:7, 4:12].std()
    assert edge > 0.5 * scale[:, 5:7, 4:12].mean()
    # Flat inputs (upper blocks' codes) get uniform noise of the same level.
    flat = np.asarray(layer.noise_scale(np.zeros((4, 10), "float32")))
    np.testing.assert_allclose(flat, 0.4)


def test_zero_level_is_identity_in_training():
    x = _x()
    for layer in (GaussianNoise(0.0), SaltAndPepperNoise(0.0), ZeroMaskingNoise(0.0)):
        np.testing.assert_array_equal(layer(x, training=True), x)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: GaussianNoise(-1), "stddev=-1"),
        (lambda: GaussianNoise("a"), "stddev='a'"),
        (lambda: SaltAndPepperNoise(1.5), "rate=1.5"),
        (lambda: SaltAndPepperNoise(0.1, min_value=1, max_value=0), "min_value"),
        (lambda: ZeroMaskingNoise(-0.1), "rate=-0.1"),
        (lambda: ZeroMaskingNoise(1.0), "rate=1.0"),
        (lambda: DropoutNoise(1.0), "rate=1.0"),
        (lambda: LocalVarianceGaussianNoise(0.4, window=2), "window=2"),
        (lambda: GaussianNoise(0.4, seed="x"), "seed='x'"),
        (lambda: make_noise("speckle", 0.1), "Available: none, gaussian"),
        (lambda: GrayscaleNoise(1.5), "strength=1.5"),
        (lambda: GrayscaleNoise(1.0)(np.zeros((2, 8, 8, 1), "float32")),
         r"colour images, \(batch, height, width, 3\); received inputs of shape \(2, 8, 8, 1\)"),
        (lambda: GrayscaleNoise(1.0)(keras.Input((784,))), r"shape \(None, 784\)"),
    ],
)
def test_bad_arguments_raise_clear_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_make_noise():
    assert make_noise("none", 0.4) is None
    assert make_noise("gaussian", 0.0) is None
    layer = make_noise("masking", 0.3, seed=2)
    assert isinstance(layer, ZeroMaskingNoise) and layer.rate == 0.3 and layer.seed == 2


def test_config_round_trip(make):
    assert_config_round_trip(make())


def test_keras_file_round_trip(make, tmp_path):
    layer = make()
    inputs = keras.Input((100,))
    model = keras.Model(inputs, keras.layers.Dense(8)(layer(inputs)))
    assert_keras_file_round_trip(model, _x(), tmp_path / "model.keras", type(layer))


def _first_step_vs_clean_loss(layer):
    """(loss `fit` logs for its one step, loss of the same weights on clean inputs)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((100,))
    model = keras.Model(inputs, keras.layers.Dense(100)(layer(inputs)))
    model.compile(optimizer="adam", loss="mse")
    x = _x()
    clean = model.evaluate(x, x, batch_size=64, verbose=0)  # training=False: no noise
    step = model.fit(x, x, epochs=1, batch_size=64, verbose=0).history["loss"][0]
    return step, clean


def test_one_step_fit_uses_noise(make):
    # One batch, one step: the loss `fit` logs is the step's forward pass, before the update,
    # so it equals the clean loss unless the layer corrupted the inputs in training.
    step, clean = _first_step_vs_clean_loss(make())
    assert np.isfinite(step) and abs(step - clean) > 1e-3 * clean
    # The control: without corruption the two agree, so the check above can fail.
    step, clean = _first_step_vs_clean_loss(keras.layers.Identity())
    assert step == pytest.approx(clean, rel=1e-5)


def test_grayscale_is_the_luma_blend_at_training_only(tmp_path):
    import tensorflow as tf

    x = np.random.default_rng(0).uniform(size=(4, 6, 6, 3)).astype("float32")
    luma = tf.image.rgb_to_grayscale(x).numpy()
    grey = np.asarray(GrayscaleNoise(1.0)(x, training=True))
    np.testing.assert_allclose(grey, np.repeat(luma, 3, axis=-1), atol=1e-6)
    half = np.asarray(make_noise("grayscale", 0.5)(x, training=True))
    np.testing.assert_allclose(half, (x + grey) / 2, atol=1e-6)
    np.testing.assert_array_equal(GrayscaleNoise(1.0)(x), x)  # identity at inference
    assert make_noise("grayscale", 0.0) is None
    layer = GrayscaleNoise(0.75)
    assert_config_round_trip(layer)
    inputs = keras.Input((6, 6, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(layer(inputs)))
    assert_keras_file_round_trip(model, x, tmp_path / "model.keras", GrayscaleNoise)


DRAWS = {
    "normal": (lambda g: keras.random.normal((64, 30), stddev=0.4, seed=g),
               lambda g: draws.normal((64, 30), stddev=0.4, seed=g)),
    "uniform": (lambda g: keras.random.uniform((64, 30), seed=g),
                lambda g: draws.uniform((64, 30), seed=g)),
    "dropout": (lambda g: keras.random.dropout(_x((64, 30)), 0.3, seed=g),
                lambda g: draws.dropout(_x((64, 30)), 0.3, seed=g)),
}


@pytest.mark.parametrize("kind", sorted(DRAWS))
def test_draws_are_keras_randoms_draws(kind):
    """The layers' draws (Philox named on TensorFlow) are `keras.random`'s, eager and traced,
    and a generator moves on between calls."""
    import tensorflow as tf

    ours, theirs = DRAWS[kind][1], DRAWS[kind][0]
    for wrap in (lambda f: f, tf.function):
        a, b = keras.random.SeedGenerator(5), keras.random.SeedGenerator(5)
        fa, fb = wrap(lambda a=a: theirs(a)), wrap(lambda b=b: ours(b))
        first, second = [np.asarray(fa()) for _ in range(2)], [np.asarray(fb()) for _ in range(2)]
        np.testing.assert_array_equal(first[0], second[0])
        np.testing.assert_array_equal(first[1], second[1])
        assert not np.array_equal(second[0], second[1])


def test_noise_under_xla_trains_and_draws_per_step():
    """A noisy autoencoder XLA-compiled on TensorFlow (`--jit_compile`) trains, and its noise
    differs between steps."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((30,))
    noisy = GaussianNoise(0.4, seed=3)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(30)(noisy))
    model.compile("adam", "mse", jit_compile=True)
    x = _x((256, 30))
    history = model.fit(x, x, epochs=3, batch_size=64, verbose=0).history["loss"]
    assert history[-1] < history[0]
    layer = model.layers[1]
    step = keras.Model(inputs, noisy)
    a, b = step(x[:8], training=True), step(x[:8], training=True)
    assert not np.allclose(np.asarray(a), np.asarray(b)) and layer.seed_generator is not None
