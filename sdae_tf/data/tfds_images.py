"""CIFAR-10 and CUB-200-2011 through tensorflow-datasets (prepared data only: never a download
at run time). Tested offline with `tfds.testing.mock_data`."""

import numpy as np

from sdae_tf.data.splits import Splits, split_validation

TFDS_NAMES = {"cifar10": "cifar10", "cub200": "caltech_birds2011"}
CUB_SIZE = 128


class DatasetNotPreparedError(RuntimeError):
    """A TFDS dataset is not prepared in the data directory and downloads are not allowed."""


def _prepare_hint(name, tfds_name, data_dir):
    where = data_dir or "~/tensorflow_datasets (or $TFDS_DATA_DIR)"
    return (
        f"{name}: tensorflow-datasets has no prepared copy of {tfds_name!r} in {where}, and "
        "sdae_tf never downloads at run time. On a machine with internet run "
        f"`tfds build {tfds_name} --data_dir=DIR` "
        f"(or python -c \"import tensorflow_datasets as tfds; tfds.load('{tfds_name}', "
        "data_dir='DIR')\"), copy DIR here and pass --data_dir=DIR "
        "(CUB-200-2011 also needs its manual download: see the TFDS catalog page)."
    )


def _cub_crop(example, size=CUB_SIZE):
    """Crops a bird to its bounding box (normalised [ymin, xmin, ymax, xmax]) and resizes."""
    import tensorflow as tf

    box = example["bbox"]
    box = tf.stack([tf.minimum(box[0], box[2]), tf.minimum(box[1], box[3]),
                    tf.maximum(box[0], box[2]), tf.maximum(box[1], box[3])])
    image = tf.cast(example["image"], tf.float32)[None]
    crop = tf.image.crop_and_resize(image, box[None], [0], [size, size])[0]
    return tf.cast(tf.clip_by_value(tf.round(crop), 0, 255), tf.uint8), example["label"]


def _plain(example):
    return example["image"], example["label"]


def _to_numpy(ds):
    images, labels = [], []
    for x, y in ds.batch(1024).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def load_tfds_images(name, data_dir=None, validation_size=None, seed=0):
    """`cifar10` (32x32x3, 10 classes) or `cub200` (birds cropped to their boxes, 128x128x3,
    200 classes) as `Splits`, images float32 in [0, 1], a seeded validation split carved
    from the training split.

    Args:
        name: "cifar10" or "cub200".
        data_dir: the TFDS data folder where the dataset is prepared (`tfds build`; nothing
            is downloaded at run time).
        validation_size: training examples held out for validation (default: the dataset's
            own default).
        seed: seeds the validation split.

    Returns:
        `Splits`, images float32 in [0, 1].

    Raises:
        DatasetNotPreparedError: the data is not prepared in `data_dir` (with how to get it).

    Example:

    ```python
    import tensorflow_datasets as tfds
    with tfds.testing.mock_data(num_examples=48):  # the real TFDS path, on mock data
        cifar = sdae_tf.data.load_tfds_images("cifar10", validation_size=8)
    print(cifar.x_train.shape[1:])  # (32, 32, 3)
    ```
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    tfds_name = TFDS_NAMES[name]
    parse = _cub_crop if name == "cub200" else _plain
    splits = {}
    for split in ("train", "test"):
        try:
            ds = tfds.load(tfds_name, split=split, data_dir=data_dir, download=False,
                           shuffle_files=False)
        except (AssertionError, FileNotFoundError, tfds.core.registered.DatasetNotFoundError,
                OSError) as e:
            raise DatasetNotPreparedError(_prepare_hint(name, tfds_name, data_dir)) from e
        splits[split] = _to_numpy(ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE))
    x_train, y_train = splits["train"]
    x_test, y_test = splits["test"]
    default_val = 5000 if name == "cifar10" else 600
    size = validation_size or min(default_val, max(1, len(x_train) // 10))
    x_train, y_train, x_val, y_val = split_validation(x_train, y_train, size, seed)

    def scale(x):
        return x.astype(np.float32) / 255.0

    num_classes = 10 if name == "cifar10" else 200
    return Splits(name, scale(x_train), y_train, scale(x_val), y_val, scale(x_test), y_test,
                  num_classes=num_classes)
