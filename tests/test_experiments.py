"""Experiments (one flagfile per report item), --pretrain_dataset / --init_from, figures and the
report tables, on the real 8x8 digits and small MNIST subsets."""

import dataclasses
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from sdae_tf import zoo
from sdae_tf.evaluation import figures, plots
from sdae_tf.reproduce import experiments, report
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import init_from as init_from_lib
from sdae_tf.runner import training
from sdae_tf.runner import validation as validation_lib
from sdae_tf.train import checkpoints as checkpoints_lib
from sdae_tf.train import stages as stages_lib

BASE = config_lib.TrainConfig(
    model="sdae_mnist", dataset="digits", model_config={"hidden_units": (256, 128)}, head_units=128,
    batch_size=32, pretrain_epochs=5, pretrain_learning_rate=1e-2, finetune_epochs=8,
    learning_rate=3e-3,
    verbose=0,
)


def test_parse_run():
    spec = experiments.parse_run("sdae/mnist_rot:  model=sdae_mnist hidden_units=64,32 "
                                 "noise_level=@learned/x.mean_sigma")
    assert (spec.column, spec.row, spec.name) == ("sdae", "mnist_rot", "sdae/mnist_rot")
    assert spec.overrides == {"model": "sdae_mnist", "hidden_units": "64,32",
                              "noise_level": "@learned/x.mean_sigma"}
    assert experiments._convert("hidden_units", "64,32") == (64, 32)
    assert experiments._convert("lambdas", "0.1,0.2") == (0.1, 0.2)
    assert experiments._convert("pretrain_epochs", "3") == 3
    assert experiments._convert("noise_level", "0.25") == 0.25
    assert experiments._convert("figures", "tsne,filters") == ("tsne", "filters")
    for bad, message in [("sdae mnist: model=x", "COLUMN/ROW"),
                         ("sdae/mnist: colour=red", "unknown setting 'colour'"),
                         ("sdae/mnist: run_dir=/tmp", "set by the experiment runner"),
                         ("sdae/mnist: model", "is not key=value")]:
        with pytest.raises(ValueError, match=message):
            experiments.parse_run(bad)


def test_bad_value_and_reference_are_named(tmp_path):
    with pytest.raises(ValueError, match="a/digits: `pretrain_epochs`: expected an integer. "
                       "Received: .three."):
        experiments.run_experiment("x", BASE, ["a/digits: pretrain_epochs=three"],
                                   out_dir=tmp_path / "x", pool_dir=tmp_path / "pool")
    with pytest.raises(ValueError, match="not an earlier run"):
        experiments.run_experiment("x", BASE, ["a/digits: noise_level=@b/digits.mean_sigma"],
                                   out_dir=tmp_path / "x", pool_dir=tmp_path / "pool")
    with pytest.raises(ValueError, match="given twice"):
        experiments.run_experiment("x", BASE, ["a/digits: seed=1", "a/digits: seed=2"],
                                   out_dir=tmp_path / "x", pool_dir=tmp_path / "pool")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A two-dataset experiment whose SDAE cells share one pretraining run, plus a
    no-pretraining cell; digits and digits again under another seed of the head."""
    root = tmp_path_factory.mktemp("exp")
    specs = ["nopretrain/digits: model=nopretrain_mnist",
             "sdae/digits: model=sdae_mnist",
             "sdae_lr/digits: model=sdae_mnist learning_rate=1e-2"]
    record = experiments.run_experiment("table1", BASE, specs, out_dir=root / "table1",
                                        pool_dir=root / "pool")
    return root, specs, record


def test_cells_share_one_pretraining_run(shared):
    root, _, record = shared
    runs = {f"{r['column']}/{r['row']}": r for r in record["runs"]}
    assert runs["nopretrain/digits"]["pretrain_run"] is None
    pre = runs["sdae/digits"]["pretrain_run"]
    assert pre and pre == runs["sdae_lr/digits"]["pretrain_run"]
    pool = sorted(p.name for p in (root / "pool").iterdir())
    assert len(pool) == 4  # nopretrain, the shared pretraining, two fine-tuned cells
    assert sum("-pretrain-" in n for n in pool) == 1
    # The cell's encoder started from the pretrained stack: its metrics name the weights and
    # carry the pretraining history of the shared run.
    cell = json.loads((pathlib.Path(runs["sdae/digits"]["run_dir"]) / "metrics.json").read_text())
    assert cell["init_from"] == str(pathlib.Path(pre) / checkpoints_lib.PRETRAINED_WEIGHTS)
    assert len(cell["pretrain"]) == 2 and cell["pretrain_dataset"] == "digits"
    # the report's finding at a tiny budget: pretraining helps the sigmoid network
    for name in ("sdae/digits", "sdae_lr/digits"):
        assert runs[name]["test_accuracy"] >= 0.8, runs[name]
        assert runs[name]["test_accuracy"] > runs["nopretrain/digits"]["test_accuracy"]
    assert (root / "table1" / "experiment.json").exists()
    assert "| digits | SDAE |" in (root / "table1" / "results.md").read_text()


def test_rerun_reuses_finished_runs(shared):
    root, specs, record = shared
    again = experiments.run_experiment("table1", BASE, specs, out_dir=root / "table1",
                                       pool_dir=root / "pool")
    assert all(r["reused"] for r in again["runs"])
    assert [r["test_accuracy"] for r in again["runs"]] == \
        [r["test_accuracy"] for r in record["runs"]]
    assert again["seconds"] < record["seconds"]



def test_pool_spelt_another_way_is_the_same_pool(shared, tmp_path):
    """A cell starting from a shared pretraining has one key whatever path names the pool
    (relative, absolute, through a link): processes sharing a pool reuse each other's runs."""
    import os

    root, specs, record = shared
    link = tmp_path / "link"
    link.symlink_to(root / "pool")
    for pool in (os.path.relpath(root / "pool"), link):
        again = experiments.run_experiment("table1", BASE, specs, out_dir=tmp_path / "exp",
                                           pool_dir=pool)
        assert all(r["reused"] for r in again["runs"]), pool
        assert [pathlib.Path(r["run_dir"]).name for r in again["runs"]] == \
            [pathlib.Path(r["run_dir"]).name for r in record["runs"]]


def test_init_from_equals_pretraining_in_the_run(shared, tmp_path):
    """Fine-tuning from a shared pretraining run gives the numbers of a run that pretrained the
    same stack itself (same seed): the weights are the same."""
    root, _, record = shared
    runs = {f"{r['column']}/{r['row']}": r for r in record["runs"]}
    pre_dir = pathlib.Path(runs["sdae/digits"]["pretrain_run"])
    stack = config_lib.build_model(BASE, (8, 8, 1))
    init_from_lib.init_from_pretrained(stack, pre_dir)
    loaded = [np.asarray(w) for w in stack.autoencoder().weights]
    fresh = config_lib.build_model(BASE, (8, 8, 1)).autoencoder().weights
    assert not np.array_equal(loaded[0], np.asarray(fresh[0]))  # the load replaced the init
    own = training.run(dataclasses.replace(BASE, finetune_epochs=0,
                                           run_dir=str(tmp_path / "own")))
    stack2 = config_lib.build_model(BASE, (8, 8, 1))
    init_from_lib.init_from_pretrained(stack2, own["run_dir"])
    for a, b in zip(loaded, stack2.autoencoder().weights, strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_reference_reads_an_earlier_runs_metric(tmp_path):
    """Table 3's control: fixed sigma = the learned run's mean sigma."""
    base = dataclasses.replace(BASE, pretrain_epochs=1, finetune_epochs=1)
    record = experiments.run_experiment(
        "table3", base,
        ["sdae_learned/digits: model=sdae_learned_sigma_mnist lambdas=0.01,0.01 "
         "hidden_units=64,32",
         "sdae_mean_sigma/digits: model=sdae_mnist hidden_units=64,32 "
         "noise_level=@sdae_learned/digits.mean_sigma"],
        out_dir=tmp_path / "t3", pool_dir=tmp_path / "pool")
    learned, control = record["runs"]
    assert 0.4 <= learned["mean_sigma"] <= 1.0
    config = json.loads((pathlib.Path(control["run_dir"]) / "config.json").read_text())
    assert config["model_config"]["noise_level"] == pytest.approx(learned["mean_sigma"])
    assert "mean learned sigma" in (tmp_path / "t3" / "results.md").read_text()


def test_pretrain_dataset_and_shape_mismatch(tmp_path):
    cfg = config_lib.TrainConfig(model="sdae_mnist", dataset="mnist_rot", pretrain_dataset="mnist",
                               model_config={"hidden_units": (32, 16)}, train_examples=256,
                               validation_size=200,
                               pretrain_epochs=1, finetune_epochs=1, head_units=32,
                               batch_size=64, run_dir=str(tmp_path / "run"), verbose=0)
    metrics = training.run(cfg)
    assert metrics["dataset"] == "mnist_rot" and metrics["pretrain_dataset"] == "mnist"
    assert (tmp_path / "run" / checkpoints_lib.PRETRAINED_WEIGHTS).exists()
    bad = dataclasses.replace(cfg, dataset="digits", run_dir=str(tmp_path / "bad"))
    with pytest.raises(ValueError, match=r"same input shape"):
        training.run(bad)


def test_init_from_errors(tmp_path, shared):
    with pytest.raises(FileNotFoundError, match="pretrained.weights.h5"):
        validation_lib.check_config(dataclasses.replace(BASE, init_from=str(tmp_path)))
    root, _, record = shared
    pre = record["runs"][1]["pretrain_run"]
    wrong = config_lib.replace(BASE, hidden_units=(64, 8), init_from=pre,
                                run_dir=str(tmp_path / "wrong"))
    with pytest.raises(ValueError, match="do not fit"):
        training.run(wrong)


def test_mosaic_layout():
    tiles = np.stack([np.full((3, 2), i, np.float32) for i in range(5)])
    image = plots.mosaic(tiles, columns=2, pad=1, background=-1.0)
    assert image.shape == (3 * 4 - 1, 2 * 3 - 1)
    assert image[0, 0] == 0 and image[0, 3] == 1 and image[8, 0] == 4 and image[8, 3] == -1


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits):
    stack = zoo.build("sdae_mnist", digits.input_shape, hidden_units=(32, 2), seed=0)
    stages_lib.pretrain_layerwise(
        stack, digits, stages_lib.Stage.pretraining(dataclasses.replace(BASE, pretrain_epochs=2)))
    vae = zoo.build("vae_mnist", digits.input_shape, hidden_units=(32,), latent_units=(4,),
                    seed=0)
    stages_lib.pretrain_layerwise(
        vae, digits, stages_lib.Stage.pretraining(dataclasses.replace(BASE, pretrain_epochs=2)))
    return stack, vae, tmp_path_factory.mktemp("figs")


def _png_size(path):
    import matplotlib.pyplot as plt

    return plt.imread(str(path)).shape


def test_figures(trained, digits):
    stack, vae, out = trained
    paths = figures.write(["filters", "reconstructions", "samples", "tsne", "manifold"], stack,
                          digits, out / "dense", num_samples=3, seed=0)
    for name, path in paths.items():
        assert pathlib.Path(path).name == f"{name}.png" and _png_size(path)[0] > 100, name
    vae_paths = figures.write(["traversal"], vae, digits, out / "vae")
    assert _png_size(vae_paths["traversal"])[0] > 100
    # the filters are the first layer's weights, each scaled to [0, 1]
    kernel = np.asarray(stack.encoder.layers[2].kernel)
    assert kernel.shape == (64, 32)


def test_figure_misuse_is_named(trained, digits, tmp_path):
    stack, vae, _ = trained
    with pytest.raises(ValueError, match="Unknown figure.*Available"):
        figures.validate(["filtres"])
    with pytest.raises(ValueError, match="1-D or 2-D code"):
        figures.manifold(vae, digits, tmp_path)
    with pytest.raises(ValueError, match="needs a VAE"):
        figures.traversal(stack, digits, tmp_path)
    with pytest.raises(ValueError, match="`figures` must be one of filters, "):
        dataclasses.replace(BASE, figures=("nope",)).validate()


def test_report_tables(shared, tmp_path):
    root, _, record = shared
    assert report.report_value("table1", "sdae", "mnist_rot") == 0.9448
    assert report.report_value("table3", "sdae_learned", "mnist_bg_rand") == 0.9390
    assert report.report_value("table1", "sdae_target", "mnist_rot") is None
    fake = dict(record, runs=[dict(record["runs"][1], row="mnist_rot", test_accuracy=0.95)])
    text = "\n".join(report.experiment_table(fake))
    assert "| MNIST rot | SDAE | 0.9448 | 0.9500 | +0.0052 |" in text
    run_dir = record["runs"][0]["run_dir"]
    out = subprocess.run([sys.executable, "-m", "sdae_tf.cli.report", str(root / "table1"),
                          run_dir, f"--output={tmp_path / 'r.md'}"],
                         capture_output=True, text=True, check=True).stdout
    assert "### Table 1" in out and "| nopretrain_mnist | digits | - |" in out
    assert (tmp_path / "r.md").read_text().strip() == out.strip()
    bad = subprocess.run([sys.executable, "-m", "sdae_tf.cli.report", str(tmp_path / "r.md")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "neither an experiment directory" in bad.stderr


def test_unsupervised_table_shows_masked_psnr_where_measured():
    common = {"kmeans_accuracy": 0.5, "psnr_reconstruction_db": 24.0, "psnr_denoised_db": 20.0}
    record = {"experiment": "beyond_x", "runs": [
        {"column": "mae", "row": "kmeans", "unsupervised": {
            "dataset": "mnist", **common, "psnr_masked_db": 14.25,
            "psnr_masked_input_db": 11.01}},
        {"column": "cae", "row": "kmeans", "unsupervised": {"dataset": "photos", **common}}]}
    text = "\n".join(report.experiment_table(record))
    assert "PSNR 75% of 4x4 patches hidden (dB)" in text
    assert "| mae | mnist | 0.5000 | 24.00 | 20.00 | 14.25 (input 11.01) |" in text
    assert "| cae | photos | 0.5000 | 24.00 | 20.00 | - |" in text
