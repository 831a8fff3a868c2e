"""CIFAR-10 / CUB-200 through tensorflow-datasets (mock data: no downloads here), natural
patches, the toy manifold, top-down sampling and its picture."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from sdae_tf.data import DatasetNotPreparedError, load_dataset, load_patches, load_toy_manifold
from sdae_tf.evaluation import sampling
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import training
from sdae_tf.zoo import DenseStack


@pytest.mark.parametrize(
    "name, shape, classes", [("cifar10", (32, 32, 3), 10), ("cub200", (128, 128, 3), 200)]
)
def test_tfds_pipelines_on_mock_data(name, shape, classes):
    with tfds.testing.mock_data(num_examples=40):
        data = load_dataset(name, validation_size=8)
    assert data.input_shape == shape and data.num_classes == classes
    assert data.sizes() == {"train": 32, "val": 8, "test": 40}
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0 and x.std() > 0
        assert y.dtype == np.int64 and 0 <= y.min() and y.max() < classes


def test_tfds_without_prepared_data_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetNotPreparedError, match="tfds build cifar10 --data_dir=DIR"):
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert not list(tmp_path.rglob("*.tmp*")) and not list(tmp_path.rglob("incomplete*"))


def test_patches():
    data = load_patches(num_patches=2000, seed=0)
    assert data.input_shape == (12, 12, 1)
    assert data.sizes() == {"train": 1600, "val": 200, "test": 200}
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert abs(float(data.x_train.mean()) - 0.5) < 0.02 and data.x_train.std() > 0.05
    np.testing.assert_array_equal(load_patches(num_patches=2000, seed=0).x_val, data.x_val)
    assert not np.array_equal(load_patches(num_patches=2000, seed=1).x_val, data.x_val)


def test_toy_manifold():
    data = load_toy_manifold()
    assert sum(data.sizes().values()) == 6400 and data.input_shape == (32, 32, 1)
    x = np.concatenate([data.x_train, data.x_val, data.x_test])
    brightness = np.sort(x.mean(axis=(1, 2, 3)))
    assert brightness[0] == 0.0 and brightness[-1] > 0.2
    # One image scaled: every example is a multiple of the brightest.
    brightest = x[np.argmax(x.mean(axis=(1, 2, 3)))]
    k = np.argsort(x.mean(axis=(1, 2, 3)))[3200]
    ratio = x[k].sum() / brightest.sum()
    np.testing.assert_allclose(x[k], ratio * brightest, atol=1e-5)


def test_bernoulli_samples(digits):
    stack = DenseStack(digits.input_shape, hidden_units=(32, 16), seed=0)
    samples = sampling.bernoulli_samples(stack, digits.x_test[:3], num_samples=4, seed=0)
    assert samples.shape == (3, 4, 8, 8, 1)
    assert 0.0 <= samples.min() and samples.max() <= 1.0
    again = sampling.bernoulli_samples(stack, digits.x_test[:3], num_samples=4, seed=0)
    np.testing.assert_array_equal(samples, again)
    assert not np.array_equal(samples[:, 0], samples[:, 1])  # draws differ


def test_samples_png_from_the_loop(tmp_path):
    cfg = config_lib.TrainConfig(dataset="digits", model_config={"hidden_units": (32, 16)},
                                 pretrain_epochs=1,
                               finetune_epochs=0, num_samples=3, verbose=0,
                               run_dir=str(tmp_path / "run"))
    metrics = training.run(cfg)
    png = tmp_path / "run" / "samples.png"
    assert metrics["samples"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000


def test_photo_crops_come_from_disjoint_photographs_and_are_seeded():
    from sdae_tf.data import photos

    data = photos.load_photo_crops(size=32, train_crops=200, test_crops=50, seed=0)
    assert data.x_train.shape[1:] == (32, 32, 3) and len(data.x_test) == 50
    assert len(data.x_train) + len(data.x_val) == 200 and data.num_classes == 8
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0 and data.x_train.std() > 0.05
    images = photos.photographs()
    assert set(photos.TEST_PHOTOS) <= set(images) and len(images) == 11
    # Every test crop is a window of a test photograph, none of a training one.
    crop = data.x_test[0]
    def holds(image):  # windows whose corner pixel matches, then the whole window
        corners = np.argwhere(np.all(image[:-31, :-31] == crop[0, 0], axis=-1)
                              & np.all(image[31:, 31:] == crop[31, 31], axis=-1))
        return any(np.array_equal(image[y:y + 32, x:x + 32], crop) for y, x in corners)
    owners = [n for n, img in images.items() if holds(img)]
    assert owners and set(owners) <= set(photos.TEST_PHOTOS)
    again = photos.load_photo_crops(size=32, train_crops=200, test_crops=50, seed=0)
    np.testing.assert_array_equal(again.x_train, data.x_train)
    with pytest.raises(ValueError, match=r"`size` must be in \[8, 300\]"):
        photos.load_photo_crops(size=512)
