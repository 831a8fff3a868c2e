"""The zoo on Keras' JAX backend: the families the base class declares for it
(`Family.BACKENDS`) pass the shared family test there, in a process of their own (the backend is
chosen before Keras is imported), and the ones declared TensorFlow-only are refused in one line.
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
print(json.dumps(seen))
"""


def _on_jax(names):
    pytest.importorskip("jax")  # the `jax` extra (in `dev`, which CI installs)
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, ",".join(names)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_dense_stack_trains_on_jax_and_tf_only_families_are_refused():
    seen = _on_jax(["sdae_mnist", "sdae_learned_sigma_mnist", "dvqvae_mnist"])
    assert seen["backend"] == "jax"
    assert set(seen["accuracy"]) == {"sdae_mnist"}
    for name in ("sdae_learned_sigma_mnist", "dvqvae_mnist"):
        assert "runs on the tensorflow backend only; this process uses jax" in \
            seen["refused"][name], seen["refused"]


@pytest.mark.slow
def test_every_other_family_declared_for_jax_trains_on_it():
    names = ["vae_mnist", "sdvae_mnist", "pixels_mnist", "cdae_mnist", "scdae_mnist",
             "resdae_mnist", "kpdae_mnist", "mae_mnist"]
    seen = _on_jax(names)
    assert set(seen["accuracy"]) == set(names), seen
