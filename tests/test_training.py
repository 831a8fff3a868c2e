"""The training loop end to end on the real 8x8 digits: accuracy floor, reproducibility,
run directory contents, export refusal."""

import dataclasses
import json
import os
import pathlib

import numpy as np
import pytest

from sdae_tf.runner import config as config_lib
from sdae_tf.runner import precision as precision_lib
from sdae_tf.runner import run_data, training
from sdae_tf.train import stages as stages_lib
from sdae_tf.utils import machine as machine_lib

# A tiny recipe that learns the 8x8 digits in a few seconds.
TINY = config_lib.TrainConfig(
    model="sdae_mnist", dataset="digits", model_config={"hidden_units": (256, 128)}, head_units=128,
    batch_size=32, pretrain_epochs=5, pretrain_learning_rate=1e-2, finetune_epochs=10,
    learning_rate=3e-3, verbose=0,
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    cfg = dataclasses.replace(TINY, run_dir=str(root / "run"), export_dir=str(root / "export"))
    return cfg, training.run(cfg)


def test_tiny_run_learns_the_digits(tiny_run):
    _, metrics = tiny_run
    assert metrics["test_accuracy"] >= 0.9
    first, second = metrics["pretrain"]
    for block in (first, second):
        losses = block["history"]["loss"]
        assert len(losses) == 5 and losses[-1] < losses[0]
    assert 1 <= metrics["finetune"]["best_epoch"] <= 10
    assert metrics["val_accuracy"] == max(metrics["finetune"]["history"]["val_accuracy"])


def test_run_directory_contents(tiny_run):
    cfg, metrics = tiny_run
    run_dir = metrics["run_dir"]
    saved = json.loads(open(f"{run_dir}/metrics.json").read())
    assert saved["test_accuracy"] == metrics["test_accuracy"]
    assert saved["threads"]["cpus"] == os.cpu_count()
    assert set(saved["threads"]) == {"intra_op", "inter_op", "cpus"}
    config = json.loads(open(f"{run_dir}/config.json").read())
    assert config["model"] == "sdae_mnist"
    assert config["model_config"] == {"hidden_units": [256, 128]}  # the model's arguments
    assert config_lib.from_record(config) == cfg
    tb = sorted(p.name for p in (pathlib.Path(run_dir) / "tensorboard").iterdir())
    assert tb == ["finetune", "pretrain_block_1", "pretrain_block_2"]
    assert metrics["export"]["reload_max_abs_diff"] < 1e-5
    manifest = json.loads(open(f"{cfg.export_dir}/manifest.json").read())
    assert manifest["model"] == "sdae_mnist" and manifest["dataset"] == "digits"
    assert manifest["input"] == {"name": "images", "shape": [8, 8, 1], "dtype": "float32",
                                 "range": [0.0, 1.0]}
    assert manifest["embedding_size"] == 128
    assert manifest["architecture"]["noise"] == {"type": "gaussian", "level": 0.4}
    assert manifest["metrics"]["test_accuracy"] == metrics["test_accuracy"]
    assert {"tensorflow", "keras", "sdae_tf"} <= set(manifest["versions"])


def test_thread_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    monkeypatch.delenv("TF_NUM_INTEROP_THREADS", raising=False)
    threads = machine_lib.thread_settings()
    assert threads["intra_op"] == 1 and threads["cpus"] == os.cpu_count()
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "junk")
    assert machine_lib.thread_settings()["intra_op"] is None


def test_same_seed_same_numbers(tmp_path):
    cfg = config_lib.replace(TINY, pretrain_epochs=1, finetune_epochs=2, hidden_units=(32, 16))
    a = training.run(dataclasses.replace(cfg, run_dir=str(tmp_path / "a")))
    b = training.run(dataclasses.replace(cfg, run_dir=str(tmp_path / "b")))
    c = training.run(dataclasses.replace(cfg, run_dir=str(tmp_path / "c"), seed=1))
    assert _histories(a) == _histories(b)
    assert a["finetune"]["history"] == b["finetune"]["history"]
    assert a["test_accuracy"] == b["test_accuracy"]
    assert a["finetune"]["history"] != c["finetune"]["history"]


def test_steps_per_execution_changes_speed_not_numbers(tmp_path, digits):
    # Several steps per compiled call (the default) train exactly what one step per call does:
    # same batches per epoch, same noise, same updates.
    default = stages_lib.Stage.pretraining(config_lib.TrainConfig())
    assert stages_lib.execution_steps(50000, default) == 23  # MNIST: 391 steps of 128 = 17 x 23
    assert stages_lib.execution_steps(10000, default) == 1  # 79 steps: prime, one per call
    assert stages_lib.execution_steps(
        50000, dataclasses.replace(default, steps_per_execution=1)) == 1
    assert stages_lib.execution_steps(50000, dataclasses.replace(default, strategy="mirrored")) == 1
    cfg = config_lib.replace(TINY, pretrain_epochs=2, finetune_epochs=2, hidden_units=(32, 16))
    assert stages_lib.execution_steps(len(digits.x_train), stages_lib.Stage.finetuning(cfg)) > 1
    many = training.run(dataclasses.replace(cfg, run_dir=str(tmp_path / "many")))
    one = training.run(dataclasses.replace(cfg, run_dir=str(tmp_path / "one"),
                                           steps_per_execution=1))
    for a, b in zip(_histories(many), _histories(one), strict=True):
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, err_msg=key)
    np.testing.assert_allclose(many["finetune"]["history"]["loss"],
                               one["finetune"]["history"]["loss"], rtol=1e-5)
    with pytest.raises(ValueError, match="steps_per_execution"):
        dataclasses.replace(TINY, steps_per_execution=0).validate()


def _histories(metrics):
    return [r["history"] for r in metrics["pretrain"]]


def test_no_pretraining_baseline_skips_pretraining(tmp_path):
    cfg = dataclasses.replace(TINY, model="nopretrain_mnist", finetune_epochs=1,
                              run_dir=str(tmp_path / "run"))
    metrics = training.run(cfg)
    assert "pretrain" not in metrics and "test_accuracy" in metrics


def test_existing_export_is_refused_before_training(tiny_run, tmp_path):
    cfg, _ = tiny_run
    before = sorted(p.name for p in pathlib.Path(cfg.export_dir).iterdir())
    with pytest.raises(FileExistsError, match="--overwrite_export"):
        training.run(dataclasses.replace(cfg, run_dir=str(tmp_path / "again")))
    assert not (tmp_path / "again").exists()  # nothing trained, no run directory made
    after = sorted(p.name for p in pathlib.Path(cfg.export_dir).iterdir())
    assert before == after


def test_non_empty_run_dir_is_refused(tiny_run):
    cfg, _ = tiny_run
    with pytest.raises(FileExistsError, match="holds a finished run"):
        training.run(dataclasses.replace(cfg, export_dir=None))


@pytest.mark.parametrize(
    "change, match",
    [({"model": "sdae"}, "Available"), ({"batch_size": 0}, "batch_size"),
     ({"learning_rate": 0.0}, "learning_rate"), ({"lr_schedule": "step"}, "lr_schedule"),
     ({"finetune_epochs": -1}, "finetune_epochs")],
)
def test_bad_config(change, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        training.run(dataclasses.replace(TINY, run_dir=str(tmp_path / "r"), **change))


def test_quick_shrinks_the_run(tmp_path):
    cfg = dataclasses.replace(TINY, quick=True, run_dir=str(tmp_path / "r"))
    metrics = training.run(cfg)
    assert all(len(r["history"]["loss"]) == 1 for r in metrics["pretrain"])
    assert len(metrics["finetune"]["history"]["loss"]) == 1
    assert metrics["sizes"]["train"] == min(run_data.QUICK_TRAIN_EXAMPLES, 1257)
    assert np.isfinite(metrics["test_loss"])


@pytest.mark.parametrize("model", ["sdae_mnist",
                                   pytest.param("cdae_mnist", marks=pytest.mark.slow)])
def test_mixed_bfloat16_learns_and_exports_float32(model, tmp_path):
    """--precision=mixed_bfloat16 trains in bfloat16 (float32 weights) to the float32 run's
    accuracy (dense: the 8x8 digits; conv: 3000 MNIST digits), restores Keras' float32 policy,
    and exports a float32 encoder that computes the trained features."""
    import keras

    from sdae_tf.hub import export as export_lib

    cfg = dataclasses.replace(TINY, model=model, pretrain_epochs=2, finetune_epochs=6)
    if model == "cdae_mnist":
        cfg = config_lib.replace(
            cfg, dataset="mnist", train_examples=3000, validation_size=500, hidden_units=None,
            head_units=128, batch_size=64, pretrain_epochs=2, finetune_epochs=4,
            learning_rate=1e-3, pretrain_learning_rate=1e-3)
    runs = {p: training.run(dataclasses.replace(cfg, precision=p, run_dir=str(tmp_path / p),
                                                export_dir=str(tmp_path / f"{p}-export")))
            for p in ("float32", "mixed_bfloat16")}
    assert keras.config.dtype_policy().name == "float32"
    fp32, bf16 = runs["float32"], runs["mixed_bfloat16"]
    assert bf16["test_accuracy"] >= 0.8
    assert abs(bf16["test_accuracy"] - fp32["test_accuracy"]) < 0.06
    # Pretraining losses follow the float32 run's within bfloat16's rounding.
    for a, b in zip(_histories(fp32), _histories(bf16), strict=True):
        np.testing.assert_allclose(a["loss"], b["loss"], rtol=0.05)
    # The export computes in float32 (SavedModel and .keras copy alike) and gives the trained
    # network's features: the same weights computing in bfloat16 agree up to its rounding.
    export_dir = tmp_path / "mixed_bfloat16-export"
    manifest = export_lib.load_manifest(export_dir)
    assert manifest["config"]["precision"] == "mixed_bfloat16"
    shape = tuple(manifest["input"]["shape"])
    images = np.random.default_rng(0).random((64, *shape), dtype=np.float32)
    served = np.asarray(export_lib.load_encoder(export_dir)(images))
    copy = export_lib.load_encoder(export_dir, trainable=True)
    assert served.dtype == np.float32 and copy.dtype_policy.name == "float32"
    np.testing.assert_allclose(served, np.asarray(copy(images)), atol=1e-5)
    with precision_lib.compute_precision("mixed_bfloat16"):
        trained = config_lib.build_model(cfg, shape).encoder
    trained.set_weights(copy.get_weights())
    in_bf16 = np.asarray(trained(images)).astype(np.float32)
    assert 0 < np.abs(served - in_bf16).max() < 0.05 * np.abs(served).max()
    assert keras.config.dtype_policy().name == "float32"


def test_mixed_precision_refusals(tmp_path):
    for change, match in [({"model": "vae_mnist"}, "float32 only"),
                          ({"figures": ("filters",)}, "--figures"),
                          ({"unsupervised_metrics": True}, "--unsupervised_metrics"),
                          ({"precision": "float16"}, "precision")]:
        cfg = dataclasses.replace(TINY, run_dir=str(tmp_path / "r"), **{
            "precision": "mixed_bfloat16", **change})
        with pytest.raises(ValueError, match=match):
            training.run(cfg)
        assert not (tmp_path / "r").exists()


def test_a_stage_traces_its_train_step_once(digits):
    """The optimizer is built before `fit` (Keras builds it inside the first traced step,
    and `tf.function` then traces that step a second time); a model whose optimizer is built
    still trains: its slots move."""
    import keras

    from sdae_tf.train import stages

    traces = []

    class Counting(keras.Model):
        def train_step(self, data):
            traces.append(1)  # Python runs once per trace
            return super().train_step(data)

    x = digits.x_train[:256].reshape(256, -1)
    inputs = keras.Input((x.shape[1],))
    model = Counting(inputs, keras.layers.Dense(x.shape[1], activation="sigmoid")(inputs))
    settings = stages.Stage(epochs=2, batch_size=64, verbose=0)
    model.compile(optimizer=stages.make_optimizer(1e-2, "constant", 8, 0.0),
                  loss="binary_crossentropy", steps_per_execution=2)
    logs, _ = stages.fit_stage(model, x, None, None, settings, "stage", seed=0)
    assert len(traces) == 1
    assert logs[1]["loss"] < logs[0]["loss"]
    slots = [v for v in model.optimizer.variables if "momentum" in v.name]
    assert slots and all(np.abs(np.asarray(v)).max() > 0 for v in slots)


def test_bfloat16_on_a_cpu_without_it_is_warned_about():
    from sdae_tf.runner.precision import bfloat16_warning

    avx2 = ["sse4_2", "avx", "avx2", "fma"]
    assert "many times slower" in bfloat16_warning("mixed_bfloat16", avx2)
    assert bfloat16_warning("mixed_bfloat16", [*avx2, "avx512f", "avx512_bf16"]) is None
    assert bfloat16_warning("mixed_bfloat16", [*avx2, "amx_bf16"]) is None
    assert bfloat16_warning("float32", avx2) is None
    assert bfloat16_warning("mixed_bfloat16", []) is None  # no flags to read: no claim
