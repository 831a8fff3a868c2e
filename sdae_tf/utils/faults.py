"""Named fault points for the fault-injection tests: a run's lifecycle calls `point(name)` at
each stage boundary and inside each stage, and `$SDAE_TF_FAULT` makes one of them fail the
way the world does. Unset (always, outside the tests), a point is one dictionary lookup.

    SDAE_TF_FAULT=kill:done:finetune         SIGKILL once fine-tuning is recorded
    SDAE_TF_FAULT=kill:epoch:finetune@2      SIGKILL after the 2nd epoch checkpoint of fine-tuning
    SDAE_TF_FAULT=pause:done:pretrain_block_1  write $SDAE_TF_FAULT_FILE, wait until it is removed
    SDAE_TF_FAULT=killonce:epoch:finetune@1  SIGKILL, unless $SDAE_TF_FAULT_FILE exists (it is
                                             written first): once over every process
    SDAE_TF_FAULT=enospc:write:keras         raise OSError ENOSPC (a full disk) there
    SDAE_TF_FAULT=erofs:write:dir@2          raise OSError EROFS (a read-only disk) there

Points: `done:<stage>` (a stage recorded in progress.json: pretrain_block_K,
pretrain_end_to_end, figures, finetune, cluster, evaluate, export), `epoch:<stage>` (an epoch
checkpoint written; for cluster, a target update's), `batch:<stage>` (a training batch),
`figure:<name>` (one figure written),
`export:staged` (the export written aside, not yet in place), `unpack:staged` (a packed
preset unpacked aside in the cache, not yet in place), `export:placed` (in place, not yet
recorded), `metrics` (before metrics.json), and the storage layer's `write:<kind>` (a write
staged, about to be moved into place: kind file, weights, keras, append, dir; `write:dir-aside`
between the two renames of a folder replaced the slow way).
"""

import collections
import errno
import os
import pathlib
import signal
import time

ENV = "SDAE_TF_FAULT"
PAUSE_FILE_ENV = "SDAE_TF_FAULT_FILE"
_hits = collections.Counter()


def point(name):
    """A fault point: does nothing unless `$SDAE_TF_FAULT` names it (`ACTION:NAME[@N]`, the Nth
    time it is reached; ACTION kill or pause).

    Args:
        name: the point's name (e.g. "export:staged", "epoch:finetune").
    """
    spec = os.environ.get(ENV)
    if not spec:
        return
    action, _, rest = spec.partition(":")
    target, _, count = rest.rpartition("@") if "@" in rest else (rest, "", "1")
    if name != target:
        return
    _hits[name] += 1
    if _hits[name] != int(count):
        return
    if action == "killonce":
        marker = pathlib.Path(os.environ[PAUSE_FILE_ENV])
        try:
            marker.open("x").close()  # the first process to get here is the one killed
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)
    elif action in ("enospc", "erofs"):
        number = errno.ENOSPC if action == "enospc" else errno.EROFS
        raise OSError(number, os.strerror(number))
    elif action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "pause":
        marker = pathlib.Path(os.environ[PAUSE_FILE_ENV])
        marker.write_text(name)
        while marker.exists():
            time.sleep(0.05)
    else:
        raise ValueError(f"${ENV}={spec}: unknown action {action!r} "
                         "(kill, killonce, pause, enospc, erofs)")
