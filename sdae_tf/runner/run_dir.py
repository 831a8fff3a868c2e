"""The run directory's rules: a run starts in an empty (or missing) folder and resumes in one
holding an unfinished run of the same configuration; anything else is refused, saying what to
do."""

import json
import pathlib

from sdae_tf.runner import config as config_lib
from sdae_tf.utils import storage
from sdae_tf.utils.claims import CLAIM_FILE


def inspect_run_dir(run_dir, config):
    """What `run_dir` holds, read without writing anything: False when a run can start there
    (missing or empty), True when it holds an unfinished run of the same `config` (the run
    then resumes). Anything else (a finished run, another run's flags, foreign files) raises
    an error that says what to do.

    Args:
        run_dir: the run directory.
        config: the run's config, a dict (`config.json`'s).

    Returns:
        True to resume, False to start.

    Raises:
        ValueError: a finished run, another run's flags or foreign files.
    """
    run_dir = pathlib.Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise NotADirectoryError(f"--run_dir {run_dir} exists and is not a directory")
    if not run_dir.exists() or not [p for p in run_dir.iterdir() if p.name != CLAIM_FILE]:
        return False
    if (run_dir / "metrics.json").exists():
        raise FileExistsError(f"--run_dir {run_dir} holds a finished run; choose another "
                              "--run_dir (or leave it out for a fresh one)")
    if not (run_dir / "config.json").exists():
        raise FileExistsError(f"--run_dir {run_dir} is not empty and holds no config.json: not "
                              "an sdae-train run; choose another --run_dir")
    old = storage.read_json(run_dir / "config.json", "the run configuration")
    new = json.loads(json.dumps(config, default=str))
    # Fields that do not change results (config.neutral_fields) may differ; a field missing
    # from either side (added since that run was written) counts as its default.
    differ = config_lib.differences(old, new)
    if differ:
        raise FileExistsError(
            f"--run_dir {run_dir} holds an unfinished run with other flags (differs in: "
            f"{', '.join(differ)}); rerun it with its own flags to resume it, or choose another "
            "--run_dir")
    return True


def prepare_run_dir(run_dir, config):
    """Creates `run_dir`, or accepts an unfinished run of the same `config` there (the run then
    resumes; see `inspect_run_dir`). Returns (path, resuming).

    Args:
        run_dir: the run directory.
        config: the run's config, a dict.

    Returns:
        (the directory's `pathlib.Path`, whether the run resumes).
    """
    run_dir = pathlib.Path(run_dir)
    resuming = inspect_run_dir(run_dir, config)
    if not resuming:
        run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir, resuming
