"""Reliability: user errors answered in one line before any work, runs killed (SIGKILL, SIGTERM)
resume to the same final weights, divergence stops cleanly, exports stay whole, no pickle, no
Lambda layers from files, repeated runs leave nothing behind."""

import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from absl import flags
from absl.testing import flagsaver

import sdae_tf
from sdae_tf.cli import train as train_cli
from sdae_tf.data import load_mnist
from sdae_tf.data.idx import IdxFormatError, read_idx
from sdae_tf.hub import export as export_lib
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import training
from sdae_tf.train import checkpoints as checkpoints_lib

from .conftest import REPO

FLAGS = flags.FLAGS
DIGITS = ["--model=sdae_mnist", "--dataset=digits", "--hidden_units=48,24", "--verbose=0",
          "--batch_size=32"]


def _exe():
    exe = shutil.which("sdae-train", path=os.path.dirname(sys.executable)) or shutil.which(
        "sdae-train")
    assert exe, "sdae-train is not installed: pip install -e ."
    return exe


def _cli_error(argv, capsys):
    """Runs sdae-train's main in process; returns (exit code, stderr)."""
    with flagsaver.flagsaver():
        FLAGS.unparse_flags()
        FLAGS(["sdae-train", *argv])
        with pytest.raises(SystemExit) as exit_info:
            train_cli.main(["sdae-train"])
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("argv, names", [
    (["--noise_type=masking", "--noise_level=1.5"], "rate"),
    (["--lambdas=0.1,0.2"], "does not take lambdas"),
    (["--pretrain_epochs=0", "--finetune_epochs=0"], "Nothing to train"),
    (["--batch_size=5000"], "batch_size"),
    (["--data_dir=README.md", "--dataset=mnist"], "is not a directory"),
    (["--dataset=cifar10", "--data_dir=/nonexistent/tfds"], "tfds build"),
])
def test_user_errors_are_one_line_and_exit_2(argv, names, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    code, err = _cli_error([*DIGITS, f"--run_dir={tmp_path / 'run'}", *argv], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("sdae-train: error: "), err
    assert names in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "run" / "progress.json").exists()  # nothing trained


def test_flag_errors_in_a_fresh_process(tmp_path):
    """absl's own flag checks reach the shell as a message, not a traceback (one fresh process:
    each costs a TensorFlow import); the same checks in process name their flag or file."""
    result = subprocess.run([_exe(), "--model=sdae_mnsit"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and "--model" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for argv, names in [(["--noise_level=-0.1"], "--noise_level"),
                        (["--flagfile=flags/nope.flags"], "nope.flags")]:
        with flagsaver.flagsaver(), pytest.raises(flags.Error, match=names):
            FLAGS.unparse_flags()
            FLAGS(["sdae-train", *argv])


def test_empty_idx_file_names_the_file(tmp_path):
    empty = tmp_path / "train-images-idx3-ubyte"
    empty.write_bytes(b"")
    with pytest.raises(IdxFormatError, match="train-images-idx3-ubyte"):
        read_idx(empty, 2051, 60000)
    with pytest.raises(IdxFormatError, match="train-images"):
        load_mnist(data_dir=tmp_path, cache_dir=tmp_path / "cache")


def _weights(export_dir):
    model = keras.saving.load_model(pathlib.Path(export_dir) / "encoder.keras", safe_mode=True)
    return [np.asarray(w) for w in model.weights]


def _train_argv(model, run_dir, export_dir):
    return [_exe(), *DIGITS, f"--model={model}", "--pretrain_epochs=8", "--finetune_epochs=3",
            "--seed=3", f"--run_dir={run_dir}", f"--export_dir={export_dir}"]


# A signal from outside at an arbitrary instant (SIGKILL at every fault point of every stage,
# each followed by a bit-for-bit resume, is tests/test_lifecycle.py's): SIGTERM, on the family
# with its own train_step.
@pytest.mark.slow
@pytest.mark.parametrize("sig, model", [(signal.SIGTERM, "sdae_learned_sigma_mnist")])
def test_killed_run_resumes_to_the_same_weights(sig, model, tmp_path):
    """Killed while pretraining block 2, rerun with the same command: block 1 is restored,
    block 2 resumes after its last epoch (same data order, noise, optimizer state), and the
    exported encoder is bit for bit the uninterrupted run's."""
    env = {**os.environ, "SDAE_TF_CACHE": str(tmp_path / "cache")}
    ref = subprocess.run(_train_argv(model, tmp_path / "ref", tmp_path / "ref_export"), cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr[-3000:]
    argv = _train_argv(model, tmp_path / "run", tmp_path / "export")
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    marker = tmp_path / "run" / "checkpoints" / "pretrain_block_2" / "latest.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not marker.exists():
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be killed: " + proc.stderr.read()
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not (tmp_path / "export").exists() and not (tmp_path / "run" / "metrics.json").exists()
    resumed = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming the run" in resumed.stdout and "Resuming pretrain_block_2" in resumed.stdout
    for a, b in zip(_weights(tmp_path / "ref_export"), _weights(tmp_path / "export"),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    m_ref = json.loads((tmp_path / "ref" / "metrics.json").read_text())
    m_run = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m_run["test_accuracy"] == m_ref["test_accuracy"]
    assert m_run["finetune"]["history"] == m_ref["finetune"]["history"]
    assert m_run["pretrain"][1]["history"]["loss"] == m_ref["pretrain"][1]["history"]["loss"]
    assert not (tmp_path / "run" / "checkpoints").exists()  # cleared once finished


def test_run_dir_rules(tmp_path, digits):
    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                 model_config={"hidden_units": (16, 8)}, pretrain_epochs=1,
                                 finetune_epochs=1, batch_size=64, verbose=0,
                               run_dir=str(tmp_path / "run"))
    training.run(cfg)
    with pytest.raises(FileExistsError, match="holds a finished run"):
        training.run(cfg)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_text(json.dumps(dataclasses.asdict(
        dataclasses.replace(cfg, seed=7, run_dir=str(unfinished)))))
    with pytest.raises(FileExistsError, match="differs in: seed"):
        training.run(dataclasses.replace(cfg, run_dir=str(unfinished)))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not an sdae-train run"):
        training.run(dataclasses.replace(cfg, run_dir=str(foreign)))
    assert (foreign / "mine.txt").read_text() == "x"


def test_divergence_stops_with_a_message_and_exports_nothing(tmp_path):
    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                 model_config={"hidden_units": (16, 8)}, pretrain_epochs=1,
                                 finetune_epochs=2, batch_size=32,
                               learning_rate=1e30, lr_schedule="constant", verbose=0,
                               run_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "exp"))
    with pytest.raises(checkpoints_lib.TrainingDivergedError,
                       match=r"finetune diverged at epoch 1, batch \d+: loss is (nan|inf)"):
        training.run(cfg)
    assert not (tmp_path / "exp").exists()
    assert not (tmp_path / "run" / "metrics.json").exists()
    # The completed pretraining stages are kept for a rerun with a sane rate.
    progress = json.loads((tmp_path / "run" / "progress.json").read_text())
    assert set(progress["stages"]) == {"pretrain_block_1", "pretrain_block_2"}
    assert (tmp_path / "run" / "checkpoints" / "pretrain_block_2.weights.h5").exists()


def test_tampered_export_fails_its_checksum(tmp_path, digits):
    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                 model_config={"hidden_units": (16, 8)}, pretrain_epochs=1,
                                 finetune_epochs=1, verbose=0,
                               run_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "exp"))
    training.run(cfg)
    export_lib.verify_checksums(tmp_path / "exp")
    data_file = next((tmp_path / "exp" / "variables").glob("variables.data-*"))
    blob = bytearray(data_file.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    data_file.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="variables.data-.* does not match manifest.json"):
        export_lib.verify_checksums(tmp_path / "exp")
    with pytest.raises(ValueError, match="variables.data-.* does not match manifest.json"):
        sdae_tf.feature_extractor(tmp_path / "exp")
    with pytest.raises(ValueError, match="variables.data-.* does not match manifest.json"):
        sdae_tf.denoiser(tmp_path / "exp")


def test_keras_file_with_a_lambda_layer_is_refused(tmp_path, digits):
    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                 model_config={"hidden_units": (16, 8)}, pretrain_epochs=1,
                                 finetune_epochs=1, verbose=0,
                               run_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "exp"))
    training.run(cfg)
    inputs = keras.Input((8, 8, 1))
    evil = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0)(
        keras.layers.Flatten()(inputs)))
    evil.save(tmp_path / "exp" / "encoder.keras")
    # The loaders refuse the swapped file by its checksum before Keras reads it ...
    with pytest.raises(ValueError, match="encoder.keras does not match manifest.json"):
        export_lib.load_encoder(tmp_path / "exp", trainable=True)
    with pytest.raises(ValueError, match="encoder.keras does not match manifest.json"):
        sdae_tf.feature_extractor(tmp_path / "exp", trainable=True)
    # ... and Keras' safe mode refuses its Lambda layer even without the check.
    with pytest.raises(ValueError, match="[Ll]ambda"):
        export_lib.load_encoder(tmp_path / "exp", trainable=True, verify=False)


def test_no_pickle_anywhere():
    offenders = []
    for path in [*REPO.glob("sdae_tf/**/*.py"), *REPO.glob("benchmarks/*.py")]:
        text = path.read_text()
        if "import pickle" in text or "allow_pickle=True" in text or "joblib" in text:
            offenders.append(str(path))
    assert not offenders


@pytest.mark.slow  # the main job run after run: the slow run's soak
def test_soak_five_runs_in_one_directory(tmp_path, monkeypatch):
    """The main job five times in a row from one working directory (quick, digits): five run
    directories, no temporary files or checkpoints left, each export replaced whole."""
    monkeypatch.chdir(tmp_path)
    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                                 model_config={"hidden_units": (32, 16)}, pretrain_epochs=1,
                                 finetune_epochs=1, verbose=0,
                               export_dir="exported", overwrite_export=True)
    run_dirs = [training.run(cfg)["run_dir"] for _ in range(5)]
    assert len(set(run_dirs)) == 5 and all(pathlib.Path(d).is_dir() for d in run_dirs)
    leftovers = [p for p in tmp_path.rglob("*")
                 if p.name.startswith((".tmp-", ".exported.partial-")) or p.name == "checkpoints"]
    assert not leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported", "runs"]
    export_lib.verify_checksums(tmp_path / "exported")
