"""Exclusive, crash-safe claims on run directories, so any number of processes (on one machine
or many, sharing the pool on one file system) train each run once and never two at a time.

A claim is an OS file lock (`fcntl.flock`) on a small file in the run directory, `.claim`,
held by the training process for the run's whole life. The kernel drops
it when the process ends, however it ends: a claim left by a killed process is simply free
again, and the next process to take it resumes the run from its checkpoints. The lock file
names its holder (host, process, since when) for the messages of the processes that wait.
The lock files stay (empty of meaning once released): removing them would let two processes
lock two different files of one name.
"""

import contextlib
import datetime
import fcntl
import json
import os
import pathlib
import socket
import time

from sdae_tf.utils import atomic

POLL_SECONDS = 1.0


class RunClaimedError(FileExistsError):
    """Another live process holds the claim on a run directory.

    Args:
        run_dir: the claimed run folder.
        holder: who holds it (`holder(run_dir)`).
    """

    def __init__(self, run_dir, holder):
        self.run_dir, self.holder = pathlib.Path(run_dir), holder
        who = (f"process {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"
               if holder else "another process")
        super().__init__(f"--run_dir {run_dir} is being trained by {who}; wait for it to "
                         "finish (sdae-experiment waits by itself) or choose another --run_dir")


CLAIM_FILE = ".claim"


def claim_path(run_dir):
    """The claim file of a run folder (`CLAIM_FILE` inside it).

    Args:
        run_dir: a run folder.

    Returns:
        A `pathlib.Path`.
    """
    return pathlib.Path(run_dir) / CLAIM_FILE


def holder(run_dir):
    """Who holds (or last held) the claim on `run_dir`: {host, pid, since}, or {}.

    Args:
        run_dir: a run folder.

    Returns:
        A dict.
    """
    try:
        return json.loads(claim_path(run_dir).read_text() or "{}")
    except (OSError, ValueError):
        return {}


class Claim:
    """The claim on one run directory: `acquire()` (at once or RunClaimedError; or waiting),
    `release()`; a context manager too. Re-entrant within one process.

    Args:
        run_dir: a run folder.
    """

    _held = {}  # claim file -> (Claim, depth): this process's claims

    def __init__(self, run_dir):
        self.run_dir = pathlib.Path(run_dir)
        self.path = claim_path(run_dir)
        self._fd = None

    def acquire(self, wait=False, on_wait=None):
        key = str(self.path.absolute())
        if key in Claim._held:  # this process holds it already (an experiment's own run)
            owner, depth = Claim._held[key]
            Claim._held[key] = (owner, depth + 1)
            self._fd = owner._fd
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)  # the run directory
        fd = atomic.open_lock(self.path)
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    os.close(fd)
                    raise RunClaimedError(self.run_dir, holder(self.run_dir)) from None
                if on_wait is not None and not told:
                    on_wait(holder(self.run_dir))
                    told = True
                time.sleep(POLL_SECONDS)
        me = {"host": socket.gethostname(), "pid": os.getpid(),
              "since": datetime.datetime.now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd
        Claim._held[key] = (self, 1)
        return self

    def release(self):
        key = str(self.path.absolute())
        if key not in Claim._held:
            return
        owner, depth = Claim._held[key]
        if depth > 1:
            Claim._held[key] = (owner, depth - 1)
            return
        del Claim._held[key]
        with contextlib.suppress(OSError):
            fcntl.flock(owner._fd, fcntl.LOCK_UN)
            os.close(owner._fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def is_claimed(run_dir):
    """True when another process holds the claim on `run_dir` now (a snapshot: use `Claim`
    to act on it).

    Args:
        run_dir: a run folder.

    Returns:
        A bool.
    """
    path = claim_path(run_dir)
    if not path.exists() or str(path.absolute()) in Claim._held:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken just now
    return False


def wait_until_free(run_dir, on_wait=None):
    """Blocks while another process holds the claim on `run_dir`.

    Args:
        run_dir: a run folder.
        on_wait: called once with the holder when it has to wait, or None.
    """
    Claim(run_dir).acquire(wait=True, on_wait=on_wait).release()
