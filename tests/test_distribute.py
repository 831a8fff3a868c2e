"""`--strategy`: training under tf.distribute. MirroredStrategy over two logical CPU devices
matches the single-device run of the same seed (dense, learned-sigma, VAE and conv families;
layer-wise pretraining and fine-tuning); multi_worker is refused with its reason."""

import json
import os
import subprocess
import sys

import pytest

from sdae_tf import distribute, training

SCRIPT = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from sdae_tf import training
out = {}
for model, hidden in [("sae_mnist", (64, 32)), ("sdae_learned_sigma_mnist", (64, 32)),
                      ("vae_mnist", None), ("cdae_mnist", None)]:
    for strategy in ("none", "mirrored"):
        cfg = training.TrainConfig(
            model=model, dataset="digits", hidden_units=hidden, head_units=64, batch_size=32,
            pretrain_epochs=2, pretrain_learning_rate=1e-2, finetune_epochs=2,
            learning_rate=3e-3, verbose=0, strategy=strategy,
            run_dir=os.path.join(sys.argv[1], f"{model}-{strategy}"))
        m = training.run(cfg)
        out[f"{model}/{strategy}"] = {
            "pretrain": [b["history"]["loss"] for b in m["pretrain"]],
            "finetune": m["finetune"]["history"]["loss"],
            "replicas": m.get("strategy", {}).get("replicas", 1)}
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirrored")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(root)], capture_output=True,
                          text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.parametrize("model, rtol", [
    # No noise: the two replicas' half-batch gradients sum to the full batch's, so the losses
    # agree to float rounding.
    ("sae_mnist", 2e-3),
    # Noise layers draw per replica (each half batch its own draw): same statistics, other
    # draws, so looser.
    ("sdae_learned_sigma_mnist", 2e-2),
    ("vae_mnist", 3e-2),
    ("cdae_mnist", 6e-2),  # first epoch of a conv net on 1257 images: the noisiest
])
def test_mirrored_matches_one_device(mirrored, model, rtol):
    one, two = mirrored[f"{model}/none"], mirrored[f"{model}/mirrored"]
    assert two["replicas"] == 2 and one["replicas"] == 1
    for a, b in zip(one["pretrain"], two["pretrain"], strict=True):
        assert b == pytest.approx(a, rel=rtol), (model, a, b)
    assert two["finetune"][0] == pytest.approx(one["finetune"][0], rel=max(rtol, 2e-2))
    assert two["finetune"][-1] < two["finetune"][0]  # and it trains


def test_strategy_is_validated():
    with pytest.raises(ValueError, match="strategy"):
        training.TrainConfig(strategy="tpu").validate()
    with pytest.raises(ValueError, match="keras-team/keras#20585"):
        distribute.make_strategy("multi_worker")


def test_is_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.is_chief()
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    for index, chief in ((0, True), (1, False)):
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        assert distribute.is_chief() is chief
