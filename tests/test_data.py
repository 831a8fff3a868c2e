"""Data: IDX parsing of the real MNIST files, clear errors on bad files, variants, pipelines."""

import gzip
import shutil

import numpy as np
import pytest

from sdae_tf.data import (
    DATASETS,
    IdxFormatError,
    load_dataset,
    load_digits,
    load_mnist,
    make_pipeline,
    read_idx,
    steps_per_epoch,
)
from sdae_tf.data import mnist as mnist_lib
from sdae_tf.data.idx import IMAGES_MAGIC, LABELS_MAGIC


@pytest.fixture(scope="module")
def raw():
    return mnist_lib.load_raw()


def test_real_idx_files(raw):
    x_train, y_train, x_test, y_test = raw
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert list(y_train[:5]) == [5, 0, 4, 1, 9]
    assert list(y_test[:5]) == [7, 2, 1, 0, 4]
    assert x_train.mean() == pytest.approx(33.32, abs=0.01)
    assert sorted(np.unique(y_train)) == list(range(10))


def _copy_mnist(tmp_path):
    for path in mnist_lib.VENDORED_DIR.glob("*.gz"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_bad_magic_names_the_file(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes((1234).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes([1, 2, 3]))
    with pytest.raises(IdxFormatError, match=r"labels-idx1-ubyte: bad magic number 1234"):
        read_idx(path, LABELS_MAGIC)


def test_truncated_data_names_the_file(tmp_path):
    path = tmp_path / "images-idx3-ubyte"
    header = b"".join(v.to_bytes(4, "big") for v in (IMAGES_MAGIC, 2, 28, 28))
    path.write_bytes(header + bytes(28 * 28 + 5))
    with pytest.raises(IdxFormatError, match=r"images-idx3-ubyte: truncated: 789 data bytes"):
        read_idx(path, IMAGES_MAGIC)


def test_wrong_count(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(LABELS_MAGIC.to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(3))
    assert read_idx(path, LABELS_MAGIC).tolist() == [0, 0, 0]
    with pytest.raises(IdxFormatError, match="holds 3 items, expected 10"):
        read_idx(path, LABELS_MAGIC, expected_count=10)


def test_truncated_gzip_in_a_data_dir(tmp_path):
    data_dir = _copy_mnist(tmp_path)
    victim = data_dir / "t10k-labels-idx1-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:2000])
    with pytest.raises(IdxFormatError, match=r"t10k-labels-idx1-ubyte.gz: not a readable gzip"):
        load_mnist(data_dir=data_dir)


def test_corrupt_gzip_content(tmp_path):
    data_dir = _copy_mnist(tmp_path)
    victim = data_dir / "train-labels-idx1-ubyte.gz"
    with gzip.open(victim, "wb") as f:
        f.write(b"this is not an idx file")
    with pytest.raises(IdxFormatError, match=r"train-labels-idx1-ubyte.gz: bad magic number"):
        load_mnist(data_dir=data_dir)


def test_missing_file(tmp_path):
    data_dir = _copy_mnist(tmp_path)
    (data_dir / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(IdxFormatError, match=r"train-images-idx3-ubyte.gz: file not found"):
        load_mnist(data_dir=data_dir)


def test_uncompressed_files_are_read_too(tmp_path, raw):
    for path in mnist_lib.VENDORED_DIR.glob("t10k-*.gz"):
        (tmp_path / path.stem).write_bytes(gzip.decompress(path.read_bytes()))
    shutil.copy(mnist_lib.VENDORED_DIR / "train-images-idx3-ubyte.gz", tmp_path)
    shutil.copy(mnist_lib.VENDORED_DIR / "train-labels-idx1-ubyte.gz", tmp_path)
    np.testing.assert_array_equal(mnist_lib.load_raw(tmp_path)[3], raw[3])


def test_mnist_splits():
    data = load_mnist(validation_size=10000, seed=0)
    assert data.sizes() == {"train": 50000, "val": 10000, "test": 10000}
    assert data.input_shape == (28, 28, 1) and data.x_train.dtype == np.float32
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    # The two parts of the training set partition it: per-class counts add up.
    _, y_all, _, _ = mnist_lib.load_raw()
    counts = np.bincount(data.y_train, minlength=10) + np.bincount(data.y_val, minlength=10)
    np.testing.assert_array_equal(counts, np.bincount(y_all, minlength=10))
    other = load_mnist(validation_size=10000, seed=1)
    assert not np.array_equal(other.y_val, data.y_val)


@pytest.mark.parametrize("variant", ["rot", "bg_rand", "bg_rand_rot"])
def test_variants_deterministic_per_seed(raw, variant):
    images = raw[0][:300]
    a = mnist_lib.make_variant(images, variant, seed=5)
    b = mnist_lib.make_variant(images, variant, seed=5)
    c = mnist_lib.make_variant(images, variant, seed=6)
    assert a.shape == images.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, images)


def test_bg_rand_rot_is_rot_with_a_background(raw):
    """bg_rand_rot reuses rot's rotated images (same seed, same angles): built either way it is
    the same, the rotated pixels kept."""
    images = raw[0][:300]
    rot = mnist_lib.make_variant(images, "rot", seed=[3, 0])
    full = mnist_lib.make_variant(images, "bg_rand_rot", seed=[3, 0])
    np.testing.assert_array_equal(
        mnist_lib.make_variant(images, "bg_rand_rot", seed=[3, 0], rotated=rot), full)
    kept = rot > 0
    np.testing.assert_array_equal(full[kept], rot[kept])
    with pytest.raises(ValueError, match="rotated images are"):
        mnist_lib.make_variant(images, "bg_rand_rot", seed=0, rotated=rot[:10])


def test_rotation_keeps_the_digit(raw):
    images = raw[0][:200]
    np.testing.assert_array_equal(mnist_lib.rotate(images, np.zeros(200)), images)
    rotated = mnist_lib.rotate(images, np.full(200, 90.0))
    # A quarter turn of a centred 28x28 grid is exact: compare with numpy's rot90.
    np.testing.assert_array_equal(rotated, np.rot90(images, k=1, axes=(1, 2)))
    turned = mnist_lib.rotate(images, np.full(200, 33.0))
    np.testing.assert_allclose(turned.sum((1, 2)), images.sum((1, 2)), rtol=0.1)


def test_background_keeps_digit_pixels(raw):
    images = raw[0][:200]
    out = mnist_lib.random_background(images, np.random.default_rng(0))
    digit = images > 0
    np.testing.assert_array_equal(out[digit], images[digit])
    background = out[~digit].astype(float)
    assert abs(background.mean() - 127.5) < 2 and background.std() > 70


def test_variant_full_size_and_cache(tmp_path):
    data = load_mnist("bg_rand", cache_dir=tmp_path, seed=0)
    assert data.sizes() == {"train": 50000, "val": 10000, "test": 10000}
    assert data.name == "mnist_bg_rand"
    cached = list(tmp_path.glob("mnist_bg_rand_report_seed0_*.npz"))
    assert len(cached) == 1 and not list(tmp_path.glob("*.tmp"))
    again = load_mnist("bg_rand", cache_dir=tmp_path, seed=0)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    # Kept in memory while the files are unchanged: the same read-only arrays, no reload.
    kept = load_mnist("bg_rand", cache_dir=tmp_path, seed=0)
    assert kept is again and not kept.x_train.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        kept.x_train[0] = 0.0
    assert kept.without_validation().x_train.flags.writeable
    # A damaged cache file is rebuilt, not trusted (nor the copy kept in memory).
    cached[0].write_bytes(b"garbage")
    rebuilt = load_mnist("bg_rand", cache_dir=tmp_path)
    assert rebuilt is not kept
    np.testing.assert_array_equal(rebuilt.x_test, data.x_test)


def test_digits():
    data = load_digits()
    assert data.input_shape == (8, 8, 1)
    assert data.sizes() == {"train": 1257, "val": 180, "test": 360}
    assert 0.0 <= data.x_train.min() and data.x_train.max() == 1.0
    assert set(np.unique(data.y_test)) == set(range(10))


def test_load_dataset_names():
    assert set(DATASETS) >= {"mnist", "mnist_rot", "mnist_bg_rand", "mnist_bg_rand_rot", "digits"}
    with pytest.raises(ValueError, match="Available: mnist, mnist_rot"):
        load_dataset("fashion")
    with pytest.raises(ValueError, match="validation_size"):
        load_dataset("digits", validation_size=5000)


def test_pipeline_shapes_and_seeded_order(digits):
    ds = make_pipeline(digits.x_train, digits.y_train, batch_size=100, shuffle=True, seed=3)
    x, y = next(iter(ds))
    assert x.shape == (100, 8, 8, 1) and y.shape == (100,)
    again = next(iter(make_pipeline(digits.x_train, digits.y_train, batch_size=100,
                                    shuffle=True, seed=3)))[1]
    other = next(iter(make_pipeline(digits.x_train, digits.y_train, batch_size=100,
                                    shuffle=True, seed=4)))[1]
    np.testing.assert_array_equal(y, again)
    assert not np.array_equal(y, other)
    x, target = next(iter(make_pipeline(digits.x_val, batch_size=32)))
    np.testing.assert_array_equal(x, target)
    np.testing.assert_array_equal(x, digits.x_val[:32])
    assert sum(1 for _ in make_pipeline(digits.x_val, batch_size=32)) == 6  # 180 / 32
    with pytest.raises(ValueError, match="batch_size"):
        make_pipeline(digits.x_val, batch_size=0)


def test_shuffled_pipeline_is_indexed_by_epoch(digits):
    """Epoch e's order depends on (seed, e) only: a pipeline started at epoch 2 (a resumed run)
    yields what an uninterrupted one yields from its third epoch; every epoch is a permutation."""
    n, b = len(digits.y_train), 128
    steps = steps_per_epoch(n, b)
    full = make_pipeline(digits.x_train, digits.y_train, batch_size=b, shuffle=True, seed=5)
    labels = [y.numpy() for _, y in full.take(3 * steps)]
    epochs = [np.concatenate(labels[i * steps:(i + 1) * steps]) for i in range(3)]
    for epoch in epochs:
        np.testing.assert_array_equal(np.sort(epoch), np.sort(digits.y_train))
    assert not np.array_equal(epochs[0], epochs[1])
    resumed = make_pipeline(digits.x_train, digits.y_train, batch_size=b, shuffle=True, seed=5,
                            initial_epoch=2)
    np.testing.assert_array_equal(
        np.concatenate([y.numpy() for _, y in resumed.take(steps)]), epochs[2])
