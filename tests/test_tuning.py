"""`sdae-tune`: search spaces, a search that finishes / resumes after SIGKILL / refuses another
search's directory, the tuner's callbacks forwarded, the best encoder exported, and keras-tuner's
distributed tuning with a chief and two workers on loopback."""

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import keras
import keras_tuner
import numpy as np
import pytest

from sdae_tf import models
from sdae_tf.hub import export as export_lib
from sdae_tf.integrations import tuning
from sdae_tf.runner import config as config_lib

from .conftest import REPO

BASE = dict(model="sdae_mnist", dataset="digits", model_config={"hidden_units": (48, 24)},
            pretrain_epochs=2,
            batch_size=64, verbose=0)


def _exe(name):
    exe = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    assert exe, f"{name} is not installed: pip install -e ."
    return exe


def _tune_argv(tune_dir, *extra):
    return [_exe("sdae-tune"), "--model=sdae_mnist", "--dataset=digits", "--hidden_units=48,24",
            "--pretrain_epochs=2", "--batch_size=64", "--verbose=0", "--tuner=random",
            "--tune_noise_level=0.1:0.7", "--probe_examples=400", f"--tune_dir={tune_dir}",
            *extra]


def _trial_status(tune_dir):
    out = {}
    for path in sorted(tune_dir.glob("trial_*/trial.json")):
        trial = json.loads(path.read_text())
        out[trial["trial_id"]] = trial
    return out


def test_parse_spec():
    assert tuning.parse_spec("0.1:0.8") == {"min": 0.1, "max": 0.8, "sampling": "linear"}
    assert tuning.parse_spec("1e-4:0.05:log")["sampling"] == "log"
    assert tuning.parse_spec("50,100", int) == {"values": [50, 100]}
    assert tuning.parse_spec("gaussian,masking", str) == {"values": ["gaussian", "masking"]}
    for bad, match in [("0.8:0.1", "lo must be below hi"), ("0:1:log", "log range"),
                       ("a:b", "could not convert"), ("1:2:3", "lo:hi or lo:hi:log"),
                       (",", "no values")]:
        with pytest.raises(ValueError, match=match):
            tuning.parse_spec(bad)


def test_hypermodel_maps_the_space_to_zoo_configs(digits):
    base = config_lib.TrainConfig(**{**BASE, "model": "sdae_learned_sigma_mnist"})
    space = tuning.SearchSpace(lambdas=tuning.parse_spec("1e-3:1e-1:log"),
                               floor=tuning.parse_spec("0.2,0.3"),
                               embedding_size=tuning.parse_spec("16,32", int))
    hm = tuning.ZooHyperModel(base, space, digits)
    hp = keras_tuner.HyperParameters()
    cfg = hm.config_for(hp)
    assert set(hp.values) == {"lambda_1", "lambda_2", "floor", "embedding_size"}
    assert cfg.model_config["hidden_units"] == (48, hp.values["embedding_size"])
    assert cfg.model_config["lambdas"] == (hp.values["lambda_1"], hp.values["lambda_2"])
    assert cfg.model_config["noise_level"] == hp.values["floor"]
    model = hm.build(hp)
    assert isinstance(model, models.ZooModel)
    assert model.encoder.output_shape == (None, hp.values["embedding_size"])
    assert model.floor == hp.values["floor"]
    with pytest.raises(ValueError, match="search space is empty"):
        tuning.ZooHyperModel(base, tuning.SearchSpace(), digits)
    with pytest.raises(ValueError, match="no unsupervised pretraining"):
        tuning.ZooHyperModel(config_lib.TrainConfig(model="nopretrain_mnist"), space, digits)
    # A value the family does not take fails when the trial is built, naming it.
    sdae = tuning.ZooHyperModel(config_lib.TrainConfig(**BASE),
                                tuning.SearchSpace(lambdas=tuning.parse_spec("0.1,0.2")), digits)
    with pytest.raises(ValueError, match="does not take lambdas"):
        sdae.build(keras_tuner.HyperParameters())


class _Recorder(keras.callbacks.Callback):
    seen = []  # keras-tuner deep-copies callbacks: record on the class

    def on_epoch_end(self, epoch, logs=None):
        _Recorder.seen.append((self.model.name, dict(logs)))


def test_search_forwards_callbacks_and_scores_every_epoch(digits, tmp_path):
    base = config_lib.TrainConfig(**BASE)
    space = tuning.SearchSpace(noise_level=tuning.parse_spec("0.2,0.5"))
    hm = tuning.ZooHyperModel(base, space, digits, objective="reconstruction",
                              probe_examples=400)
    tuner = tuning.make_tuner("random", hm, "reconstruction", tmp_path, "s", max_trials=2)
    _Recorder.seen.clear()
    tuner.search(callbacks=[_Recorder()], verbose=0)
    # Last block only: 2 epochs per trial, the zoo model as the callbacks' model.
    assert len(_Recorder.seen) == 4
    for model_name, logs in _Recorder.seen:
        assert model_name == "sdae_mnist"
        assert 0.0 < logs["val_probe_accuracy"] <= 1.0 and logs["val_reconstruction_loss"] > 0
    best = tuner.oracle.get_best_trials(1)[0]
    losses = [t.metrics.get_last_value("val_reconstruction_loss")
              for t in tuner.oracle.trials.values()]
    assert best.score == min(losses)  # objective "reconstruction" is minimised
    # The best model is the zoo model with the best epoch's weights (SaveBestEpoch checkpoint):
    # its encoder's probe scores what the trial recorded for that epoch.
    encoder = tuner.get_best_models(1)[0].encoder
    acc = tuning.probe.encoder_probe_accuracy(encoder, digits.x_train[:400], digits.y_train[:400],
                                              digits.x_val, digits.y_val)
    assert acc == pytest.approx(best.metrics.get_last_value("val_probe_accuracy"), abs=1e-9)


def test_search_runs_exports_and_refuses_another_search(digits, tmp_path, capsys):
    base = config_lib.TrainConfig(**BASE, export_dir=str(tmp_path / "best"))
    space = tuning.SearchSpace(noise_level=tuning.parse_spec("0.1:0.7"))
    tune_dir = tmp_path / "search"
    results = tuning.run_search(base, space, "random", "probe", tune_dir, max_trials=3,
                                probe_examples=400)
    assert results["trial_counts"] == {"COMPLETED": 3}
    scores = [r["score"] for r in results["best_trials"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    assert json.loads((tune_dir / "results.json").read_text())["best_trials"][0]["score"] \
        == scores[0]
    assert "| rank |" in (tune_dir / "results.md").read_text()
    # The best trial's encoder, exported like sdae-train does, loads and embeds.
    manifest = export_lib.load_manifest(tmp_path / "best")
    assert manifest["search"]["trial_id"] == results["best_trials"][0]["trial_id"]
    assert manifest["metrics"]["val_probe_accuracy"] == pytest.approx(scores[0])
    export_lib.verify_checksums(tmp_path / "best")
    layer = export_lib.load_encoder(tmp_path / "best")
    assert layer(digits.x_test[:5]).shape == (5, 24)
    # Run again with the same flags: nothing re-runs, same results.
    base = dataclasses.replace(base, export_dir=None)
    again = tuning.run_search(base, space, "random", "probe", tune_dir, max_trials=3,
                              probe_examples=400)
    assert again["best_trials"] == results["best_trials"]
    assert "Resuming the search" in capsys.readouterr().out
    # Another search in the same directory is refused and the finished one kept.
    other = tuning.SearchSpace(noise_level=tuning.parse_spec("0.2,0.3"))
    with pytest.raises(tuning.SearchConflictError, match="differs in: space.noise_level"):
        tuning.run_search(base, other, "random", "probe", tune_dir, max_trials=3,
                          probe_examples=400)
    assert (tune_dir / "results.json").exists() and len(_trial_status(tune_dir)) == 3
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(tuning.SearchConflictError, match="not an sdae-tune search"):
        tuning.run_search(base, other, "random", "probe", foreign, max_trials=1)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_search_killed_midway_resumes(tmp_path):
    """SIGKILL the CLI after its first trial completes; the same command finishes the search
    without re-running the completed trial."""
    tune_dir = tmp_path / "search"
    argv = _tune_argv(tune_dir, "--max_trials=3", "--pretrain_epochs=6")
    env = {**os.environ, "SDAE_TF_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        status = _trial_status(tune_dir)
        if any(t["status"] == "COMPLETED" for t in status.values()):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _trial_status(tune_dir)
    done = {k: v for k, v in before.items() if v["status"] == "COMPLETED"}
    assert 1 <= len(done) < 3
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Resuming the search" in result.stdout
    after = _trial_status(tune_dir)
    assert [t["status"] for t in after.values()] == ["COMPLETED"] * 3
    for trial_id, trial in done.items():  # completed trials kept as they were
        assert after[trial_id]["score"] == trial["score"]
        assert after[trial_id]["hyperparameters"] == trial["hyperparameters"]
    assert json.loads((tune_dir / "results.json").read_text())["trial_counts"] == \
        {"COMPLETED": 3}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # a chief and two worker processes, six trials
def test_distributed_chief_and_two_workers(tmp_path):
    tune_dir = tmp_path / "search"
    port = str(_free_port())
    procs = {}
    for tuner_id in ("chief", "tuner0", "tuner1"):
        env = {**os.environ, "SDAE_TF_CACHE": str(tmp_path / "cache"),
               "KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": "127.0.0.1",
               "KERASTUNER_ORACLE_PORT": port}
        procs[tuner_id] = subprocess.Popen(
            _tune_argv(tune_dir, "--max_trials=6", "--pretrain_epochs=4"), cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if tuner_id == "chief":
            time.sleep(2)
    outs = {}
    for tuner_id, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=420)
        finally:
            proc.kill()
        assert proc.returncode == 0, (tuner_id, err[-3000:])
        outs[tuner_id] = out
    # Each worker ran trials (a trial pretrains 2 blocks); the chief ran none but has results.
    ran = {t: outs[t].count("Pretraining block 1/2") for t in ("tuner0", "tuner1")}
    assert outs["chief"].count("Pretraining block") == 0
    assert all(n >= 1 for n in ran.values()) and sum(ran.values()) == 6, ran
    assert "Worker done." in outs["tuner0"] and "Worker done." in outs["tuner1"]
    results = json.loads((tune_dir / "results.json").read_text())
    assert results["trial_counts"] == {"COMPLETED": 6}
    assert np.isfinite(results["best_trials"][0]["score"])
