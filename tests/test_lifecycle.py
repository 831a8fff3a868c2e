"""Fault injection over a run's lifecycle: a SIGKILL at each stage boundary and inside each
stage, full and read-only file systems at each output place, a damaged file of each kind the
project reads. Every interrupted run, rerun with the same command, must finish with the result
of an uninterrupted one; every fault that cannot be resumed through must end in one line
naming the problem and leave nothing half-written.

Kills are placed with the named fault points of `sdae_tf.utils.faults` ($SDAE_TF_FAULT), so each
lands where it says, every time. Full and read-only file systems are real: small tmpfs mounts
(they need root; without it those cases are skipped, saying so)."""

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from sdae_tf.hub import export as export_lib
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import training
from sdae_tf.utils import faults, storage

from .conftest import REPO

BASE = ["--model=sdae_mnist", "--dataset=digits", "--hidden_units=48,24", "--verbose=0",
        "--batch_size=32", "--pretrain_epochs=2", "--finetune_epochs=2", "--seed=5"]


def _exe():
    exe = pathlib.Path(sys.executable).parent / "sdae-train"
    assert exe.exists(), "sdae-train is not installed: pip install -e ."
    return str(exe)


def _argv(tmp, name, extra=()):
    return [_exe(), *BASE, f"--run_dir={tmp / name / 'run'}",
            f"--export_dir={tmp / name / 'export'}", *extra]


def _env(tmp, fault=None, pause_file=None):
    env = {**os.environ, "SDAE_TF_CACHE": str(tmp / "cache")}
    env.pop(faults.ENV, None)
    if fault:
        env[faults.ENV] = fault
    if pause_file:
        env[faults.PAUSE_FILE_ENV] = str(pause_file)
    return env


def _run(argv, env, timeout=300):
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _outcome(folder):
    """What a finished run left: its metrics (less wall times and paths) and exported weights."""
    return _outcome_at(folder / "run", folder / "export")


def _outcome_at(run_dir, export_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    encoder = keras.saving.load_model(export_dir / "encoder.keras", safe_mode=True)
    drop = {"seconds", "run_dir", "export", "threads", "figures"}
    kept = {k: v for k, v in metrics.items() if k not in drop}
    for record in [*kept.get("pretrain", []), kept.get("finetune", {})]:
        record.pop("seconds", None)
    return kept, [np.asarray(w) for w in encoder.weights]


def _assert_same(ref, got):
    (m_ref, w_ref), (m_got, w_got) = ref, got
    assert m_got == m_ref
    for a, b in zip(w_ref, w_got, strict=True):
        np.testing.assert_array_equal(a, b)


def _assert_clean(folder):
    leftovers = [p for p in folder.rglob("*")
                 if p.name.startswith((".tmp-", ".export.partial-", storage.PROBE_PREFIX))]
    assert not leftovers, leftovers
    assert not (folder / "run" / "checkpoints").exists()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run every interrupted one must reproduce."""
    tmp = tmp_path_factory.mktemp("reference")
    result = _run(_argv(tmp, "ref", ["--figures=filters"]), _env(tmp))
    assert result.returncode == 0, result.stderr[-3000:]
    return _outcome(tmp / "ref")


def _kill_and_resume(tmp, name, point, reference):
    argv = _argv(tmp, name, ["--figures=filters"])
    killed = _run(argv, _env(tmp, f"kill:{point}"))
    assert killed.returncode == -signal.SIGKILL, (point, killed.stdout, killed.stderr[-2000:])
    assert not (tmp / name / "run" / "metrics.json").exists()
    resumed = _run(argv, _env(tmp))
    assert resumed.returncode == 0, (point, resumed.stderr[-3000:])
    assert "Resuming the run" in resumed.stdout, resumed.stdout
    _assert_same(reference, _outcome(tmp / name))
    _assert_clean(tmp / name)
    return resumed


# The quick walk (default run): the boundaries that once lost the run (fine-tuning recorded,
# then a kill in the test evaluation or the export) and a kill inside a stage.
QUICK_POINTS = ["done:finetune"]
# The exhaustive walk (slow): every stage boundary and a point inside every stage.
ALL_POINTS = ["batch:pretrain_block_1@3", "epoch:pretrain_block_1@1", "done:pretrain_block_1",
              "epoch:pretrain_block_2@2", "done:pretrain_block_2", "figure:filters",
              "done:figures", "batch:finetune@3", "epoch:finetune@1", "done:finetune", "evaluate",
              "done:evaluate",
              "export:staged", "export:placed", "done:export", "metrics"]


def test_killed_at_the_quick_points_resumes_to_the_uninterrupted_result(tmp_path, reference):
    for i, point in enumerate(QUICK_POINTS):
        resumed = _kill_and_resume(tmp_path, f"k{i}", point, reference)
        if point == "done:finetune":  # the fault of issue 25.1: restored, then evaluated
            assert "Fine-tuning restored" in resumed.stdout


# What the process that resumes after a kill at a point must say.
RESUME_SAYS = {"export:placed": "Export restored",  # its own export taken back, not refused
               "done:finetune": "Fine-tuning restored"}
# The exhaustive walk in three chains, each in lifecycle order (a chain's processes run one
# after another; the three run side by side). A run resumed after `export:placed` takes its
# export back rather than exporting again, so `done:export` is reached in another chain.
CHAINS = {
    "pretraining": ALL_POINTS[:5],
    "figures+finetune+evaluate+export": ["figure:filters", "done:figures", "batch:finetune@3",
                                         "epoch:finetune@1", "evaluate", "done:evaluate",
                                         "done:export"],
    "export+metrics": ["export:staged", "export:placed", "metrics"],
}


def test_the_chains_walk_every_point_once():
    walked = [p for chain in CHAINS.values() for p in chain]
    assert sorted(walked + QUICK_POINTS) == sorted(ALL_POINTS) and len(set(walked)) == len(walked)


@pytest.mark.slow
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_killed_anywhere_resumes_to_the_uninterrupted_result(chain, tmp_path, reference):
    """One run killed at each point of the chain in turn, each process resuming what the kill
    before it left (it says so, unbuffered, before it is killed again), then resumed to the
    end: the uninterrupted result, nothing left behind."""
    argv = _argv(tmp_path, "run", ["--figures=filters"])
    before = None
    for point in [*CHAINS[chain], None]:
        env = {**_env(tmp_path, f"kill:{point}" if point else None), "PYTHONUNBUFFERED": "1"}
        result = _run(argv, env)
        if point:
            assert result.returncode == -signal.SIGKILL, (point, result.stdout,
                                                          result.stderr[-2000:])
            assert not (tmp_path / "run" / "run" / "metrics.json").exists()
        else:
            assert result.returncode == 0, (before, result.stderr[-3000:])
        if before:
            assert "Resuming the run" in result.stdout, (before, result.stdout)
            assert RESUME_SAYS.get(before, "") in result.stdout, (before, result.stdout)
        before = point
    _assert_same(reference, _outcome(tmp_path / "run"))
    _assert_clean(tmp_path / "run")


# ---------------------------------------------------------------- full and read-only disks

@contextlib.contextmanager
def _tmpfs(path, size, read_only=False):
    """A tmpfs of `size` at `path` (skips the test, saying why, where mounting is refused)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _one_line_error(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert len(lines) == 1 and lines[0].startswith("sdae-train: error: "), result.stderr
    return lines[0]


def _fill(folder):
    """Fills the file system of `folder` (a tmpfs) to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (1 << 16, 1 << 12, 1 << 8, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)


@pytest.mark.parametrize("place", ["run_dir", "export_dir"])
def test_read_only_or_full_place_is_refused_before_training(place, tmp_path, digits):
    """Checked before the first epoch: one line naming the place, nothing written elsewhere."""
    import dataclasses

    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                 model_config={"hidden_units": (16, 8)}, pretrain_epochs=1,
                                 finetune_epochs=1, batch_size=64, verbose=0,
                               run_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "exp"))
    reasons = {"read-only": "is not writable .the file system is read-only",
               "full": "is not writable .no space left on the device",
               "too small": "about [0-9.]+ MB are needed and .* has [0-9.]+ MB free"}
    for kind, options in (("read-only", dict(size="4m", read_only=True)),
                          ("full", dict(size="1m")), ("too small", dict(size="1m"))):
        mount = tmp_path / kind.replace(" ", "-")
        with _tmpfs(mount, **options):
            if kind == "full":
                _fill(mount)
            target = mount / "target"
            reason = reasons[kind]
            with pytest.raises(storage.StorageError, match=f"--{place} {target}.*{reason}"
                                                           ".*nothing was written or trained"):
                training.run(dataclasses.replace(cfg, **{place: str(target)}))
            assert not (tmp_path / "run").exists() and not (tmp_path / "exp").exists()
            assert not target.exists()


@pytest.mark.parametrize("place", ["run", pytest.param("export", marks=pytest.mark.slow)])
def test_disk_full_during_a_stage_is_one_line_then_resumes(place, tmp_path, reference):
    """The run directory's disk fills up while pretraining block 2 (the run paused at block 1's
    end, the disk filled, the run let go), or the export's before the export. Either ends in
    one line saying what is kept; freed, the same command finishes with the uninterrupted
    result."""
    pause_at = "done:pretrain_block_1" if place == "run" else "done:evaluate"
    mount = tmp_path / "disk"
    with _tmpfs(mount, "32m"):
        folder = mount if place == "run" else tmp_path / "elsewhere"
        argv = [_exe(), *BASE, "--figures=filters",
                f"--run_dir={folder / 'run'}", f"--export_dir={mount / 'export'}"]
        marker = tmp_path / "pause"
        proc = subprocess.Popen(argv, cwd=REPO, env=_env(tmp_path, f"pause:{pause_at}", marker),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 240
        while not marker.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert marker.exists(), proc.communicate()[1][-3000:]
        _fill(mount)
        marker.unlink()
        out, err = proc.communicate(timeout=240)
        line = _one_line_error(subprocess.CompletedProcess(argv, proc.returncode, out, err))
        assert "no space left on the device writing" in line and "kept in" in line
        assert "rerun the same command to resume" in line
        (mount / "filler").unlink()
        resumed = _run(argv, _env(tmp_path))
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        _assert_same(reference, _outcome_at(folder / "run", mount / "export"))
        assert not list(mount.rglob(".tmp-*")) and not list(mount.glob(".export.partial-*"))


# ---------------------------------------------------------------- refused commands, lookups

@pytest.mark.parametrize("extra, names", [
    (["--block_noise_types=gaussian"], "block_noise_types"),
    (["--hidden_dropout=1.5"], "hidden_dropout"),
    (["--noise_schedule=ramp_up", "--noise_level=0"], "noise_schedule=ramp_up"),
])
def test_a_refused_command_writes_nothing(extra, names, tmp_path):
    """Issue 25.5: validation ends before anything is written, so the corrected command runs
    in the same --run_dir."""
    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                 model_config={"hidden_units": (16, 8)}, pretrain_epochs=1,
                                 finetune_epochs=1, batch_size=64, verbose=0,
                               run_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "exp"))
    bad = dict(block_noise_types=("gaussian",) if "--block_noise_types=gaussian" in extra
               else None,
               hidden_dropout=1.5 if "--hidden_dropout=1.5" in extra else None)
    if "--noise_schedule=ramp_up" in extra:
        bad.update(noise_schedule="ramp_up", noise_level=0.0)

    with pytest.raises(ValueError, match=names):
        training.run(config_lib.replace(cfg, **bad))
    assert not (tmp_path / "run").exists() and not (tmp_path / "exp").exists()
    assert training.run(cfg)["test_accuracy"] > 0  # the corrected command is not blocked


def _export_copy(tmp_path, name="sdae_mnist"):
    import shutil

    target = tmp_path / "models" / name
    shutil.copytree(REPO / "exported_models" / name, target)
    return target


def test_model_lookup_never_passes_over_a_place_the_user_named(tmp_path, monkeypatch):
    """Issue 25.7 and 25.8: a $SDAE_TF_MODELS folder holding the name without a manifest, a
    $SDAE_TF_MODELS that is not a folder, a named folder without a manifest, an invalid
    manifest: each an error naming the file, never the repository's copy instead."""
    import sdae_tf

    (tmp_path / "models" / "sdae_mnist").mkdir(parents=True)
    monkeypatch.setenv("SDAE_TF_MODELS", str(tmp_path / "models"))
    with pytest.raises(FileNotFoundError, match=r"SDAE_TF_MODELS=.*models/sdae_mnist has no "
                                                "manifest.json"):
        sdae_tf.feature_extractor("sdae_mnist")
    monkeypatch.setenv("SDAE_TF_MODELS", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere is not a folder"):
        sdae_tf.feature_extractor("sdae_mnist")
    monkeypatch.delenv("SDAE_TF_MODELS")
    with pytest.raises(FileNotFoundError, match="models/sdae_mnist holds no manifest.json"):
        sdae_tf.feature_extractor(str(tmp_path / "models" / "sdae_mnist"))
    copy = _export_copy(tmp_path / "good")
    (copy / "manifest.json").write_text('{"model": "sdae_mnist", ')
    with pytest.raises(storage.DamagedFileError, match=r"manifest .*manifest.json is damaged"):
        sdae_tf.feature_extractor(str(copy))


# ---------------------------------------------------------------- damaged files, by kind

def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_damaged_variant_cache_is_rebuilt_naming_it(tmp_path, capsys):
    """Issue 25.4: a truncated cache (a zip cut in half), random bytes, wrong arrays: each
    named on stderr and rebuilt to the same arrays."""
    from sdae_tf.data import mnist

    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 255, (40, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 255, (10, 28, 28), dtype=np.uint8)
    built = mnist._cached_variant("rot", x_train, x_test, "k", 0, tmp_path, "report")
    path = next(tmp_path.glob("mnist_rot_*.npz"))
    damages = {"truncated": _truncate,
               "random bytes": lambda p: p.write_bytes(rng.bytes(4000)),
               "wrong arrays": lambda p: np.savez(open(p, "wb"), x_train=x_train[:3])}
    for what, damage in damages.items():
        damage(path)
        again = mnist._cached_variant("rot", x_train, x_test, "k", 0, tmp_path, "report")
        err = capsys.readouterr().err
        assert f"cache {path} is damaged" in err and "rebuilding" in err, (what, err)
        for a, b in zip(built, again, strict=True):
            np.testing.assert_array_equal(a, b)
    # Rebuilt in place: read back without a word.
    mnist._cached_variant("rot", x_train, x_test, "k", 0, tmp_path, "report")
    assert "damaged" not in capsys.readouterr().err


def test_unwritable_cache_costs_time_not_the_run(tmp_path, capsys):
    from sdae_tf.data import mnist

    x = np.zeros((4, 28, 28), np.uint8)
    with _tmpfs(tmp_path / "ro", "1m", read_only=True) as ro:
        images = mnist._cached_variant("bg_rand", x, x, "k", 0, ro / "cache", "report")
    assert images[0].shape == (4, 28, 28)
    assert "could not write the MNIST variant cache" in capsys.readouterr().err


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A run killed inside fine-tuning (its pretraining stages and an epoch checkpoint on
    disk), copied fresh for each damage."""
    tmp = tmp_path_factory.mktemp("interrupted")
    result = _run(_argv(tmp, "original"), _env(tmp, "kill:epoch:finetune@1"))
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    return tmp / "original"


def _copy_run(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("damaged, names", [
    ("run/checkpoints/finetune/latest.json", "checkpoint state .*latest.json is damaged"),
    ("run/checkpoints/finetune/epoch-0001.weights.h5", "epoch checkpoint .*epoch-0001"),
    ("run/checkpoints/pretrain_block_1.weights.h5",
     "completed stage pretrain_block_1 .*pretrain_block_1.weights.h5 cannot be read"),
    ("run/progress.json", "run progress .*progress.json is damaged"),
    ("run/config.json", "run configuration .*config.json is damaged"),
])
def test_damaged_run_file_is_named(damaged, names, interrupted, tmp_path, capsys):
    """A damaged file in an interrupted run stops the resume with one line naming it."""
    from absl import flags
    from absl.testing import flagsaver

    from sdae_tf.cli import train as train_cli

    folder = _copy_run(interrupted, tmp_path / "copy")
    _truncate(folder / damaged)
    argv = _argv(tmp_path, "copy")[1:]
    with flagsaver.flagsaver():
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["sdae-train", *argv])
        with pytest.raises(SystemExit) as info:
            train_cli.main(["sdae-train"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1, err
    assert __import__("re").search(names, err[0]), err[0]


def test_damaged_weights_keras_file_and_tuner_state_are_named(tmp_path):
    """--init_from a truncated pretrained.weights.h5, an export's truncated encoder.keras read
    without its checksum, keras-tuner state cut in half: each a one-line error naming it."""
    from sdae_tf.integrations import tuning

    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                 model_config={"hidden_units": (16, 8)}, pretrain_epochs=1,
                                 finetune_epochs=0, batch_size=64, verbose=0,
                               run_dir=str(tmp_path / "pre"), export_dir=str(tmp_path / "exp"))
    training.run(cfg)
    _truncate(tmp_path / "pre" / "pretrained.weights.h5")
    import dataclasses

    with pytest.raises(storage.DamagedFileError, match="init_from .*pretrained.weights.h5 "
                                                       "cannot be read"):
        training.run(dataclasses.replace(cfg, run_dir=str(tmp_path / "ft"), export_dir=None,
                                         finetune_epochs=1, pretrain_epochs=0,
                                         init_from=str(tmp_path / "pre")))
    _truncate(tmp_path / "exp" / "encoder.keras")
    with pytest.raises(storage.DamagedFileError, match="encoder.keras cannot be read"):
        export_lib.load_encoder(tmp_path / "exp", trainable=True, verify=False)
    with pytest.raises(ValueError, match="encoder.keras does not match manifest.json"):
        export_lib.load_encoder(tmp_path / "exp", trainable=True)
    # keras-tuner's own state, damaged between two sessions of one search.
    space = tuning.SearchSpace(noise_level=tuning.parse_spec("0.1:0.7"))
    base = dataclasses.replace(cfg, run_dir=None, export_dir=None, pretrain_epochs=1)
    tune_dir = tmp_path / "tune"
    tuning.run_search(base, space, tune_dir=tune_dir, max_trials=1, probe_examples=100)
    assert (tune_dir / "oracle.json").exists()
    oracle = tune_dir / "oracle.json"
    _truncate(oracle)
    with pytest.raises(storage.DamagedFileError, match="keras-tuner's saved state"):
        tuning.run_search(base, space, tune_dir=tune_dir, max_trials=1, probe_examples=100)
    _truncate(tune_dir / tuning.STATE_FILE)
    with pytest.raises(storage.DamagedFileError, match="search state .*sdae_tune.json"):
        tuning.run_search(base, space, tune_dir=tune_dir, max_trials=1, probe_examples=100)
