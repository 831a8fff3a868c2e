"""The run directory's rules: a run starts in an empty (or missing) folder and resumes in one
holding an unfinished run of the same configuration; anything else is refused, saying what to
do. `open_run_dir` claims it (a second process on it is refused) and checks its free space."""

import dataclasses
import json
import math
import pathlib

from sdae_tf.hub import export as export_lib
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import run_identity
from sdae_tf.train.checkpoints import RunProgress, default_run_dir
from sdae_tf.utils import claims, storage
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
    differ = run_identity.differences(old, new)
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


# What a run's files take beyond its weights (configs, progress, logs, TensorBoard events).
RUN_DIR_OVERHEAD = 4 << 20


def space_needed(stack, data, cfg):
    """Bytes a run needs at most: (run directory, export directory). The run directory holds,
    at its peak, a stage's weights with their two Adam slots four times over (the epoch
    checkpoint being replaced, the new one, the best epoch's, the completed stage's); an export
    the encoder and the whole autoencoder in the SavedModel plus the encoder's `.keras`.

    Args:
        stack: the run's family object.
        data: its `Splits`.
        cfg: its `TrainConfig`.

    Returns:
        (bytes for the run directory, bytes for the export).
    """
    encoder = stack.encoder.count_params()
    head = cfg.head_units * math.prod(stack.encoder.output_shape[1:]) \
        + cfg.head_units * (cfg.head_layers - 1) * cfg.head_units \
        + cfg.head_units * data.num_classes
    weights = 4 * (2 * encoder + head)  # the decoders mirror the encoders
    return RUN_DIR_OVERHEAD + 4 * 3 * weights, RUN_DIR_OVERHEAD + 4 * 4 * encoder


def own_export(cfg, record):
    """True when `cfg.export_dir` holds the export this run recorded (`record`, the progress
    of an interrupted run that exported, then stopped before writing metrics.json).

    Args:
        cfg: the run's `TrainConfig`.
        record: the export record the run's progress holds, or None.

    Returns:
        Whether the export in place is the run's own.
    """
    if not record or not cfg.export_dir:
        return False
    manifest = pathlib.Path(cfg.export_dir) / export_lib.MANIFEST_FILE
    return (pathlib.Path(record["path"]).absolute() == pathlib.Path(cfg.export_dir).absolute()
            and manifest.is_file()
            and export_lib.file_sha256(manifest) == record.get("manifest_sha256"))


def open_run_dir(cfg, stack, data, claims_held):
    """The run directory of `cfg`, checked before anything is written: every output place
    writable with room for the run, what the directory holds (a new run, or an unfinished one
    of the same configuration to resume), the export target (free, or this very run's
    export). Then the run's claim is taken (`sdae_tf.utils.claims`; `claims_held`, an ExitStack,
    keeps it for the run's life: another process on the same directory is refused), the
    directory read again under it, and only then is `config.json` written. Returns (run_dir,
    progress, resuming).

    Args:
        cfg: the run's `TrainConfig`.
        stack: the run's family object.
        data: its `Splits`.
        claims_held: the pool claims this process holds.

    Returns:
        (the run directory, its `RunProgress`, whether it resumes).
    """
    config = dataclasses.asdict(config_lib.explicit(cfg))  # as it is identified
    run_need, export_need = space_needed(stack, data, cfg)
    storage.check_writable(cfg.run_dir or "runs", "--run_dir", run_need)
    if cfg.export_dir:
        storage.check_writable(cfg.export_dir, "--export_dir", export_need, beside=True)
    resuming = inspect_run_dir(cfg.run_dir, config) if cfg.run_dir else False
    earlier = RunProgress(cfg.run_dir).done("export") if resuming else None
    if cfg.export_dir and not own_export(cfg, earlier):
        export_lib.check_export_target(cfg.export_dir, cfg.overwrite_export)
    with storage.translate("nothing was trained", resume="rerun the same command"):
        if cfg.run_dir:
            run_dir = pathlib.Path(cfg.run_dir)
            claims_held.enter_context(claims.Claim(run_dir))
            resuming = inspect_run_dir(run_dir, config)  # as it is now, under the claim
        else:
            run_dir = default_run_dir(cfg.model)  # a fresh directory: no one else's
        progress = RunProgress(run_dir)
        if not resuming:
            storage.write_json_atomic(run_dir / "config.json", config)
    return run_dir, progress, resuming
