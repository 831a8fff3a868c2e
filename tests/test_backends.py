"""The zoo on Keras' JAX backend: every family passes the shared family test there, in a process
of their own (the backend is chosen before Keras is imported), and a family whose class declares
TensorFlow alone (`Family.BACKENDS`) would be refused in one line.
"""

import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO

# The shared family test (tests/family_test.py) on JAX, on real digits, as tests/test_models.py
# runs it on TensorFlow; prints one JSON line of what it saw.
SCRIPT = """
import json, sys, tempfile, pathlib
import keras
from sdae_tf import models
from sdae_tf.data import load_mnist
from tests.family_test import run_family_test
from tests.test_models import FAMILIES, FINETUNE

data = load_mnist("mnist", validation_size=1000, seed=0)
small = (data.x_train[:1024], data.y_train[:1024], data.x_test[:512], data.y_test[:512])
seen = {"backend": keras.backend.backend(), "accuracy": {}, "refused": {}}
class TensorFlowOnly(models.get("sdae_mnist").__class__):
    BACKENDS = ("tensorflow",)
try:
    TensorFlowOnly((28, 28, 1), hidden_units=(8,))
except ValueError as error:
    seen["refused"]["tensorflow_only"] = str(error)
for name in sys.argv[1].split(","):
    keras.utils.set_random_seed(0)
    try:
        model = models.get(name, seed=0, **FAMILIES[name])
    except ValueError as error:
        seen["refused"][name] = str(error)
        continue
    with tempfile.TemporaryDirectory() as tmp:
        seen["accuracy"][name] = run_family_test(model, small, pathlib.Path(tmp),
                                                 **FINETUNE.get(name, {}))
        # the clustering task on this backend: DEC's loop, its checkpoint and a .keras file
        spatial = len(model.code_model().output_shape) > 2
        clusterer = model.clusterer(10, projection="flatten" if spatial else None)
        record = clusterer.fit(small[0], small[1], max_batches=20, update_interval=10,
                               batch_size=128, verbose=0,
                               checkpoint_dir=pathlib.Path(tmp) / "ckpt").record
        clusterer.save(pathlib.Path(tmp) / "c.keras")
        again = keras.saving.load_model(pathlib.Path(tmp) / "c.keras")
        seen.setdefault("clustering", {})[name] = {
            **record["final"], "ids": sorted(set(clusterer.predict(small[0]).tolist())),
            "same_on_reload": bool((again.predict(small[0]) == clusterer.predict(small[0])).all())}
print(json.dumps(seen))
"""


def _on_jax(names):
    pytest.importorskip("jax")  # the `jax` extra (in `dev`, which CI installs)
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, ",".join(names)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_dense_stacks_train_on_jax_and_tf_only_families_are_refused():
    """The dense SDAE and the learned-sigma SDAE (its blocks' two optimizers in one stateless
    JAX step) pass the family test on JAX; a TensorFlow-only class is refused in one line."""
    seen = _on_jax(["sdae_mnist", "sdae_learned_sigma_mnist"])
    assert seen["backend"] == "jax"
    assert set(seen["accuracy"]) == {"sdae_mnist", "sdae_learned_sigma_mnist"}
    clustering = seen["clustering"]["sdae_mnist"]
    assert clustering["accuracy"] > 0.3 and len(clustering["ids"]) > 1
    assert clustering["same_on_reload"]
    assert "runs on the tensorflow backend only; this process uses jax" in \
        seen["refused"]["tensorflow_only"], seen["refused"]


@pytest.mark.slow
def test_every_other_family_declared_for_jax_trains_on_it():
    names = ["vae_mnist", "sdvae_mnist", "pixels_mnist", "cdae_mnist", "scdae_mnist",
             "resdae_mnist", "kpdae_mnist", "mae_mnist", "dvqvae_mnist"]
    seen = _on_jax(names)
    assert set(seen["accuracy"]) == set(names), seen


def test_the_backend_is_part_of_a_runs_identity(tmp_path):
    """`--backend` reaches KERAS_BACKEND before Keras is imported; a JAX run records its
    backend (config and metrics), and TensorFlow's identities stay as they were."""
    from sdae_tf.reproduce import experiments
    from sdae_tf.runner import config as config_lib
    from sdae_tf.runner import run_identity, training
    from sdae_tf.utils import process

    assert process.backend_from_argv(["--model=x", "--backend", "jax"]) == "jax"
    assert process.backend_from_argv(["--backend=jax", "--", "--backend=tensorflow"]) == "jax"
    assert process.backend_from_argv(["--", "--backend=jax"]) is None
    tf_run, jax_run = config_lib.TrainConfig(), config_lib.TrainConfig(backend="jax")
    assert config_lib.TrainConfig(backend="tensorflow").backend is None  # this process's
    assert "backend" not in run_identity.identity(tf_run)
    assert run_identity.identity(jax_run) == {"backend": "jax"}
    assert experiments.pool_key(tf_run) != experiments.pool_key(jax_run)
    assert run_identity.differences({}, {"backend": "jax"}) == ["backend"]
    with pytest.raises(ValueError, match="--backend=jax, and Keras runs on tensorflow"):
        training.run(config_lib.TrainConfig(backend="jax", dataset="digits",
                                            run_dir=str(tmp_path / "r")))
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_sdae_train_runs_on_jax_from_the_command_line(tmp_path):
    pytest.importorskip("jax")
    run_dir = tmp_path / "run"
    export = tmp_path / "export"
    args = ["--model=sdae_mnist", "--dataset=digits", "--quick", f"--run_dir={run_dir}",
            "--verbose=0", f"--export_dir={export}"]
    env = {**os.environ, "SDAE_TF_FAULT": "kill:done:pretrain_block_1"}
    killed = subprocess.run(["sdae-train", "--backend=jax", *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=900)
    assert killed.returncode != 0 and (run_dir / "progress.json").exists()
    # the same command on TensorFlow refuses to resume the JAX run, naming the backend
    other = subprocess.run(["sdae-train", *args], cwd=tmp_path, capture_output=True,
                           text=True, timeout=900)
    assert other.returncode != 0 and "backend" in other.stderr, other.stderr[-2000:]
    done = subprocess.run(["sdae-train", "--backend=jax", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Resuming" in done.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["backend"]["name"] == "jax" and 0 <= metrics["test_accuracy"] <= 1
    assert json.loads((run_dir / "config.json").read_text())["backend"] == "jax"
    # the JAX-trained export: checked against the JAX model's outputs, read by TensorFlow
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["export_check"]["reload_max_abs_diff"] <= 1e-4
    read = subprocess.run(
        [sys.executable, "-c", "import sys, numpy as np, sdae_tf; f = sdae_tf.feature_extractor("
         "sys.argv[1]); print(f(np.zeros((2, 8, 8, 1), 'float32')).shape)", str(export)],
        env={**os.environ, "KERAS_BACKEND": "tensorflow"}, capture_output=True, text=True,
        timeout=600)
    assert read.returncode == 0 and "(2, 1000)" in read.stdout, read.stderr[-2000:]


def test_every_tool_takes_backend_and_the_tools_load_together():
    """`--backend` is one flag in a process whichever tools' modules it imports."""
    import importlib

    from absl import flags

    for name in ("models", "report", "train", "tune", "experiment"):
        importlib.import_module(f"sdae_tf.cli.{name}")
    assert flags.FLAGS["backend"].parser.enum_values == ["tensorflow", "jax"]
