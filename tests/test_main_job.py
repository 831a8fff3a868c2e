"""The README's main job for real on MNIST (slow: about two minutes; `pytest -m slow`)."""

import pytest
from absl import flags
from absl.testing import flagsaver

from sdae_tf.cli import flags as train_flags
from sdae_tf.runner import training

from .conftest import REPO


@pytest.mark.slow
def test_main_job_accuracy_floor(tmp_path, monkeypatch):
    """The README's main job on the vendored MNIST: test accuracy 0.9795-0.9820 over seeds
    0-1 here (benchmarks/results/main_job.json); the floor sits just under that spread."""
    monkeypatch.chdir(REPO)
    with flagsaver.flagsaver():
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["sdae-train", "--flagfile=flags/models/sdae_mnist.flags", "--verbose=0",
                     f"--run_dir={tmp_path / 'run'}", f"--export_dir={tmp_path / 'export'}"])
        metrics = training.run(train_flags.config_from_flags())
    assert metrics["sizes"] == {"train": 50000, "val": 10000, "test": 10000}
    assert metrics["test_accuracy"] >= 0.978
    assert metrics["export"]["reload_max_abs_diff"] < 1e-5


@pytest.mark.slow
def test_main_job_on_jax(tmp_path):
    """The same command on Keras' JAX backend (`--backend=jax`): the same accuracy band
    (benchmarks/results/main_job_backends.json has both backends' figures), its export
    written by a TensorFlow subprocess and checked against the JAX model."""
    import json
    import subprocess

    pytest.importorskip("jax")
    run = subprocess.run(
        ["sdae-train", "--flagfile=flags/models/sdae_mnist.flags", "--backend=jax", "--verbose=0",
         f"--run_dir={tmp_path / 'run'}", f"--export_dir={tmp_path / 'export'}"],
        cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["backend"]["name"] == "jax"
    assert metrics["test_accuracy"] >= 0.978
    assert metrics["export"]["reload_max_abs_diff"] < 1e-4
