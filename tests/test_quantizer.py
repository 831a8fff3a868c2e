"""The VQ-VAE's vector quantiser (`sdae_tf.layers.quantizer`): nearest codes, the straight-
through gradient, its losses, EMA updates with dead-code restarts, codebook use, bad input,
config and `.keras` round trips; and the families built on it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sdae_tf import models
from sdae_tf.layers import quantizer as vq

from .layer_round_trip import assert_config_round_trip, assert_keras_file_round_trip


def _layer(codes, **kwargs):
    layer = vq.VectorQuantizer(len(codes), **kwargs)
    layer.build((None, codes.shape[1]))
    layer.codebook.assign(codes)
    return layer


def test_each_vector_becomes_its_nearest_code_and_the_gradient_passes_straight_through():
    codes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], "float32")
    layer = _layer(codes, commitment=0.5)
    z = tf.Variable([[[0.1, 0.1], [0.9, 0.2], [0.2, 1.5]]])  # (1, 3, 2)
    with tf.GradientTape() as tape:
        out, loss, idx = layer(z)
        total = tf.reduce_sum(out * tf.constant([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]]))
    np.testing.assert_array_equal(idx.numpy(), [[0, 1, 2]])
    np.testing.assert_allclose(out.numpy()[0], codes)
    np.testing.assert_allclose(tape.gradient(total, z).numpy()[0], [[1, 2], [3, 4], [5, 6]])
    squared = np.mean((z.numpy()[0] - codes) ** 2)
    np.testing.assert_allclose(loss.numpy(), [1.5 * squared], rtol=1e-5)  # (1 + beta)


def test_ema_moves_codes_to_their_vectors_and_restarts_dead_ones():
    codes = np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 9.0]], "float32")
    layer = _layer(codes, ema=True, decay=0.5, seed=0)
    z = np.array([[[1.0, 1.0], [1.2, 0.8]]] * 4, "float32")  # every vector nearest code 0
    for _ in range(3):
        layer(z, training=True)
    book = layer.codebook.numpy()
    assert np.linalg.norm(book[0] - [1.1, 0.9]) < 0.2  # followed its vectors
    for k in (1, 2):  # never chosen: restarted at vectors of the batch
        assert min(np.linalg.norm(book[k] - v) for v in z.reshape(-1, 2)) < 1e-5
    used = layer.usage()
    assert used["dead_share"] < 1.0 and 1.0 <= used["perplexity"] <= 3.0
    assert not layer.trainable_weights


def test_usage_counts_training_calls_only_and_resets():
    layer = _layer(np.eye(4, dtype="float32"))
    layer(np.eye(4, dtype="float32")[None])
    assert layer.usage() is None
    layer(np.eye(4, dtype="float32")[None], training=True)
    assert layer.usage() == {"perplexity": pytest.approx(4.0), "dead_share": 0.0}
    layer.reset_usage()
    assert layer.usage() is None


def test_a_codebook_of_fewer_than_two_codes_is_a_one_line_error():
    with pytest.raises(ValueError, match="`num_codes` must be at least 2"):
        vq.VectorQuantizer(1)
    with pytest.raises(ValueError, match="`num_codes` must be at least 2"):
        models.get("vqvae_mnist", num_codes=1)


def test_codebook_use_is_logged_per_pretraining_epoch():
    from sdae_tf.data import load_mnist

    x = load_mnist("mnist", validation_size=1000, seed=0).x_train[:512]
    (history,) = models.get("dvqvae_mnist", seed=0).pretrain(x, epochs=2, verbose=0)
    assert len(history.history["perplexity"]) == 2
    assert all(5 < p <= 128 for p in history.history["perplexity"])
    assert all(0 <= d < 1 for d in history.history["dead_codes"])


def test_config_and_keras_file_round_trips(tmp_path):
    for layer in (vq.VectorQuantizer(8, commitment=0.3, ema=True, seed=2), vq.AddLoss(0.5)):
        assert_config_round_trip(layer)
    inputs = keras.Input((4, 4, 3))
    quantised, loss, _ = vq.VectorQuantizer(8, name="q")(keras.layers.Dense(3)(inputs))
    model = keras.Model(inputs, vq.AddLoss()([quantised, loss]))
    x = np.random.default_rng(0).uniform(size=(2, 4, 4, 3)).astype("float32")
    assert_keras_file_round_trip(model, x, tmp_path / "q.keras", vq.VectorQuantizer)
