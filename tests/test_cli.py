"""The `sdae-train` and `sdae-tune` CLIs: every flagfile parses and smoke-runs with --quick; the
installed entry point runs end to end in a subprocess."""

import dataclasses
import functools
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import tensorflow_datasets as tfds
from absl import app, flags
from absl.testing import flagsaver

from sdae_tf.cli import experiment as experiment_cli
from sdae_tf.cli import flags as train_flags
from sdae_tf.cli import train as train_cli
from sdae_tf.cli import tune as tune_cli
from sdae_tf.data.tfds_images import TFDS_NAMES as TFDS_DATASETS
from sdae_tf.hub import export as export_lib
from sdae_tf.hub import resources
from sdae_tf.reproduce import experiments
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import run_data, run_identity, training
from sdae_tf.runner import validation as validation_lib
from sdae_tf.zoo import REGISTRY

from .conftest import REPO

# Shared settings that the other flagfiles include (not run on their own), at the root of
# flags/; the recipes in the folder of their kind (flags/models, experiments, tuning).
SHARED_FLAGFILES = ("common.flags", "report_recipe.flags")
ALL_FLAGFILES = sorted(p.relative_to(REPO / "flags").as_posix()
                       for p in (REPO / "flags").glob("*/*.flags"))
TUNE_FLAGFILES = [n for n in ALL_FLAGFILES
                  if (REPO / "flags" / n).read_text().startswith("# sdae-tune ")]
EXPERIMENT_FLAGFILES = [n for n in ALL_FLAGFILES
                        if (REPO / "flags" / n).read_text().startswith("# sdae-experiment ")]
FLAGFILES = [n for n in ALL_FLAGFILES if n not in TUNE_FLAGFILES + EXPERIMENT_FLAGFILES]
# Every item of the report (DESIGN.md's map) has its experiment flagfile.
REPORT_ITEMS = ("fig1", "fig2", "fig3", "table1", "fig5", "table2", "fig6", "table3", "fig7",
                "fig8", "table4", "table5")
FLAGS = flags.FLAGS


def _parse(argv):
    FLAGS.unparse_flags()
    FLAGS(["sdae-train", *argv])
    return train_flags.config_from_flags(FLAGS)


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # flagfiles nest with paths relative to the repository root


def test_every_flagfile_opens_with_its_command():
    assert FLAGFILES and len(TUNE_FLAGFILES) >= 3
    assert sorted(p.name for p in (REPO / "flags").glob("*.flags")) == sorted(SHARED_FLAGFILES)
    for name in ALL_FLAGFILES:
        command = ("sdae-tune" if name in TUNE_FLAGFILES else
                   "sdae-experiment" if name in EXPERIMENT_FLAGFILES else "sdae-train")
        text = (REPO / "flags" / name).read_text()
        assert text.startswith(f"# {command} --flagfile=flags/{name}\n"), name
        assert name.split("/")[0] == resources.RECIPE_KINDS[command], name


def test_no_flagfile_writes_into_the_shipped_models():
    """The README's first command runs on a fresh clone, where exported_models/ already holds
    the shipped encoders: flagfiles export elsewhere (only scripts/ship_models.sh writes there)."""
    for name in ALL_FLAGFILES:
        for line in (REPO / "flags" / name).read_text().splitlines():
            if line.startswith("--export_dir="):
                assert not line.removeprefix("--export_dir=").startswith("exported_models"), name



def _counted(accuracy, examples):
    """True when `accuracy` is a whole number of the `examples` (within float32 rounding)."""
    return examples > 0 and abs(accuracy * examples - round(accuracy * examples)) < 1e-3

@pytest.mark.parametrize("name", TUNE_FLAGFILES)
def test_tune_flagfile_smoke_run(name, in_repo, tmp_path, capsys):
    with flagsaver.flagsaver():
        _parse([f"--flagfile=flags/{name}", "--quick", "--max_trials=2", "--probe_examples=500",
                f"--tune_dir={tmp_path / 'search'}", f"--export_dir={tmp_path / 'best'}",
                "--verbose=0"])
        tune_cli.main(["sdae-tune"])
    out = capsys.readouterr().out
    assert "| rank |" in out and "best encoder exported to" in out
    results = json.loads((tmp_path / "search" / "results.json").read_text())
    assert results["best_trials"] and 0.0 <= results["best_trials"][0]["score"] <= 1.0
    assert (tmp_path / "best" / "saved_model.pb").exists()


def test_every_report_item_has_an_experiment_flagfile():
    items = {}
    for name in EXPERIMENT_FLAGFILES:
        lines = (REPO / "flags" / name).read_text().splitlines()
        values = dict(line[2:].split("=", 1) for line in lines
                      if line.startswith("--") and "=" in line)
        items[values.get("report_item", values["experiment"])] = name
        assert values["experiment"] == pathlib.PurePath(name).stem, name
    assert set(REPORT_ITEMS) <= set(items), set(REPORT_ITEMS) - set(items)


@pytest.fixture(scope="module")
def experiment_pool(tmp_path_factory):
    """One run pool for all experiment smoke runs: runs shared between tables (Table 3 and
    Table 4 reuse Table 1's) train once, as they do for users."""
    return tmp_path_factory.mktemp("pool")


# Keys whose values never change which code a cell runs (left out when comparing cells).
VALUE_ONLY_KEYS = frozenset({"seed", "data_seed", "learning_rate", "pretrain_learning_rate"})


def _path_keys(cfg):
    """What in a cell's whole configuration (flagfile and overrides) chooses code: each field
    off its default by name (its value chooses none: another level, dataset, size, a stage's
    epochs, zero among them: a stage skipped runs less of the same code), except a dataset
    from TFDS (another loader) and each figure drawn (its own code)."""
    keys = set()
    for name, value in run_identity.identity(cfg).items():
        if name in VALUE_ONLY_KEYS:
            continue
        if name == "figures":
            keys.update(f"figure:{f}" for f in value)
        elif name in ("dataset", "pretrain_dataset") and value in TFDS_DATASETS:
            keys.add(f"{name}:tfds")
        else:
            keys.add(name)
    return frozenset(keys)


# Path keys that choose the data a cell reads, not the family's code: the loaders are the same
# for every family, so one chosen cell of any family covers them.
DATA_KEYS = frozenset({"dataset", "pretrain_dataset", "dataset:tfds", "pretrain_dataset:tfds"})


@functools.cache
def smoke_cells():
    """{experiment flagfile: the cells its default smoke run trains}: the cells that exercise
    every code path the experiment flagfiles take, each once across all of them (a cell adds
    nothing when a chosen cell of its family, of any flagfile, covers its path keys but the
    data ones and a chosen cell of any family covers its `DATA_KEYS`; most keys first),
    every cell that reads an earlier cell's metric and the cells it reads, and at least one
    cell of every flagfile (its record, table and figures). The others differ from a chosen
    cell in values only; the slow test builds each of them."""
    cells = []  # (flagfile, spec, family, path keys)
    for name in EXPERIMENT_FLAGFILES:
        with flagsaver.flagsaver():
            cfg = _parse([f"--flagfile=flags/{name}", "--quick"])
            specs = [experiments.parse_run(r) for r in FLAGS.run]
        for spec in specs:
            plain = dataclasses.replace(spec, overrides={
                k: v for k, v in spec.overrides.items() if not v.startswith("@")})
            cell = config_lib.replace(cfg, **experiments._resolve(plain, {}))
            entry = REGISTRY.get(cell.model)
            cells.append((name, spec, (entry.build, entry.layerwise_pretraining),
                          _path_keys(cell)))
    chosen = {name: set() for name in EXPERIMENT_FLAGFILES}
    kept = []

    def choose(name, spec):
        chosen[name].add(spec.name)
        chosen[name].update(experiments.references(spec))

    for name, spec, family, keys in sorted(cells, key=lambda c: -len(c[3])):
        if experiments.references(spec) or not (
                any(family == f and keys - DATA_KEYS <= k for f, k in kept)
                and any(keys & DATA_KEYS <= k for _, k in kept)):
            choose(name, spec)
            kept.append((family, keys))
    for name, spec, _, _ in cells:
        if not chosen[name]:
            choose(name, spec)  # its first cell: every flagfile runs
    return {name: [spec.name for n, spec, _, _ in cells if n == name and spec.name in chosen[name]]
            for name in EXPERIMENT_FLAGFILES}


def _experiment_smoke_run(name, tmp_path, capsys, pool, every_cell):
    """`name` end to end, shrunk by --quick (TFDS ones on mock data): every cell, or by
    default `smoke_cells` (through --cells); checks the record and the figures."""
    with flagsaver.flagsaver():
        argv = [f"--flagfile=flags/{name}", "--quick", f"--out_dir={tmp_path / 'exp'}",
                f"--pool_dir={pool}", "--verbose=0", f"--ledger={tmp_path / 'ledger.jsonl'}"]
        cfg = _parse(argv)
        specs = [experiments.parse_run(r) for r in FLAGS.run]
        chosen = [s.name for s in specs] if every_cell else smoke_cells()[name]
        argv.append(f"--cells={','.join(chosen)}")
        _parse(argv)
        tfds_runs = [s for s in specs if s.overrides.get("dataset") in TFDS_DATASETS]
        if tfds_runs:
            _parse([*argv, "--batch_size=16"])  # the mock has 48 examples per split
            with tfds.testing.mock_data(num_examples=48):
                experiment_cli.main(["sdae-experiment"])
        else:
            experiment_cli.main(["sdae-experiment"])
    assert cfg.quick
    record = json.loads((tmp_path / "exp" / "experiment.json").read_text())
    assert [f"{r['column']}/{r['row']}" for r in record["runs"]] == chosen
    # Every cell is in the ledger, with its metrics and the machine it ran on.
    from sdae_tf.reproduce.ledger import Ledger

    logged = {r["cell"]: r for r in Ledger(tmp_path / "ledger.jsonl").records()}
    for run in record["runs"]:
        entry = logged[f"{run['column']}/{run['row']}"]
        assert entry["metrics"].get("test_accuracy") == run["test_accuracy"]
        assert entry["machine"]["cpu"] and entry["machine"]["cpus"] >= 1
    assert record.get("skipped", []) == [s.name for s in specs if s.name not in chosen]
    by_name = {s.name: s for s in specs}
    for run in record["runs"]:
        spec = by_name[f"{run['column']}/{run['row']}"]
        metrics = json.loads((pathlib.Path(run["run_dir"]) / "metrics.json").read_text())
        if metrics.get("segmentation"):  # every test image, Otsu's threshold on the same ones
            seg = metrics["segmentation"]
            assert seg["examples"] == metrics["sizes"]["test"] and run["test_accuracy"] is None
            # a floor on the real masks: no worse than calling every pixel background
            masks = run_data.load_data(config_lib.TrainConfig(
                model=spec.overrides["model"], dataset=spec.overrides["dataset"],
                task="segmentation", quick=True)).y_test
            assert seg["test_pixel_accuracy"] >= 1 - float(masks.mean()) - 1e-3
            assert 0 < seg["otsu"]["iou"] < 1 and run["segmentation"] == seg
            assert pathlib.Path(seg["figure"]).is_file()  # digits, true and predicted masks
            assert (tmp_path / "exp" / "segmentation.png").is_file()
        elif metrics.get("finetune"):  # the whole test split, counted example by example
            assert _counted(run["test_accuracy"], metrics["sizes"]["test"])
        if cfg.unsupervised_metrics:
            record = metrics["unsupervised"]
            assert _counted(record["kmeans_accuracy"], record["examples"])
            assert _counted(record["linear_probe_accuracy"], record["examples"])
        for figure in spec.overrides.get("figures", "").split(",") + list(cfg.figures):
            if figure:
                assert (tmp_path / "exp" / f"{figure}.png").exists(), figure
    assert (tmp_path / "exp" / "results.md").exists()
    assert "experiment directory" in capsys.readouterr().out


@pytest.mark.parametrize("name", EXPERIMENT_FLAGFILES)
def test_experiment_flagfile_smoke_run(name, in_repo, tmp_path, capsys, experiment_pool):
    """Every experiment flagfile runs end to end on its representative cells (and the
    benchmark that reads an experiment's runs, on them)."""
    _experiment_smoke_run(name, tmp_path, capsys, experiment_pool, every_cell=False)
    if name == "experiments/beyond_resolution.flags":  # benchmarks/resolution.py scores them
        out = tmp_path / "resolution.json"
        done = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "resolution.py"),
             f"--experiment_dir={tmp_path / 'exp'}", "--examples=16", f"--out={out}",
             f"--figure={tmp_path / 'resolution.png'}"], capture_output=True, text=True,
            cwd=REPO, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        runs = json.loads((tmp_path / "exp" / "experiment.json").read_text())["runs"]
        rows = json.loads(out.read_text())["models"]
        assert [r["model"] for r in rows] == [r["column"] for r in runs]
        assert all(r["clean"]["psnr_db"] > 5 and 0 < r["clean"]["ssim"] <= 1 for r in rows)
        assert (tmp_path / "resolution.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENT_FLAGFILES)
def test_experiment_flagfile_every_cell_builds(name, in_repo):
    """The cells the smoke run leaves out differ from one it runs in values only (another
    dataset, level, seed, model of the same family): each is resolved, checked, its data
    loaded and its model built as the runner would, before any training (what can go wrong
    with a value); the code paths they train were trained by the smoke run."""
    with flagsaver.flagsaver():
        cfg = _parse([f"--flagfile=flags/{name}", "--quick"])
        specs = [experiments.parse_run(r) for r in FLAGS.run]
    left = [s for s in specs if s.name not in smoke_cells()[name]]
    finished = {s.name: {"mean_sigma": 0.3} for s in specs}  # stands in for @refs' metrics
    for spec in left:
        cell = config_lib.replace(cfg, **experiments._resolve(spec, finished))
        validation_lib.check_config(cell)
        if (cell.dataset or REGISTRY.get(cell.model).dataset) in TFDS_DATASETS:
            with tfds.testing.mock_data(num_examples=48):  # not downloadable here
                data, _ = run_data.load_run_data(dataclasses.replace(cell, batch_size=16))
        else:
            data, _ = run_data.load_run_data(cell)
        model = config_lib.build_model(cell, data.input_shape)
        assert model.encoder.output_shape[0] is None, spec.name


def test_cells_selects_and_refuses_unknown(in_repo, tmp_path):
    with pytest.raises(ValueError, match="matches no cell. Cells: sdae_layerwise/mnist"):
        experiments.run_experiment(
            "x", config_lib.TrainConfig(quick=True),
            ["sdae_layerwise/mnist: model=sdae_mnist"], out_dir=tmp_path, pool_dir=tmp_path,
            cells=["nothing*"])


@pytest.mark.parametrize("name", FLAGFILES)
def test_flagfile_smoke_run(name, in_repo, tmp_path):
    with flagsaver.flagsaver():
        cfg = _parse([f"--flagfile=flags/{name}", "--quick", f"--run_dir={tmp_path / 'run'}",
                      f"--export_dir={tmp_path / 'export'}", "--verbose=0"])
        assert cfg.model == pathlib.PurePath(name).stem and cfg.quick
        dataset = cfg.dataset or REGISTRY.get(cfg.model).dataset
        if dataset in TFDS_DATASETS:  # not downloadable here: the real TFDS path on mock data
            cfg = dataclasses.replace(cfg, batch_size=16)  # the mock has 48 examples per split
            with tfds.testing.mock_data(num_examples=48):
                metrics = training.run(cfg)
        else:
            metrics = training.run(cfg)
    # A smoke run (1 epoch on 512 examples) is not an accuracy test (the family test and the
    # main job are): its accuracy is scored on the whole test split, example by example.
    assert _counted(metrics["test_accuracy"], metrics["sizes"]["test"])
    assert len(metrics["finetune"]["history"]["loss"]) == 1
    if dataset not in TFDS_DATASETS:
        assert metrics["sizes"]["train"] == run_data.QUICK_TRAIN_EXAMPLES
    assert (tmp_path / "export" / "saved_model.pb").exists()
    assert "test accuracy" in train_cli.summary(metrics)
    # The manifest says whether `reconstruct` is a denoiser, as the family does.
    manifest = export_lib.load_manifest(tmp_path / "export")
    family = REGISTRY.get(cfg.model).build
    assert manifest.get("denoiser", {}).get("use_instead") == family.DENOISER_INSTEAD


def test_flag_overrides_and_defaults(in_repo):
    with flagsaver.flagsaver():
        cfg = _parse(["--flagfile=flags/models/sdae_mnist.flags", "--noise_type=masking",
                      "--noise_level=0.3", "--hidden_units=64,32", "--verbose=2"])
    assert cfg.model_config == {"noise_type": "masking", "noise_level": 0.3,
                                "hidden_units": (64, 32)}
    assert cfg.keras_verbose == 2 and cfg.batch_size == 128 and cfg.seed == 0
    with flagsaver.flagsaver():
        cfg = _parse([])
    assert cfg == config_lib.TrainConfig()


def test_unknown_model_fails_at_parse_time():
    with flagsaver.flagsaver(), pytest.raises(flags.IllegalFlagValueError, match="sdae_mnist"):
        _parse(["--model=sdae_mnsit"])


def test_installed_entry_point(tmp_path):
    # The script pip put next to this interpreter (the venv may not be on PATH).
    exe = shutil.which("sdae-train", path=os.path.dirname(sys.executable)) or shutil.which(
        "sdae-train")
    assert exe, "sdae-train is not installed: pip install -e ."
    env = {**os.environ, "SDAE_TF_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [exe, "--flagfile=flags/models/sdae_mnist.flags", "--quick", "--dataset=digits",
         f"--run_dir={tmp_path / 'run'}", f"--export_dir={tmp_path / 'export'}", "--verbose=2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test accuracy" in result.stdout and "encoder exported to" in result.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["dataset"] == "digits"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["quick"] is True
    # A stray argument is absl's usage error (checked in process: a second fresh process
    # would only add a TensorFlow import).
    with pytest.raises(app.UsageError, match="Unexpected arguments: extra"):
        train_cli.main(["sdae-train", "extra"])


def test_a_flagfile_runs_from_any_working_directory(tmp_path, monkeypatch):
    from sdae_tf.hub import resources

    monkeypatch.chdir(tmp_path)  # flags/common.flags is not here
    flagfile = REPO / "flags" / "models" / "sdae_mnist.flags"
    argv = resources.expand_argv(["sdae-train", f"--flagfile={flagfile}", "--seed=3"],
                                 "sdae-train")
    assert "--model=sdae_mnist" in argv and "--data_seed=0" in argv  # the nested common.flags
    assert argv[-1] == "--seed=3"  # what follows still overrides
    # A copy of flags/ elsewhere includes its own copy of the nested flagfile.
    shutil.copytree(REPO / "flags", tmp_path / "mine" / "flags")
    common = tmp_path / "mine" / "flags" / "common.flags"
    common.write_text(common.read_text() + "--head_units=7\n")
    argv = resources.expand_argv(
        ["sdae-train", "--flagfile", str(tmp_path / "mine/flags/models/sdae_mnist.flags")],
        "sdae-train")
    assert "--head_units=7" in argv
    with pytest.raises(ValueError, match="--flagfile=nope.flags: no such file"):
        resources.expand_argv(["sdae-train", "--flagfile=nope.flags"], "sdae-train")


def test_help_lists_the_tools_own_flags(monkeypatch):
    from absl import flags

    from sdae_tf.cli import errors
    from sdae_tf.cli import flags as _train_flags  # noqa: F401  (defines the training flags)

    monkeypatch.setattr(sys, "argv", ["/somewhere/bin/sdae-train"])
    errors.show_own_flags()
    text = flags.FLAGS.main_module_help()
    assert "--hidden_units" in text and "--noise_level" in text and "--recipe" in text
    assert "--tf_" not in text  # not TensorFlow's or absl's own
