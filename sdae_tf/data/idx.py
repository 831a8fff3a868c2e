"""Reader for the IDX format of the MNIST files, with errors that name the file and the fault."""

import gzip
import os
import struct
import zlib

import numpy as np

IMAGES_MAGIC = 2051  # uint8 data, 3 dimensions
LABELS_MAGIC = 2049  # uint8 data, 1 dimension


class IdxFormatError(ValueError):
    """An IDX file is missing, truncated or corrupt."""


def _read_bytes(path):
    if not os.path.exists(path):
        raise IdxFormatError(f"{path}: file not found")
    try:
        if str(path).endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise IdxFormatError(
            f"{path}: not a readable gzip stream (corrupt or truncated): {e}"
        ) from e
    except OSError as e:
        raise IdxFormatError(f"{path}: cannot be read: {e}") from e


def read_idx(path, expected_magic, expected_count=None):
    """Parses one IDX file of unsigned bytes into a numpy array.

    Args:
        path: the file, gzip-compressed if its name ends in `.gz`.
        expected_magic: 2051 for images, 2049 for labels.
        expected_count: if given, the number of items the file must hold.

    Returns:
        A `uint8` array of shape `(count, *dims)`.

    Raises:
        IdxFormatError: the file is missing, its magic number, counts or size are wrong.

    Example:

    ```python
    import pathlib
    from sdae_tf.data import mnist
    folder = pathlib.Path(mnist.VENDORED_DIR)
    labels = sdae_tf.data.read_idx(next(folder.glob("t10k-labels*")), 2049)  # (10000,) uint8
    ```
    """
    data = _read_bytes(path)
    if len(data) < 4:
        raise IdxFormatError(f"{path}: truncated: {len(data)} bytes, not even a header")
    (magic,) = struct.unpack(">i", data[:4])
    if magic != expected_magic:
        kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
        raise IdxFormatError(
            f"{path}: bad magic number {magic} (expected {expected_magic} for {kind}); "
            "not an MNIST IDX file or corrupt"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(f"{path}: truncated header: {len(data)} bytes, need {header}")
    dims = struct.unpack(f">{ndim}i", data[4:header])
    if any(d <= 0 for d in dims):
        raise IdxFormatError(f"{path}: invalid dimensions {dims} in header")
    if expected_count is not None and dims[0] != expected_count:
        raise IdxFormatError(f"{path}: holds {dims[0]} items, expected {expected_count}")
    size = int(np.prod(dims))
    if len(data) - header != size:
        what = "truncated" if len(data) - header < size else "has trailing bytes"
        raise IdxFormatError(
            f"{path}: {what}: {len(data) - header} data bytes, header {dims} needs {size}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
