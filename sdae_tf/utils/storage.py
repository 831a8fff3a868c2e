"""The one storage layer under every file and folder the package writes: staged, fsynced, moved
into place whole, the previous version kept until the new one is in place; appends that start
on a fresh line; `overwrite=False` that holds under concurrency; writability and free-space
checks before any work; storage faults (full or read-only disks) as one-line errors; damaged
files named.

- Files: `write_bytes_atomic` / `write_text_atomic` / `write_json_atomic`, `atomic_path` (a
  staged path for a writer that wants a file name: Keras, matplotlib, numpy), `save_keras`
  (`model.save` made safe), `append_line` (the ledger). Folders: `staged_dir` (an export, a
  pack, a cache entry: written aside, then swapped in; a kill at any instant leaves the old
  folder or the new one, `recover` puts back an old one a kill left aside).
- `check_name` refuses, before any work, a path whose last component is too long for the
  names the layer stages it under.
- Every write is reported to `observers` (the fault-injection tests enumerate the write sites
  with it) and passes the fault points `write:<kind>` (`sdae_tf.utils.faults`).

- Every write goes to a hidden temporary name beside its target and is moved into place
  (`os.replace`): a reader, or a run killed at any instant, sees the old file or the new one.
  Weights are serialised into memory first (Keras' own HDF5 writer on an `io.BytesIO`) and
  written with plain file I/O, so a full disk is an ordinary `OSError` that leaves no file
  behind, not a storm of HDF5 errors inside h5py's destructors (which once ended in a
  segmentation fault).
- `check_writable` probes an output place (a run directory, an export directory, a pool)
  without creating it, and compares its free space with what the run needs.
- `translate` turns a storage fault raised anywhere in a block (`OSError` ENOSPC / EROFS /
  EDQUOT / EACCES, TensorFlow's and h5py's wrappings of them) into `StorageError`, whose
  message names the path, says what is kept and how to resume.
- `read_json` and `load_weights` name the file they could not read.
"""

import contextlib
import errno
import io
import json
import os
import pathlib
import re
import shutil
import tempfile

from sdae_tf.utils import atomic
from sdae_tf.utils.atomic import (  # noqa: F401  (the storage layer's public names)
    NAME_MAX,
    TMP_PREFIX,
    append_line,
    atomic_path,
    check_name,
    copy_file,
    observers,
    place_dir,
    recover,
    remove_stale_staging,
    staged_dir,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)

STORAGE_ERRNOS = {errno.ENOSPC: "no space left on the device",
                  errno.EROFS: "the file system is read-only",
                  errno.EDQUOT: "the disk quota is exceeded",
                  errno.EACCES: "permission denied"}
# How TensorFlow's and HDF5's messages spell the same faults.
_PATTERNS = ((re.compile(r"No space left on device|errno = 28"), errno.ENOSPC),
             (re.compile(r"Read-only file system|errno = 30"), errno.EROFS),
             (re.compile(r"Disk quota exceeded|errno = 122"), errno.EDQUOT))
# A path in an error's text; TensorFlow's device names ("/job:localhost/replica:0") are not.
_FILENAME = re.compile(r"filename = '([^']+)'|'(/(?!job:)[^']+)'|(?<![\w:])(/(?!job:)[^\s;:'\"]+)")
PROBE_PREFIX = ".sdae-write-probe-"


class StorageError(RuntimeError):
    """A place a run writes to is full, read-only or otherwise not writable."""


class DamagedFileError(ValueError):
    """A file the project reads is truncated, corrupt or not what its name says."""


def weights_bytes(model):
    """What `model.save_weights(path)` writes to a `.weights.h5` file, as bytes in memory
    (Keras' own HDF5 store on an `io.BytesIO`).

    Args:
        model: a Keras model.

    Returns:
        bytes.
    """
    from keras.src.saving import saving_lib

    if not model.built:
        raise ValueError(f"{model.name} is not built: nothing to save")
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="",
                               visited_saveables=set())
    finally:
        store.close()
    return buffer.getvalue()


def save_weights_atomic(model, path):
    """`model`'s weights (and optimizer and random-stream state) to `path` (`.weights.h5`),
    written whole or not at all.

    Args:
        model: a Keras model.
        path: the file.
    """
    data = weights_bytes(model)
    with atomic.atomic_path(path, kind="weights") as tmp, open(tmp, "wb") as f:
        f.write(data)


def load_weights(model, path, what="weights", **kwargs):
    """`model.load_weights(path)`; a file that cannot be read as Keras weights is a
    `DamagedFileError` naming it (`what` says what it is).

    Args:
        model: a Keras model.
        path: the file.
        what: what the file is, for the message.
        **kwargs: more `load_weights` arguments.

    Raises:
        DamagedFileError: a file that is not Keras weights (or does not fit).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path}: no such file")
    try:
        model.load_weights(path, **kwargs)
    except (OSError, KeyError) as err:
        raise DamagedFileError(f"{what} {path} cannot be read ({_first_line(err)}); the file is "
                               "damaged or truncated") from err


def read_json(path, what="file"):
    """The JSON object in `path`; a file that is not valid JSON is a `DamagedFileError`
    naming it (`what` says what it is).

    Args:
        path: the file.
        what: what the file is, for the message.

    Returns:
        The JSON value.

    Raises:
        DamagedFileError: a file that is not valid JSON.
    """
    path = pathlib.Path(path)
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedFileError(f"{what} {path} is damaged (not valid JSON: "
                               f"{_first_line(err)})") from err


def _first_line(err):
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _existing_ancestor(path):
    path = pathlib.Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    return path


def check_writable(path, flag, need_bytes=0, beside=False):
    """Fails with `StorageError` unless `path` (a directory, existing or to be created) can be
    written and its file system has `need_bytes` free; with `beside`, the folder that holds
    `path` is what must be writable (an export is written beside its target and moved in).
    Writes nothing that stays: a probe file in the nearest existing folder is created and
    removed.

    Args:
        path: a directory, existing or to be created.
        flag: the flag that named it, for the message.
        need_bytes: free bytes needed.
        beside: check the folder holding `path` instead.

    Raises:
        StorageError: a read-only place or too little room, in one line.
    """
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{flag} {path} exists and is not a directory")
    place = _existing_ancestor(path.absolute().parent if beside else path)
    if not place.is_dir():
        raise NotADirectoryError(f"{flag} {path}: {place} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=place)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as err:
        reason = STORAGE_ERRNOS.get(err.errno, err.strerror or str(err))
        raise StorageError(f"{flag} {path} is not writable ({reason} at {place}); nothing "
                           "was written or trained") from None
    free = shutil.disk_usage(place).free
    if need_bytes and free < need_bytes:
        raise StorageError(
            f"{flag} {path}: about {_mb(need_bytes)} are needed and {place} has {_mb(free)} "
            "free; free some space or choose another place; nothing was written or trained")


def _mb(n):
    return f"{n / 2**20:.1f} MB"


def storage_errno(err):
    """The storage errno behind `err` (an `OSError`, a TensorFlow or h5py error wrapping one,
    or an error caused by one), or None for any other error.

    Args:
        err: an exception.

    Returns:
        An errno, or None.
    """
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in STORAGE_ERRNOS:
            return err.errno
        text = str(err)
        for pattern, number in _PATTERNS:
            if pattern.search(text):
                return number
        err = err.__cause__ or err.__context__
    return None


def _failed_path(err):
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.filename:
            return str(err.filename)
        match = _FILENAME.search(str(err))
        if match:
            return match.group(1) or match.group(2) or match.group(3)
        err = err.__cause__ or err.__context__
    return None


@contextlib.contextmanager
def translate(kept, resume="rerun the same command to resume", where=None):
    """Inside the block, a storage fault becomes a `StorageError`: "<what failed> writing
    <path>; <kept>; free space (or make it writable) and <resume>". Other errors pass.

    Args:
        kept: what the failure left as it was, for the message.
        resume: how to go on, for the message.
        where: the place being written, named when the error does not name its file.

    Raises:
        StorageError: a storage fault inside the block.
    """
    try:
        yield
    except StorageError:
        raise
    except Exception as err:  # noqa: BLE001  (only storage faults are translated)
        number = storage_errno(err)
        if number is None:
            raise
        path = _failed_path(err) or where
        where = f" writing {_visible(path)}" if path else ""
        raise StorageError(f"{STORAGE_ERRNOS[number]}{where}; {kept}; free space (or make "
                           f"it writable) and {resume}") from err


def _visible(path):
    """A temporary file's target name (`.tmp-<pid>-<hex>-x` -> `x`), for the message."""
    p = pathlib.Path(path)
    if p.name.startswith(TMP_PREFIX):
        return str(p.with_name(p.name[len(TMP_PREFIX):].split("-", 2)[-1]))
    return str(p)


def save_keras(model, path, overwrite=True, **kwargs):
    """`model.save(path)` (a `.keras` file) written whole or not at all: staged beside `path`,
    fsynced, moved into place; a failed save (a full disk, a kill) leaves the file it would
    have replaced as it was. `overwrite=False` is a `FileExistsError` if `path` exists
    (Keras would ask on the terminal).

    Args:
        model: a Keras model.
        path: the `.keras` file.
        overwrite: replace an existing file.
        **kwargs: more `keras.saving.save_model` arguments.
    """
    import keras

    path = pathlib.Path(path)
    if path.suffix not in (".keras", ".h5"):
        raise ValueError(f"A model is saved to a `.keras` file (or a legacy `.h5`). Received: "
                         f"{path}")
    check_name(path, "the file")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Cannot save to {path}: the folder {path.parent} does not "
                                "exist")
    kept = f"{path} is as it was" if path.exists() else f"no {path.name} was written"
    with translate(kept, resume="save again", where=path), \
            atomic_path(path, overwrite, kind="keras") as tmp:
        keras.saving.save_model(model, tmp, **kwargs)
