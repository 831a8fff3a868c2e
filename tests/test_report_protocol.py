"""The report's own terms: its construction of the MNIST variants (pinned against an
independent construction), PyTorch-style weight decay, the MSE reconstruction option and the
report protocol (all training data, test accuracy after the last epoch)."""

import dataclasses
import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from sdae_tf import zoo
from sdae_tf.data import load_dataset, load_mnist
from sdae_tf.data import mnist as mnist_lib
from sdae_tf.optimizers import FusedAdam
from sdae_tf.reproduce import experiments, report
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import run_dir as run_dir_lib
from sdae_tf.runner import training
from sdae_tf.train import stages as stages_lib

N = 3000  # test images used to pin the construction's statistics


@pytest.fixture(scope="module")
def test_images():
    return mnist_lib.load_raw()[2][:N]


def _independent_spline_rotation(images, angles):
    """The same rotation written out from its definition: each output pixel samples the input
    at the inverse-rotated position about the centre, cubic spline (order 3), zero outside."""
    out = np.empty_like(images)
    centre = (np.array(images.shape[1:]) - 1) / 2.0
    for i, (image, angle) in enumerate(zip(images, angles, strict=True)):
        t = np.deg2rad(angle)
        matrix = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
        offset = centre - matrix @ centre
        rotated = ndimage.affine_transform(image.astype(np.float64), matrix, offset=offset,
                                           order=3, mode="constant", cval=0.0)
        out[i] = np.clip(np.rint(rotated), 0, 255)
    return out


def test_spline_rotation_matches_an_independent_construction(test_images):
    angles = np.random.default_rng(0).uniform(0, 360, size=200)
    ours = mnist_lib.rotate_spline(test_images[:200], angles)
    theirs = _independent_spline_rotation(test_images[:200], angles)
    # Same interpolation, same grid: equal up to rounding at .5 boundaries.
    assert np.mean(ours != theirs) < 0.002
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_report_construction_statistics(test_images):
    """The shares the report's construction is known by (report_protocol.md, measured there on
    the first 5k test images): about 27 % of pixels survive the fill after a spline rotation
    against 24 % after a bilinear one and 18 % unrotated, and the dark outline (pixels in
    1..31 after the fill) is 0.187 against 0.147."""
    shares = {}
    for construction in ("report", "bilinear"):
        rot = mnist_lib.make_variant(test_images, "rot", [0, 1], construction)
        full = mnist_lib.make_variant(test_images, "bg_rand_rot", [0, 1], construction)
        shares[construction] = ((rot > 0).mean(), ((full >= 1) & (full <= 31)).mean())
        # Rotation comes before the fill: every pixel the rotation kept is unchanged.
        kept = rot > 0
        np.testing.assert_array_equal(full[kept], rot[kept])
    assert 0.26 < shares["report"][0] < 0.29 and 0.23 < shares["bilinear"][0] < 0.255
    assert 0.175 < shares["report"][1] < 0.20 and 0.135 < shares["bilinear"][1] < 0.16
    assert 0.17 < (test_images > 0).mean() < 0.19
    # The independent rotation, filled the same way, keeps the same share.
    angles = np.random.default_rng([0, 1]).uniform(0.0, 360.0, size=len(test_images))
    independent = _independent_spline_rotation(test_images, angles)
    assert abs((independent > 0).mean() - shares["report"][0]) < 0.002


def test_report_variants_are_min_max_scaled_and_bilinear_kept(test_images, tmp_path):
    rotated = mnist_lib.make_variant(test_images[:500], "rot", 0)
    scaled = mnist_lib.minmax_scale(rotated)
    assert scaled.shape == (500, 28, 28, 1) and scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled.min(axis=(1, 2, 3)), 0.0)
    np.testing.assert_array_equal(scaled.max(axis=(1, 2, 3)), 1.0)
    np.testing.assert_array_equal(mnist_lib.minmax_scale(np.full((1, 2, 2), 7, np.uint8)), 0.0)
    # Both constructions load side by side, each cached under its own name.
    report = load_mnist("bg_rand", validation_size=1000, cache_dir=tmp_path)
    bilinear = load_mnist("bg_rand", validation_size=1000, cache_dir=tmp_path,
                          construction="bilinear")
    np.testing.assert_array_equal(report.x_test.min(axis=(1, 2, 3)), 0.0)
    np.testing.assert_array_equal(report.x_test.max(axis=(1, 2, 3)), 1.0)
    assert bilinear.x_test.min(axis=(1, 2, 3)).max() > 0.0  # divided by 255 only
    names = sorted(p.name.split("_seed")[0] for p in tmp_path.glob("*.npz"))
    assert names == ["mnist_bg_rand_bilinear", "mnist_bg_rand_report"]
    # Plain MNIST is the same under both constructions.
    np.testing.assert_array_equal(
        load_mnist("mnist", validation_size=1000).x_test,
        load_mnist("mnist", validation_size=1000, construction="bilinear").x_test)


def test_unknown_construction_is_refused():
    with pytest.raises(ValueError, match="construction 'spline'. Available: report, bilinear"):
        load_dataset("mnist_rot", construction="spline")


def test_l2_weight_decay_is_added_to_the_gradient():
    """PyTorch Adam's weight_decay: Adam on g + wd * w, step by step (checked against Keras'
    Adam fed that gradient by hand)."""
    wd = 0.1
    rng = np.random.default_rng(0)
    init = [rng.normal(size=s).astype("float32") for s in [(4, 3), (3,)]]
    ours, ref = [keras.Variable(v) for v in init], [keras.Variable(v) for v in init]
    fused, plain = FusedAdam(0.01, l2_weight_decay=wd), keras.optimizers.Adam(0.01)
    for step in range(4):
        grads = [tf.constant(np.random.default_rng(step).normal(size=v.shape).astype("float32"))
                 for v in init]
        fused.apply(grads, ours)
        plain.apply([g + wd * v.value for g, v in zip(grads, ref, strict=True)], ref)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    undecayed = [keras.Variable(v) for v in init]
    FusedAdam(0.01).apply([tf.zeros_like(v) for v in init], undecayed)
    assert not np.allclose(ours[0].numpy(), undecayed[0].numpy())
    config = fused.get_config()
    assert config["l2_weight_decay"] == wd
    assert FusedAdam.from_config(config).l2_weight_decay == wd
    with pytest.raises(ValueError, match="l2_weight_decay"):
        FusedAdam(0.01, l2_weight_decay=-1.0)


@pytest.mark.parametrize("model, block_loss", [
    ("sdae_mnist", "mean_squared_error"), ("cae_mnist", "mean_squared_error"),
    ("sdae_learned_sigma_mnist", "mean_squared_error"), ("vae_mnist", "summed_mse")])
def test_recon_loss_mse(model, block_loss):
    stack = zoo.build(model, (28, 28, 1), recon_loss="mse")
    loss = stack.block_loss(0)
    assert (loss if isinstance(loss, str) else loss.__name__) == block_loss
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    y = np.clip(x + 0.1, 0, 1)
    value = keras.losses.get(loss)(x, y) if isinstance(loss, str) else loss(x, y)
    per_example = np.asarray(value).reshape(4, -1).mean(axis=1)
    expected = ((x - y) ** 2).reshape(4, -1)
    expected = expected.sum(axis=1) if model == "vae_mnist" else expected.mean(axis=1)
    np.testing.assert_allclose(per_example if model == "vae_mnist" else per_example.mean(),
                               expected if model == "vae_mnist" else expected.mean(),
                               rtol=1e-5)
    assert zoo.build(model, (28, 28, 1)).block_loss(0) != loss  # BCE stays the default


@pytest.mark.parametrize("change, match", [
    ({"protocol": "paper"}, "`protocol` must be one of validation, report"),
    ({"variant_construction": "spline"}, "`variant_construction` must be one of report, "
                                         "bilinear"),
    ({"weight_decay": -1e-7}, "`weight_decay` must be >= 0"),
    ({"model_config": {"recon_loss": "l1"}}, "`recon_loss` must be one of bce, mse"),
])
def test_bad_report_settings_are_refused_before_training(change, match, tmp_path):
    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="digits",
                               run_dir=str(tmp_path / "r"), **change)
    with pytest.raises(ValueError, match=match):
        training.run(cfg)
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_report_protocol_trains_on_everything_and_reports_the_last_epoch(tmp_path):
    cfg = config_lib.TrainConfig(
        model="sdae_mnist", dataset="digits",
        model_config={"hidden_units": (64,), "recon_loss": "mse"}, head_units=64, batch_size=64,
        pretrain_epochs=1, pretrain_learning_rate=1e-2, finetune_epochs=3, learning_rate=5e-3,
        protocol="report", weight_decay=1e-4, lr_schedule="constant",
        run_dir=str(tmp_path / "r"), verbose=0)
    metrics = training.run(cfg)
    digits = load_dataset("digits")
    assert metrics["sizes"]["train"] == len(digits.x_train) + len(digits.x_val)
    assert metrics["protocol"] == "report" and "val_accuracy" not in metrics
    ft = metrics["finetune"]
    assert ft["final_epoch"] == 3 and "best_epoch" not in ft
    curve = ft["history"]["test_accuracy"]
    assert len(curve) == 3 and "val_accuracy" not in ft["history"]
    # The reported number is the last epoch's test accuracy, not the best one.
    assert metrics["test_accuracy"] == pytest.approx(curve[-1], abs=1e-6)
    assert "test_loss" in metrics["pretrain"][0]["history"]
    assert metrics["architecture"]["loss"] == "mean_squared_error"
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["protocol"] == "report" and saved["weight_decay"] == 1e-4


def test_pool_key_leaves_out_defaults_and_resume_accepts_new_fields(tmp_path):
    base = config_lib.TrainConfig(model="sdae_mnist", dataset="digits")
    assert experiments.pool_key(base) == experiments.pool_key(
        dataclasses.replace(base, weight_decay=0.0, steps_per_execution=4))
    assert experiments.pool_key(base) != experiments.pool_key(
        dataclasses.replace(base, weight_decay=1e-7))
    assert experiments.pool_key(base) != experiments.pool_key(
        dataclasses.replace(base, variant_construction="bilinear"))
    # An unfinished run written before a field existed resumes when the field is at its default.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    old = dataclasses.asdict(base)
    del old["weight_decay"], old["model_config"]
    (run_dir / "config.json").write_text(json.dumps(old))
    assert run_dir_lib.prepare_run_dir(run_dir, dataclasses.asdict(base)) == (run_dir, True)
    with pytest.raises(FileExistsError, match="differs in: weight_decay"):
        run_dir_lib.prepare_run_dir(run_dir, dataclasses.asdict(
            dataclasses.replace(base, weight_decay=1e-7)))


def test_a_pretraining_only_cell_is_the_pretraining_a_fine_tuned_cell_shares(tmp_path):
    """Fine-tuning settings change nothing in a run that does not fine-tune: a k-means cell
    (no fine-tuning) and a fine-tuned cell's shared pretraining are one run in the pool."""
    cell = config_lib.TrainConfig(model="cdae_mnist", learning_rate=2e-3, head_units=64)
    kmeans = dataclasses.replace(cell, finetune_epochs=0)
    fine_tuned, pre = experiments.with_shared_pretraining(cell, tmp_path)
    assert experiments.pool_dir_for(kmeans, tmp_path) == experiments.pool_dir_for(pre, tmp_path)
    assert fine_tuned.init_from == str(experiments.pool_dir_for(kmeans, tmp_path))
    transfer = dataclasses.replace(cell, dataset="mnist_bg_rand_rot", pretrain_dataset="mnist")
    assert experiments.with_shared_pretraining(transfer, tmp_path)[0].init_from == \
        fine_tuned.init_from  # pretrained on the model's own dataset, named or not
    assert experiments.pool_key(kmeans) != experiments.pool_key(
        dataclasses.replace(kmeans, pretrain_learning_rate=2e-3))
    assert experiments.pool_key(cell) != experiments.pool_key(
        dataclasses.replace(cell, learning_rate=1e-3))  # a fine-tuned run: they count
    # and the run folder of one resumes as the other's
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(kmeans), default=str))
    assert run_dir_lib.prepare_run_dir(run_dir, dataclasses.asdict(pre)) == (run_dir, True)


def test_run_spec_takes_the_report_settings():
    spec = experiments.parse_run("vae/mnist: model=vae_mnist recon_loss=mse weight_decay=1e-7 "
                                 "protocol=report variant_construction=bilinear")
    values = experiments._resolve(spec, {})
    assert values == {"model": "vae_mnist", "recon_loss": "mse", "weight_decay": 1e-7,
                      "protocol": "report", "variant_construction": "bilinear"}


def test_report_tables_reads_finished_and_unfinished_cells(tmp_path, monkeypatch):
    """benchmarks/report_tables.py finds every cell of a report flagfile in the run pool: the
    finished ones with their test accuracy and per-epoch curve, the others with their status."""
    from sdae_tf.train.checkpoints import write_json_atomic

    from .conftest import REPO

    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import report_tables

    base, specs, item = report_tables.parse_flagfile("table2_report", ["--quick"])
    assert item == "table2" and base.protocol == "report" and base.weight_decay == 1e-7
    assert base.variant_construction == "report" and base.lr_schedule == "constant"
    pool = tmp_path / "pool"
    monkeypatch.setattr(report_tables, "LEDGER", tmp_path / "ledger.jsonl")
    record = experiments.run_experiment("table2_report", base, specs[:1],
                                        out_dir=tmp_path / "exp", pool_dir=str(pool),
                                        ledger=tmp_path / "ledger.jsonl")
    got = report_tables.collect("table2_report", str(pool), ["--quick"])
    cells = {f"{c['column']}/{c['row']}": c for c in got["cells"]}
    assert list(cells) == [s.name for s in specs]
    for run in record["runs"]:
        cell = cells[f"{run['column']}/{run['row']}"]
        assert cell["status"] == "finished" and cell["run_dir"] == run["run_dir"]
        assert cell["test_accuracy"] == run["test_accuracy"]
        assert list(cell["curve"].values())[-1] == round(run["test_accuracy"], 4)
        assert cell["report"] == report.report_value("table2", run["column"], run["row"])
    assert cells["sdvae/mnist_bg_rand_rot"]["status"] == "not started"
    # A run stopped in its first pretraining epoch: the status names the stage and epoch.
    vae_mse = cells["vae_mse/mnist_bg_rand_rot"]
    pretrain_dir = pathlib.Path(vae_mse["pretrain_run"])
    ckpt = pretrain_dir / "checkpoints" / "pretrain_block_1"
    ckpt.mkdir(parents=True)
    write_json_atomic(ckpt / "latest.json", {"epoch": 1, "logs": [{"loss": 1.0}]})
    # A run stopped in fine-tuning: its curve so far comes from the checkpoint's val_accuracy,
    # which under the report protocol is the test accuracy.
    sdvae = cells["sdvae/mnist_bg_rand_rot"]
    ckpt = pathlib.Path(sdvae["run_dir"]) / "checkpoints" / "finetune"
    ckpt.mkdir(parents=True)
    write_json_atomic(ckpt / "latest.json", {"epoch": 3, "logs": [
        {"loss": 1.0, "val_accuracy": acc} for acc in (0.5, 0.6, 0.65)]})
    again = report_tables.collect("table2_report", str(pool), ["--quick"])
    assert again["cells"][3]["status"] == "pretraining (pretrain block 1: epoch 1/100)"
    stopped = {f"{c['column']}/{c['row']}": c for c in again["cells"]}["sdvae/mnist_bg_rand_rot"]
    total = stopped["budget"]["finetune_epochs"]
    assert stopped["status"] == f"finetune: epoch 3/{total}" and stopped["test_accuracy"] is None
    assert stopped["curve"] == {2: 0.6, 3: 0.65}
    lines = report_tables.table_lines(again)
    assert lines[0].startswith("### Table 2") and len(lines) == 2 + 2 + len(specs) + 1
    assert "| ours, report protocol (seed 0) |" in lines[2]
    # Our recipes' flagfiles run at the validation protocol, and their tables say so.
    ours = report_tables.collect("table2_ours", str(pool), ["--quick"], validation=False)
    assert "| ours, validation protocol (seed 0) |" in report_tables.table_lines(ours)[2]
    # Seeds: a cell run with two seeds shows their mean and spread; one seed shows none.
    one = report_tables.collect_seeds("table2_report", str(pool), ["--quick"], seeds=(0, 1))
    assert one["cells"][0]["seeds"] == {0: record["runs"][0]["test_accuracy"], 1: None}
    assert "mean" not in one["cells"][0]
    experiments.run_experiment("table2_report", dataclasses.replace(base, seed=1), specs[:1],
                               out_dir=tmp_path / "exp1", pool_dir=str(pool))
    two = report_tables.collect_seeds("table2_report", str(pool), ["--quick"], seeds=(0, 1))
    accs = list(two["cells"][0]["seeds"].values())
    assert None not in accs and two["cells"][0]["mean"] == pytest.approx(sum(accs) / 2)
    assert two["cells"][0]["spread"] == pytest.approx(max(accs) - min(accs))
    assert "seeds 0, 1" in "\n".join(report_tables.table_lines(two))
    # The pool lost (a new machine): the finished cell is read from the committed ledger.
    import shutil

    lost = pathlib.Path(record["runs"][0]["run_dir"])
    shutil.rmtree(lost)
    shutil.rmtree(pathlib.Path(record["runs"][0]["pretrain_run"]))
    after = report_tables.collect("table2_report", str(pool), ["--quick"])["cells"][0]
    assert after["status"] == "finished" and after["run_dir"] == str(lost)
    assert after["test_accuracy"] == record["runs"][0]["test_accuracy"]
    assert after["pretrain_seconds"] is not None
    # ... and the experiment rerun on the new machine trains nothing: the cell comes from the
    # ledger (its pretraining not rerun either), its figures are not drawn again.
    again = experiments.run_experiment("table2_report", base, specs[:1],
                                       out_dir=tmp_path / "exp_new_machine", pool_dir=str(pool),
                                       ledger=tmp_path / "ledger.jsonl")
    assert not lost.exists() and not pathlib.Path(record["runs"][0]["pretrain_run"]).exists()
    cell = again["runs"][0]
    assert cell["reused"] and cell["test_accuracy"] == record["runs"][0]["test_accuracy"]
    assert cell["run_dir"] == str(lost)
    assert cell["pretrain_run"] == record["runs"][0]["pretrain_run"]
    # Reused by another experiment, the cell is ledgered under that one too, once, with the
    # measuring machine's facts.
    from sdae_tf.reproduce.ledger import Ledger

    for _ in range(2):
        experiments.run_experiment("table2_elsewhere", base, specs[:1],
                                   out_dir=tmp_path / "exp_elsewhere", pool_dir=str(pool),
                                   ledger=tmp_path / "ledger.jsonl")
    records = Ledger(tmp_path / "ledger.jsonl").records()
    mine = [r for r in records if r["experiment"] == "table2_elsewhere"]
    assert [r["cell"] for r in mine] == [specs[0].name]
    assert mine[0]["metrics"]["test_accuracy"] == record["runs"][0]["test_accuracy"]
    assert "from_ledger" not in mine[0]["metrics"] and "measured_on" not in mine[0]["metrics"]
    measured = next(r for r in records if r["run"] == lost.name and r is not mine[0])
    assert mine[0]["machine"] == measured["machine"]
    # A ledger line of another configuration under the same name is not taken for it.
    book = Ledger(tmp_path / "ledger.jsonl")
    lines = book.path.read_text().splitlines()
    book.path.write_text("".join(
        json.dumps({**json.loads(line), "config": {"model": "other"}}) + "\n" for line in lines))
    cfg, _ = experiments.with_shared_pretraining(config_lib.replace(
        base, **experiments._resolve(specs[0], {})), str(pool))
    assert experiments.pool_dir_for(cfg, str(pool)) == lost  # the name the ledger has
    assert experiments.from_ledger(cfg, str(pool), book) is None


def test_report_number_follows_the_longest_known_column():
    assert report.report_number("table4", "cdae_stack_50_epochs", "mnist") == 0.9930
    assert report.report_number("table3", "sdae_learned_ft_noise02", "mnist_bg_rand") == 0.9390
    assert report.report_number("table3", "sdae_fixed", "mnist_bg_rand") == 0.9323
    assert report.report_number("table3", "sdae_mean_sigma", "mnist_bg_rand") is None
    assert report.report_number("table1", "sae_ft_noise02", "mnist_rot") == 0.9243
    # An experiment's own results table sets the same number beside the cell.
    record = {"experiment": "table4_report_short", "report_item": "table4", "runs": [
        {"column": "cdae_stack", "row": "mnist_bg_rand_rot", "test_accuracy": 0.94,
         "seconds": 1.0}]}
    row = [line for line in report.experiment_table(record) if "bg-rand-rot" in line]
    assert row and "| 0.9483 | 0.9400 | -0.0083 |" in row[0]


def test_finetune_noise_corrupts_only_while_training(digits):
    stack = zoo.build("sdae_mnist", digits.input_shape, hidden_units=(16,))
    model = zoo.classifier(stack.encoder, 10, units=8, input_noise=0.4, seed=0)
    x = digits.x_test[:8]
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))
    assert not np.allclose(model(x, training=True), model(x, training=False), atol=1e-3)
    plain = zoo.classifier(stack.encoder, 10, units=8)
    assert not any("noise" in layer.name for layer in plain.layers)
    assert any("noise" in layer.name for layer in model.layers)
    cfg = config_lib.TrainConfig(finetune_noise=0.2)
    assert experiments.pretraining_config(cfg).finetune_noise == 0.0  # shared pretraining


def test_finetune_lr_schedule_sets_fine_tuning_alone(tmp_path):
    """--finetune_lr_schedule changes the fine-tuning's schedule, not the pretraining's: a cell
    with a cosine fine-tuning reuses the constant-rate pretraining of the report's recipe."""
    report_cfg = config_lib.TrainConfig(lr_schedule="constant", pretrain_epochs=2)
    ours = dataclasses.replace(report_cfg, finetune_lr_schedule="cosine")
    assert stages_lib.Stage.pretraining(ours).lr_schedule == "constant"
    assert stages_lib.Stage.finetuning(ours).lr_schedule == "cosine"
    assert stages_lib.Stage.finetuning(report_cfg).lr_schedule == "constant"
    assert set(config_lib.finetune_fields()) == {
        "learning_rate", "finetune_lr_schedule", "head_units", "head_layers", "finetune_noise",
        "task", "freeze_encoder", *(f"cluster_{k}" for k in (
            "count", "max_batches", "update_interval", "tol", "batch_size", "learning_rate",
            "reconstruction_weight", "projection", "n_init"))}
    assert (experiments.pool_dir_for(experiments.pretraining_config(ours), tmp_path)
            == experiments.pool_dir_for(experiments.pretraining_config(report_cfg), tmp_path))
    with pytest.raises(ValueError, match="finetune_lr_schedule"):
        dataclasses.replace(ours, finetune_lr_schedule="step").validate()


def test_report_tables_carries_cells_the_pool_lost(monkeypatch):
    """A cell the run pool no longer holds (a new checkout) keeps the committed file's figures,
    names the commit that measured them, and its seeds join the ones measured now."""
    from .conftest import REPO

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import report_tables

    previous = {"commit": "abcdef1234", "cells": [
        {"column": "sdae", "row": "mnist", "test_accuracy": 0.98, "curve": {"10": 0.97},
         "finetune_seconds": 60.0, "validation_protocol": 0.985, "status": "finished",
         "seeds": {"0": 0.98, "1": 0.96, "2": None}},
        {"column": "sae", "row": "mnist", "test_accuracy": 0.97, "status": "finished",
         "seeds": {"0": 0.97, "1": None, "2": None}}]}
    now = {"cells": [
        {"column": "sdae", "row": "mnist", "test_accuracy": None, "status": "not started",
         "validation_protocol": None, "seeds": {0: None, 1: None, 2: 0.94}},
        {"column": "sae", "row": "mnist", "test_accuracy": 0.975, "status": "finished",
         "validation_protocol": 0.9, "seeds": {0: 0.975, 1: None, 2: None}},
        {"column": "nopretrain", "row": "mnist", "test_accuracy": None,
         "status": "not started", "seeds": {0: None}}]}
    got = report_tables.carry_over(now, previous)["cells"]
    sdae, sae, fresh = got
    assert sdae["test_accuracy"] == 0.98 and sdae["curve"] == {"10": 0.97}
    assert sdae["measured_at"] == "abcdef1234" and "abcdef1" in sdae["status"]
    assert sdae["validation_protocol"] == 0.985
    assert sdae["seeds"] == {0: 0.98, 1: 0.96, 2: 0.94}
    assert sdae["mean"] == pytest.approx(0.96) and sdae["spread"] == pytest.approx(0.04)
    # Measured now wins over the file; an untouched cell stays pending.
    assert sae["test_accuracy"] == 0.975 and sae["seeds"][0] == 0.975 and "mean" not in sae
    assert sae["validation_protocol"] == 0.9 and "measured_at" not in sae
    assert fresh["test_accuracy"] is None and fresh["status"] == "not started"
    assert report_tables.carry_over(now, None) is now
