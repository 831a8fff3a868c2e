"""Kernel-prediction denoising (`ApplyPixelKernels`, `kpdae_mnist`) and the segmentation task's
refusals."""

import dataclasses

import keras
import numpy as np
import pytest

import sdae_tf.models as models
from sdae_tf.data import load_mnist
from sdae_tf.layers import ApplyPixelKernels, check_kernel_size
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import validation as validation_lib

from .layer_round_trip import assert_config_round_trip, assert_keras_file_round_trip

X = np.random.default_rng(0).uniform(size=(2, 12, 12, 1)).astype("float32")


def one_hot_kernels(index, k=3):
    kernels = np.zeros((*X.shape[:3], k * k), "float32")
    kernels[..., index] = 1.0
    return kernels


def test_kernels_pick_and_average_neighbours_edges_reflected():
    layer = ApplyPixelKernels(3)
    np.testing.assert_array_equal(layer([X, one_hot_kernels(4)]), X)  # the centre: identity
    right = np.asarray(layer([X, one_hot_kernels(5)]))  # row-major: index 5 = (0, +1)
    np.testing.assert_array_equal(right[:, :, :-1], X[:, :, 1:])
    np.testing.assert_array_equal(right[:, :, -1], X[:, :, -2])  # reflected at the edge
    mean = np.asarray(layer([X, np.full((*X.shape[:3], 9), 1 / 9, "float32")]))
    np.testing.assert_allclose(mean[:, 5, 5, 0], X[:, 4:7, 4:7, 0].mean(axis=(1, 2)), atol=1e-6)
    assert np.asarray(ApplyPixelKernels(3)([X * 3, one_hot_kernels(4)])).max() <= 1.0  # clipped


@pytest.mark.parametrize("bad", [4, 1, 0, 2.0, True])
def test_bad_kernel_sizes_are_one_line_errors(bad):
    with pytest.raises(ValueError, match="odd integer >= 3"):
        check_kernel_size(bad)
    if not isinstance(bad, float):
        with pytest.raises(ValueError, match="kernel_size"):
            models.get("kpdae_mnist", kernel_size=bad)
    with pytest.raises(ValueError, match="kernel_size\\*\\*2 = 9 channels"):
        ApplyPixelKernels(3)([X, np.zeros((*X.shape[:3], 25), "float32")])


def test_config_and_keras_file_round_trips(tmp_path):
    layer = ApplyPixelKernels(5, value_range=None)
    assert assert_config_round_trip(layer)["value_range"] is None
    images = keras.Input((12, 12, 1))
    logits = keras.layers.Conv2D(9, 3, padding="same")(images)
    out = ApplyPixelKernels(3)([images, keras.layers.Softmax()(logits)])
    assert_keras_file_round_trip(keras.Model(images, out), X, tmp_path / "k.keras",
                                 ApplyPixelKernels)


def test_kernel_predictor_denoises_with_convex_kernels():
    """Trained briefly on noisy digits, its kernels are distributions (non-negative, summing to
    one) and its output from Gaussian-0.4 input is nearer the clean digit than the input."""
    data = load_mnist("mnist", validation_size=1000, seed=0)
    x = data.x_train[:2048]
    model = models.get("kpdae_mnist", seed=0)
    model.pretrain(x, epochs=2, batch_size=64, verbose=0, seed=0)
    clean = data.x_test[:256]
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 0.4, clean.shape), 0, 1)
    kernels = model.kernels(noisy.astype("float32"))
    assert kernels.shape == (256, 28, 28, 5, 5) and kernels.min() >= 0
    np.testing.assert_allclose(kernels.sum(axis=(3, 4)), 1.0, atol=1e-4)
    out = np.asarray(model(noisy.astype("float32")))
    assert np.mean((out - clean) ** 2) < 0.5 * np.mean((noisy - clean) ** 2)
    with pytest.raises(ValueError, match="Segmentation needs a spatial code"):
        models.get("sdae_mnist").segmenter()  # the Python API refuses it as the runner does


@pytest.mark.parametrize("change, match", [
    ({"model": "sdae_mnist"}, "vector code, nothing spatial"),
    ({"dataset": "mnist_rot"}, "mnist_rot: it has no digit masks"),
    ({"finetune_epochs": 0}, "give --finetune_epochs > 0"),
])
def test_a_segmentation_the_run_cannot_do_is_refused_before_training(change, match):
    cfg = config_lib.TrainConfig(model="cdae_mnist", dataset="mnist_bg_rand_rot",
                               task="segmentation", pretrain_epochs=1, finetune_epochs=1)
    validation_lib.check_config(cfg)
    with pytest.raises(ValueError, match=match):
        validation_lib.check_config(dataclasses.replace(cfg, **change))
