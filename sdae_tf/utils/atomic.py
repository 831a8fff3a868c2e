"""Writes made whole: every file and folder the package writes is staged beside its target,
fsynced and moved into place (`sdae_tf.utils.storage` is the public face; this module holds the
write primitives).

- Files: `atomic_path` (a staged name for a writer that wants one: Keras, matplotlib, numpy),
  `write_bytes_atomic` / `write_text_atomic` / `write_json_atomic`, `copy_file`, `save_keras`;
  `overwrite=False` holds under concurrency (`renameat2(RENAME_NOREPLACE)`, else a hard link).
- Appends: `append_line`, one locked `write` that starts on a fresh line after a torn tail.
- Folders: `staged_dir` / `place_dir`: written aside, then swapped in (`RENAME_EXCHANGE`), or
  the old one renamed aside and put back by `recover` if a kill comes between two renames.
- `check_name`: a name too long to stage is refused before any work.
- Every write is reported to `observers` (how the tests enumerate the write sites) and passes
  the fault point `write:<kind>` (`sdae_tf.utils.faults`).
"""

import contextlib
import errno
import glob
import json
import os
import pathlib
import secrets
import shutil
import socket
import sys
import tempfile

from sdae_tf.utils import faults

# A file system's limit on one name, and what the layer adds to a name when it stages it
# (".tmp-<pid>-<8 hex>-" before a file's name, ".<name>.partial-<host>-<pid>-<8>" for a folder).
NAME_MAX = 255
STAGING_OVERHEAD = 48
TMP_PREFIX = ".tmp-"
PREVIOUS_SUFFIX = ".previous"
# Called as `observer(kind, path, site)` for every write (kind: file, weights, keras, dir,
# append, lock; site: the package's `module:function` that writes).
observers = []
PORTABLE_ENV = "SDAE_TF_PORTABLE_RENAME"


def check_name(path, what="path"):
    """Refuses `path` if a component of it is too long to be written and staged (a name of at
    most NAME_MAX - STAGING_OVERHEAD bytes), before anything is written or trained.

    Args:
        path: a file or folder to be written.
        what: what it is (a flag's name, an argument), for the message.

    Raises:
        ValueError: a component too long, naming it and the limit.
    """
    limit = NAME_MAX - STAGING_OVERHEAD
    for part in pathlib.Path(path).parts:
        if len(os.fsencode(part)) > limit:
            raise ValueError(
                f"{what} {path}: the name {part[:40]}... is {len(os.fsencode(part))} bytes; "
                f"at most {limit} are allowed (the file system's limit is {NAME_MAX}, and "
                "the file is written under a longer temporary name first); choose a shorter "
                "name")


def _site():
    """Where in the package a write comes from: `module:function` of the first caller outside
    the storage layer (the fault-injection walk targets each site with `site:<it>`)."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(("sdae_tf.utils.atomic", "sdae_tf.utils.storage",
                                  "contextlib")):
            return f"{module}:{frame.f_code.co_name}"
        frame = frame.f_back
    return "unknown"


def _notify(kind, path):
    """Tells the observers of a write and passes its fault point (`site:<module:function>`);
    both cost nothing unless a test asked for them."""
    if not observers and not os.environ.get(faults.ENV):
        return
    site = _site()
    for observer in list(observers):
        observer(kind, pathlib.Path(path), site)
    faults.point(f"site:{site}")


def open_lock(path):
    """A lock file's descriptor (`O_RDWR | O_CREAT`), for `fcntl.flock`: the one file the
    layer lets a writer change in place (its content only says who holds it).

    Args:
        path: the lock file.

    Returns:
        An OS file descriptor.
    """
    _notify("lock", path)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def _tmp_path(path):
    path = pathlib.Path(path)
    # The target's suffixes are kept (Keras wants `.keras`, `.weights.h5`); a name too long to
    # carry whole is cut (check_name refuses those before any work; this is the last guard).
    name = path.name
    room = NAME_MAX - 32
    if len(os.fsencode(name)) > room:
        name = name[-(room // 4):]
    return path.with_name(f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{name}")


def _remove_stale_tmp(path):
    """Removes the staged files of writes to `path` that this host's killed processes left."""
    for tmp in path.parent.glob(glob.escape(TMP_PREFIX) + "*"):
        pid, _, rest = tmp.name[len(TMP_PREFIX):].partition("-")
        if pid.isdigit() and rest.endswith(path.name[-40:]) and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder: nothing more can be done
        pass
    finally:
        os.close(fd)


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Linux renameat2 flags: RENAME_NOREPLACE (fail if the target exists), RENAME_EXCHANGE (swap).
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100


def _renameat2(src, dst, flags):
    """`renameat2(src, dst, flags)`: True when done, False when this kernel or file system
    does not support it, or `$SDAE_TF_PORTABLE_RENAME` is set (the tests' way to walk the
    fallback): the caller falls back; other errors raise `OSError`."""
    if os.environ.get(PORTABLE_ENV):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.renameat2
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                     ctypes.c_uint]
    if call(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    number = ctypes.get_errno()
    if number in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(number, os.strerror(number), str(dst))


def _exists_error(path, concurrent=False):
    why = " (another writer placed it while this one wrote)" if concurrent else ""
    return FileExistsError(f"{path} already exists{why}; nothing was replaced (pass "
                           "overwrite=True to replace it, or choose another path)")


def _place_file(tmp, path, overwrite):
    if overwrite:
        os.replace(tmp, path)
        return
    # No replace, even against a writer that checked at the same instant.
    try:
        done = _renameat2(tmp, path, _RENAME_NOREPLACE)
    except FileExistsError:
        raise _exists_error(path, concurrent=True) from None
    if not done:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise _exists_error(path, concurrent=True) from None
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(path, overwrite=True, kind="file"):
    """A staged file name beside `path` for a writer that wants a name (Keras, matplotlib,
    numpy): what the block writes there is fsynced and moved onto `path` whole when the block
    ends; on any error (a full disk, a kill) `path` is as it was and the staged file is gone.

    Args:
        path: the file.
        overwrite: replace an existing `path`; if False an existing `path` (even one another
            process places while this one writes) is a `FileExistsError`.
        kind: what is written, for the observers and fault points.

    Yields:
        The staged `pathlib.Path` to write.
    """
    path = pathlib.Path(path)
    if not overwrite and path.exists():
        raise _exists_error(path)
    _remove_stale_tmp(path)
    tmp = _tmp_path(path)
    _notify(kind, path)
    try:
        yield tmp
        faults.point(f"write:{kind}")
        _fsync_file(tmp)
        _place_file(tmp, path, overwrite)
        _fsync_dir(path.parent)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError) and (not err.filename or str(err.filename) == str(tmp)):
            raise type(err)(err.errno, err.strerror, str(path)) from err
        raise


def write_bytes_atomic(path, data, overwrite=True):
    """Writes `data` beside `path`, flushes it to disk and moves it into place; on any error
    the temporary file is removed and `path` is as it was.

    Args:
        path: the file.
        data: bytes.
        overwrite: replace an existing file (else `FileExistsError`).
    """
    with atomic_path(path, overwrite) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text_atomic(path, text, overwrite=True):
    """Writes `text` beside `path` and moves it into place: readers see the old file or the
    new one, never a torn one.

    Args:
        path: the file.
        text: a str.
        overwrite: replace an existing file (else `FileExistsError`).
    """
    write_bytes_atomic(path, text.encode(), overwrite)


def write_json_atomic(path, obj, overwrite=True):
    """Writes `obj` as indented, key-sorted JSON to `path` atomically (`write_text_atomic`).

    Args:
        path: the file.
        obj: a JSON-ready object.
        overwrite: replace an existing file (else `FileExistsError`).
    """
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n",
                      overwrite)


def copy_file(src, dst):
    """Copies `src` to `dst` through `atomic_path` (a reader sees the old `dst` or the copy).

    Args:
        src: the file to copy.
        dst: where.
    """
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def append_line(path, line, unless=None):
    """Appends one line (a `\\n` is added) to `path` in one `write` under an exclusive lock,
    fsynced. A torn last line (a kill or a full disk mid-append) is closed with a newline
    first, so the new line always starts on a line of its own. `path` is created if missing.

    Args:
        path: the file.
        line: a str without newlines.
        unless: called with no argument under the lock; when it returns True nothing is
            appended (a check against what the file already holds).

    Returns:
        True when the line was appended.
    """
    import fcntl

    path = pathlib.Path(path)
    if "\n" in line:
        raise ValueError("append_line appends one line: the text holds a newline")
    _notify("append", path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if unless is not None and unless():
            return False
        data = (line + "\n").encode()
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        faults.point("write:append")
        written = os.write(fd, data)
        if written != len(data):  # a short write is a full disk that did not say so
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        os.fsync(fd)
        return True
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _previous_path(target):
    return target.with_name(f".{target.name}{PREVIOUS_SUFFIX}")


def recover(target):
    """Finishes what a kill interrupted while `target` (a folder) was being replaced the slow
    way (two renames, where the file system cannot swap): with `target` gone, its previous
    version is put back; with both there, the previous one is removed.

    Args:
        target: a folder the layer writes.
    """
    target = pathlib.Path(target)
    previous = _previous_path(target)
    if not previous.exists():
        return
    if target.exists():
        shutil.rmtree(previous, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):  # another process recovered it first
            os.rename(previous, target)


def _staging_prefix(target):
    host = socket.gethostname()[:16]
    return f".{pathlib.Path(target).name}.partial-{host}-"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(target):
    """Removes the staging folders of writes to `target` that this host's dead processes left
    (a staging folder never holds the only copy of anything: see `place_dir`).

    Args:
        target: a folder the layer writes.
    """
    target = pathlib.Path(target)
    prefix = _staging_prefix(target)
    for folder in target.parent.glob(glob.escape(prefix) + "*"):
        pid = folder.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _staging_dir(target):
    """A new hidden folder beside `target` to write it in before it is moved into place (named
    for this host and process); stale ones of this host's dead processes are removed first."""
    remove_stale_staging(target)
    return pathlib.Path(tempfile.mkdtemp(prefix=_staging_prefix(target) + f"{os.getpid()}-",
                                         dir=target.parent))


def place_dir(staged, target, overwrite=True):
    """Moves the folder `staged` onto `target` whole. Replacing, the two are swapped in one
    atomic step where the file system can (`renameat2` RENAME_EXCHANGE), else the old one is
    renamed aside (`.<name>.previous`) and put back by `recover` if a kill comes between the
    two renames; the old one is deleted only once the new one is in place. Without
    `overwrite`, an existing `target` (even one placed by a concurrent writer) is a
    `FileExistsError`.

    Args:
        staged: the folder written aside (on the same file system).
        target: where it goes.
        overwrite: replace an existing `target`.
    """
    staged, target = pathlib.Path(staged), pathlib.Path(target)
    recover(target)
    faults.point("write:dir")
    if not target.exists():
        try:  # a folder renamed onto a non-empty folder fails: no replace, atomically
            if not _renameat2(staged, target, _RENAME_NOREPLACE):
                os.rename(staged, target)
        except OSError as err:
            if err.errno in (errno.EEXIST, errno.ENOTEMPTY) and not overwrite:
                raise _exists_error(target, concurrent=True) from None
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        else:
            _fsync_dir(target.parent)
            return
    if not overwrite:
        raise _exists_error(target, concurrent=True)
    if _renameat2(staged, target, _RENAME_EXCHANGE):  # staged now holds the old one
        _fsync_dir(target.parent)
        shutil.rmtree(staged, ignore_errors=True)
        return
    previous = _previous_path(target)
    os.rename(target, previous)
    faults.point("write:dir-aside")
    try:
        os.rename(staged, target)
    except OSError:
        os.rename(previous, target)
        raise
    _fsync_dir(target.parent)
    shutil.rmtree(previous, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(target, overwrite=True):
    """A folder to write `target` in, aside (a hidden staging folder beside it); when the block
    ends it is moved into place whole (`place_dir`), and on any error it is removed and
    `target` is as it was.

    Args:
        target: the folder to write.
        overwrite: replace an existing `target` (else `FileExistsError`, checked before the
            block and again, atomically, when placing).

    Yields:
        The folder to write (named as `target`, inside the staging folder).
    """
    target = pathlib.Path(target)
    check_name(target, "the folder")
    recover(target)
    if not overwrite and target.exists():
        raise _exists_error(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _notify("dir", target)
    tmp = _staging_dir(target)
    try:
        staged = tmp / target.name
        staged.mkdir()
        yield staged
        place_dir(staged, target, overwrite)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
