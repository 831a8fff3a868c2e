"""`--strategy`: training on several devices. On TensorFlow, MirroredStrategy over two logical
CPU devices and MultiWorkerMirroredStrategy over two worker processes on loopback; on JAX,
keras.distribution's DataParallel over two host devices: each matches the single-device run of
the same seed (dense, learned-sigma, VAE and conv families; layer-wise pretraining and
fine-tuning)."""

import json
import os
import socket
import subprocess
import sys

import pytest

from sdae_tf.runner import config as config_lib
from sdae_tf.runner import training
from sdae_tf.train import distribute

# argv: run root, strategies, models (comma-separated). Two logical CPU devices unless
# multi_worker (one device per worker process).
SCRIPT = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
strategies, models = sys.argv[2].split(","), sys.argv[3].split(",")
if "multi_worker" not in strategies:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import training
HIDDEN = {"sae_mnist": (64, 32), "sdae_learned_sigma_mnist": (64, 32)}
out = {}
for model in models:
    hidden = HIDDEN.get(model)
    for strategy in strategies:
        cfg = config_lib.TrainConfig(
            model=model, dataset="digits", model_config={"hidden_units": hidden}, head_units=64,
            batch_size=32,
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


# The default run covers the dense stack; the custom train_step of the learned-sigma blocks, the
# VAE and conv families run in the slow tests (the subprocess takes about a minute for all).
DEFAULT_MODELS = "sae_mnist"
SLOW_MODELS = "sdae_learned_sigma_mnist,vae_mnist,cdae_mnist"
MULTI_WORKER_MODELS = "sae_mnist,sdae_learned_sigma_mnist"


def _result(stdout):
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def _mirrored_runs(root, models, env=None):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(root), "none,mirrored", models],
                          capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _result(proc.stdout)


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    return _mirrored_runs(tmp_path_factory.mktemp("mirrored"), DEFAULT_MODELS)


@pytest.fixture(scope="module")
def mirrored_more(tmp_path_factory):
    return _mirrored_runs(tmp_path_factory.mktemp("mirrored_more"), SLOW_MODELS)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def multi_worker(tmp_path_factory):
    """Two worker processes on loopback, each with its TF_CONFIG, the same command."""
    roots = [tmp_path_factory.mktemp(f"worker{i}") for i in range(2)]
    cluster = {"worker": [f"localhost:{p}" for p in _free_ports(2)]}
    procs = []
    for index, root in enumerate(roots):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        procs.append(subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(root), "multi_worker", MULTI_WORKER_MODELS],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": json.dumps(config)}))
    try:
        finished = [proc.communicate(timeout=600) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()  # a worker left waiting on its peer
    for proc, (_, stderr) in zip(procs, finished, strict=True):
        assert proc.returncode == 0, stderr[-3000:]
    return [_result(stdout) for stdout, _ in finished], roots


def test_mirrored_strategy_in_process_matches_no_strategy(tmp_path):
    """The default run's cover of `--strategy`: MirroredStrategy over this process's one CPU
    device goes through the strategy's scope and distributed datasets, records its replica,
    and with one replica does the same arithmetic as no strategy: the same losses, bit for bit.
    Two replicas (two logical devices, set before TensorFlow starts: a subprocess) are the slow
    test below."""
    runs = {}
    for strategy in ("none", "mirrored"):
        cfg = config_lib.TrainConfig(
            model="sae_mnist", dataset="digits", model_config={"hidden_units": (64, 32)},
            head_units=64,
            batch_size=32, pretrain_epochs=1, pretrain_learning_rate=1e-2, finetune_epochs=1,
            learning_rate=3e-3, verbose=0, strategy=strategy,
            run_dir=str(tmp_path / strategy))
        runs[strategy] = training.run(cfg)
    one, mirrored = runs["none"], runs["mirrored"]
    assert mirrored["strategy"] == {"name": "mirrored", "replicas": 1} and "strategy" not in one
    assert ([b["history"]["loss"] for b in mirrored["pretrain"]]
            == [b["history"]["loss"] for b in one["pretrain"]])
    assert mirrored["finetune"]["history"]["loss"] == one["finetune"]["history"]["loss"]


@pytest.mark.slow  # a fresh process with two logical devices: about 20 s
def test_mirrored_matches_one_device(mirrored):
    # No noise: the two replicas' half-batch gradients sum to the full batch's, so the losses
    # agree to float rounding.
    _check_mirrored(mirrored, "sae_mnist", 2e-3)


@pytest.mark.slow
@pytest.mark.parametrize("model, rtol", [
    # Noise layers draw per replica (each half batch its own draw): same statistics, other
    # draws, so looser.
    ("sdae_learned_sigma_mnist", 2e-2),
    ("vae_mnist", 3e-2),
    ("cdae_mnist", 6e-2),  # first epoch of a conv net on 1257 images: the noisiest
])
def test_mirrored_matches_one_device_noisy_families(mirrored_more, model, rtol):
    _check_mirrored(mirrored_more, model, rtol)


def _check_mirrored(runs, model, rtol):
    one, two = runs[f"{model}/none"], runs[f"{model}/mirrored"]
    assert two["replicas"] == 2 and one["replicas"] == 1
    for a, b in zip(one["pretrain"], two["pretrain"], strict=True):
        assert b == pytest.approx(a, rel=rtol), (model, a, b)
    assert two["finetune"][0] == pytest.approx(one["finetune"][0], rel=max(rtol, 2e-2))
    assert two["finetune"][-1] < two["finetune"][0]  # and it trains


@pytest.mark.slow  # two worker processes and a one-device run: about a minute
@pytest.mark.parametrize("model, rtol", [("sae_mnist", 2e-3), ("sdae_learned_sigma_mnist", 2e-2)])
def test_multi_worker_matches_one_device(multi_worker, mirrored, mirrored_more, model, rtol):
    (chief, other), roots = multi_worker
    one, two = {**mirrored, **mirrored_more}[f"{model}/none"], chief[f"{model}/multi_worker"]
    assert two["replicas"] == 2
    assert other[f"{model}/multi_worker"] == two  # the workers train one synchronised model
    for a, b in zip(one["pretrain"], two["pretrain"], strict=True):
        assert b == pytest.approx(a, rel=rtol), (model, a, b)
    assert two["finetune"][0] == pytest.approx(one["finetune"][0], rel=max(rtol, 2e-2))
    assert two["finetune"][-1] < two["finetune"][0]
    # Only the chief writes its run directory; the other worker's goes to a temporary one.
    assert (roots[0] / f"{model}-multi_worker" / "metrics.json").exists()
    assert not (roots[1] / f"{model}-multi_worker").exists()


def test_strategy_is_validated(monkeypatch):
    with pytest.raises(ValueError, match="strategy"):
        config_lib.TrainConfig(strategy="tpu").validate()
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribute.make_strategy("multi_worker")


JAX_TWO_DEVICES = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}

# A plain Keras model on JAX under `--strategy=mirrored` (keras.distribution over two host
# devices) and on one device: 101 examples at batch 32 end in a batch of 5, which Keras alone
# refuses to shard; dropout draws the same numbers either way.
JAX_PROBE = r"""
import json, keras, numpy as np
from sdae_tf.train import distribute
out = {}
for name in ("none", "mirrored"):
    strategy = distribute.JaxDataParallel.make(name)
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dropout(0.3, seed=1),
                                  keras.layers.Dense(4), keras.layers.Dense(1)])
        model.compile("adam", "mse")
        x = np.random.default_rng(0).random((101, 8)).astype("float32")
        history = model.fit(x, 2 * x[:, :1], batch_size=32, epochs=3, verbose=0, shuffle=False,
                            validation_data=(x[:51], x[:51, :1]))
        kernel = model.layers[-2].kernel.value
        out[name] = {"loss": history.history["loss"], "val": history.history["val_loss"],
                     "predict": model.predict(x, batch_size=32, verbose=0).ravel().tolist(),
                     "replicas": strategy.num_replicas_in_sync,
                     "devices": len(kernel.sharding.device_set)}
print("RESULT " + json.dumps(out))
"""


def test_jax_mirrored_splits_batches_over_two_devices_with_one_device_numbers():
    pytest.importorskip("jax")
    proc = subprocess.run([sys.executable, "-c", JAX_PROBE], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **JAX_TWO_DEVICES})
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = _result(proc.stdout)
    one, two = runs["none"], runs["mirrored"]
    assert (one["replicas"], two["replicas"], two["devices"]) == (1, 2, 2)
    assert len(two["predict"]) == 101  # the partial batches are neither dropped nor padded
    for key in ("loss", "val", "predict"):
        assert two[key] == pytest.approx(one[key], rel=1e-5, abs=1e-6), key
    assert one["loss"][-1] < one["loss"][0]


def test_multi_worker_is_tensorflows():
    pytest.importorskip("jax")
    assert distribute.JaxDataParallel.make("none").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="--strategy=multi_worker runs on the tensorflow"):
        distribute.JaxDataParallel.make("multi_worker")


@pytest.fixture(scope="module")
def jax_mirrored(tmp_path_factory):
    pytest.importorskip("jax")
    return _mirrored_runs(tmp_path_factory.mktemp("jax_mirrored"),
                          f"{DEFAULT_MODELS},{SLOW_MODELS}", env=JAX_TWO_DEVICES)


@pytest.mark.slow  # a JAX process with two host devices, four families: about 80 s
@pytest.mark.parametrize("model", ["sae_mnist", *SLOW_MODELS.split(",")])
def test_jax_mirrored_matches_one_device(jax_mirrored, model):
    # keras.distribution shards one global computation: the noise draws are the one-device
    # run's, so the losses agree to float rounding in every family.
    _check_mirrored(jax_mirrored, model, 1e-3)


def test_is_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.is_chief()
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    for index, chief in ((0, True), (1, False)):
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        assert distribute.is_chief() is chief
