"""Sampling layer: reparameterization statistics, KL term, deterministic mode, serialization."""

import keras
import numpy as np
import pytest

from sdae_tf.layers import Sampling

from .layer_round_trip import assert_config_round_trip, assert_keras_file_round_trip


def _inputs(n=2000, d=4):
    mu = np.tile(np.array([[0.0, 1.0, -2.0, 0.5]], "float32")[:, :d], (n, 1))
    logvar = np.tile(np.array([[0.0, np.log(4.0), np.log(0.25), -1.0]], "float32")[:, :d], (n, 1))
    return mu, logvar


def test_samples_have_the_right_mean_and_std():
    mu, logvar = _inputs(20000)
    z = np.asarray(Sampling(seed=0)([mu, logvar]))
    np.testing.assert_allclose(z.mean(0), mu[0], atol=0.05)
    np.testing.assert_allclose(z.std(0), np.exp(0.5 * logvar[0]), rtol=0.03)


def test_deterministic_returns_mu():
    mu, logvar = _inputs(8)
    np.testing.assert_array_equal(Sampling(deterministic=True)([mu, logvar]), mu)


def test_kl_matches_closed_form_and_is_added_as_loss():
    mu, logvar = _inputs(8)
    expected = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1).mean()
    layer = Sampling(kl_weight=0.5, seed=0)
    layer([mu, logvar])
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), 0.5 * expected, rtol=1e-5)
    zero = Sampling(kl_weight=0.0)
    zero([mu, logvar])
    assert not zero.losses


def test_kl_is_zero_at_the_prior():
    layer = Sampling()
    layer([np.zeros((4, 3), "float32"), np.zeros((4, 3), "float32")])
    assert float(layer.losses[0]) == pytest.approx(0.0, abs=1e-7)


def test_kl_enters_training_loss():
    inputs = keras.Input((6,))
    mu = keras.layers.Dense(2)(inputs)
    logvar = keras.layers.Dense(2)(inputs)
    z = Sampling(seed=1)([mu, logvar])
    model = keras.Model(inputs, keras.layers.Dense(6)(z))
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(32, 6)).astype("float32")
    model(x)
    assert len(model.losses) == 1
    assert np.isfinite(model.fit(x, x, epochs=1, verbose=0).history["loss"][0])


@pytest.mark.parametrize(
    "kwargs, match",
    [({"kl_weight": -1}, "kl_weight=-1"), ({"deterministic": 1}, "deterministic=1"),
     ({"seed": 1.5}, "seed=1.5")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Sampling(**kwargs)


def test_config_and_keras_file_round_trip(tmp_path):
    layer = Sampling(kl_weight=0.25, deterministic=True, seed=7)
    assert_config_round_trip(layer)
    inputs = keras.Input((5,))
    z = layer([keras.layers.Dense(3)(inputs), keras.layers.Dense(3)(inputs)])
    model = keras.Model(inputs, z)
    x = np.random.default_rng(1).normal(size=(9, 5)).astype("float32")
    assert_keras_file_round_trip(model, x, tmp_path / "m.keras", Sampling)
