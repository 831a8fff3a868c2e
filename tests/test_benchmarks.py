"""The performance suite runs end to end on a small sample (slow: `pytest -m slow`)."""

import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_run_all_writes_every_section_and_the_summary(tmp_path):
    # Every section, at its smallest (one round of each comparison, three zoo entries: the
    # families' own tests train them all).
    zoo_models = ["sdae_mnist", "cdae_mnist", "dvae_mnist"]
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "run_all.py"), "--examples=640",
                    "--epochs=2", "--rounds=1", f"--zoo_models={','.join(zoo_models)}",
                    f"--out_dir={tmp_path}"], cwd=REPO, check=True,
                   capture_output=True, text=True)
    result = json.loads((tmp_path / "perf.json").read_text())
    sections = result["sections"]
    assert [r["model"] for r in sections["zoo"]["zoo"]] == sorted(zoo_models)
    assert set(sections) >= {"roof", "dense", "optimizer", "learned", "pipeline", "threads",
                             "profile", "serving", "zoo", "distribute", "peer", "precision",
                             "modern"}
    assert result["machine"]["commit"] and result["machine"]["cpus"] >= 1
    ratios = [sections["dense"]["loop_vs_plain_keras"]["ratio"], sections["optimizer"]["ratio"],
              sections["learned"]["ratio"], sections["pipeline"]["ratio"],
              *[r["throughput_ratio"] for r in sections["distribute"]["throughput"]]]
    assert all(math.isfinite(r) and 0.05 < r < 20 for r in ratios), ratios
    # bfloat16 without BF16 hardware is emulated: 0.0499x float32 was measured on an AVX2-only
    # AMD EPYC, so a precision speedup is only bounded away from 0 and from nonsense.
    speedups = [r["speedup"] for r in sections["precision"]["precision"]]
    assert all(math.isfinite(r) and 0.005 < r < 20 for r in speedups), speedups
    kinds = {k["kind"]: k["share"] for k in sections["profile"]["kinds"]}
    assert kinds["matmul"] > 0.1 and sum(kinds.values()) == pytest.approx(1.0)
    assert any(s["onednn_enabled"] for s in sections["threads"]["settings"])
    modern = {r["model"]: r for r in sections["modern"]["modern"]}
    assert sorted(modern) == sorted(zoo_models)
    # The profiler's count against the hand count of the SDAE's two dense blocks (784-1000-784,
    # 1000-1000-1000): 3x the forward multiply-adds of every matmul, 2 FLOP each.
    hand = 3 * 2 * (2 * 784 * 1000 + 2 * 1000 * 1000) / 1e6
    assert modern["sdae_mnist"]["train_mflops_per_image"] == pytest.approx(hand, rel=0.05)
    assert all(0 < r["roof_share"] < 1.5 and r["images_per_s"] > 0 for r in modern.values())
    summary = (tmp_path / "perf.md").read_text()
    assert summary.startswith("### summary") and "learned-sigma step" in summary


@pytest.mark.slow
def test_denoising_benchmark_writes_psnr_table_and_figure(tmp_path):
    out, fig = tmp_path / "denoising.json", tmp_path / "denoising.png"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "denoising.py"), "--examples=200",
         f"--out={out}", f"--figure={fig}"],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["results"]
    assert set(rows) == {"gaussian 0.4", "masking 25%"}
    gauss = rows["gaussian 0.4"]
    # The CDAE, trained on this noise, beats the input and every classical denoiser.
    best_classical = max(gauss[m]["psnr_db"] for m in
                         ("gaussian blur", "median filter", "non-local means"))
    assert gauss["cdae_mnist"]["psnr_db"] > best_classical + 2.0, gauss
    assert gauss["noisy input"]["psnr_db"] < best_classical
    assert fig.stat().st_size > 10_000 and out.with_suffix(".md").exists()


def _write_experiment(runs, name, cells, config=None):
    """An experiment record as the runner writes it, each cell's metrics.json beside it."""
    records = []
    for (column, row), metrics in cells.items():
        run_dir = runs / "pool" / f"{name}-{column}-{row}"
        run_dir.mkdir(parents=True)  # the pool: one folder per run
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
        records.append({"column": column, "row": row, "run_dir": str(run_dir),
                        "test_accuracy": metrics.get("test_accuracy")})
    (runs / name).mkdir(parents=True)
    (runs / name / "experiment.json").write_text(json.dumps({"runs": records,
                                                             "config": config or {}}))


def test_inpainting_benchmark_scores_the_mae_against_the_autoencoders(tmp_path):
    out, fig = tmp_path / "inpainting.json", tmp_path / "inpainting.png"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "inpainting.py"), "--examples=100",
         f"--out={out}", f"--figure={fig}"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["results"]
    assert len(rows) == 3
    most = rows["75% of the 4x4 patches hidden"]
    # The masked autoencoder was trained for this: it fills in far more than the masked input
    # holds and than the autoencoders trained on whole noisy images.
    assert most["mae_mnist"]["psnr_db"] > most["masked input"]["psnr_db"] + 3.0, most
    assert most["mae_mnist"]["psnr_db"] > most["cdae_mnist"]["psnr_db"], most
    assert fig.stat().st_size > 10_000 and out.with_suffix(".md").exists()


def test_beyond_report_gathers_seeds_and_draws(tmp_path):
    """benchmarks/beyond_report.py on records written like the runner's: the seeds' mean and
    spread, the correlation of the denoising scatter, the figures, pending cells."""
    runs = tmp_path / "runs"
    runs.mkdir()
    _write_experiment(runs, "beyond_embedding_size", {
        ("sdae_50", "mnist"): {"test_accuracy": 0.97},
        ("sdae_1000", "mnist"): {"test_accuracy": 0.98}})
    _write_experiment(runs, "beyond_embedding_size_seed1", {
        ("sdae_50", "mnist"): {"test_accuracy": 0.95}})
    psnr = {"gaussian_0.1": (14.0, 0.70), "gaussian_0.4": (18.0, 0.82),
            "masking_0.5": (16.0, 0.74)}
    _write_experiment(runs, "beyond_denoising_vs_features", {
        (k, "mnist_bg_rand_rot"): {"test_accuracy": acc, "unsupervised": {
            "kmeans_accuracy": 0.5, "psnr_denoised_db": db, "psnr_reconstruction_db": db + 2}}
        for k, (db, acc) in psnr.items()})
    # `sdae-experiment --seed=1` writes the seed-0 folder: its record is seed 1's.
    _write_experiment(runs, "beyond_local_variance", {
        ("uniform", "mnist"): {"test_accuracy": 0.5}}, config={"seed": 1})
    # A VQ-VAE pretraining: its codebook's use after the last epoch is the cell's.
    _write_experiment(runs, "beyond_vqvae", {("dvqvae_0.6", "codes_128"): {
        "unsupervised": {"kmeans_accuracy": 0.6, "linear_probe_accuracy": 0.9},
        "pretrain": [{"history": {"perplexity": [80.0, 97.5], "dead_codes": [0.25, 0.0]}}]}})
    out = tmp_path / "beyond.json"
    # The committed ledger: a seed measured in an earlier checkout (its runs/ gone) and a stale
    # record of a cell measured again now.
    ledger = tmp_path / "ledger.json"
    ledger.write_text(json.dumps({"beyond_embedding_size": {
        "sdae_50/mnist": {"2": {"test_accuracy": 0.99, "commit": "abc"},
                          "0": {"test_accuracy": 0.10, "commit": "abc"}},
        "sdae_250/mnist": {"0": {"test_accuracy": 0.93, "commit": "abc"}}}}))
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "beyond_report.py"), f"--runs_dir={runs}",
         f"--out={out}", f"--figures_dir={tmp_path / 'figures'}", "--no_pixels",
         f"--ledger={ledger}"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    small = report["beyond_embedding_size"]["cells"]["sdae_50/mnist"]
    assert small["seeds"] == [0, 1, 2]
    assert small["test_accuracy"]["values"] == [0.97, 0.95, 0.99]  # seed 0 measured again
    assert math.isclose(small["test_accuracy"]["mean"], 0.97)
    assert math.isclose(small["test_accuracy"]["spread"], 0.04)
    kept = report["beyond_embedding_size"]["cells"]["sdae_250/mnist"]["test_accuracy"]
    assert kept["values"] == [0.93]
    assert report["beyond_embedding_size"]["cells"]["sdae_2000/mnist"]["test_accuracy"] is None
    assert report["beyond_embedding_size"]["cells_done"] == "3/12"
    merged = json.loads(ledger.read_text())["beyond_embedding_size"]
    assert merged["sdae_50/mnist"]["0"]["test_accuracy"] == 0.97
    assert merged["sdae_50/mnist"]["0"]["commit"] != "abc"
    assert merged["sdae_50/mnist"]["1"]["test_accuracy"] == 0.95
    assert merged["sdae_250/mnist"]["0"] == {"test_accuracy": 0.93, "commit": "abc"}
    # A cell read from the committed results ledger keeps the commit that measured it (the
    # newest record of its cell and seed), not the checkout's: regenerating changes nothing.
    measured = {}
    for line in (REPO / "benchmarks" / "results" / "ledger.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("experiment") == "beyond_modern" and "(" not in record["cell"]:
            seed = str((record.get("config") or {}).get("seed", 0))
            measured[record["cell"], seed] = record["machine"]["commit"]
    modern = json.loads(ledger.read_text())["beyond_modern"]
    assert measured and {(cell, seed): modern[cell][seed]["commit"]
                         for cell, seed in measured} == measured
    uniform = json.loads(ledger.read_text())["beyond_local_variance"]["uniform/mnist"]
    assert uniform["1"]["test_accuracy"] == 0.5
    assert uniform.get("0", {}).get("test_accuracy") != 0.5
    vq = report["beyond_vqvae"]["cells"]["dvqvae_0.6/codes_128"]
    assert vq["codebook_perplexity"]["values"] == [97.5] and vq["dead_codes"]["values"] == [0.0]
    assert vq["linear_probe_accuracy"]["values"] == [0.9]
    row = "| dvqvae_0.6/codes_128 | 0.6000 | pending | 0.9000 | pending | pending | 97.5 | 0.0000 |"
    assert row in out.with_suffix(".md").read_text()
    dbs, accs = zip(*psnr.values(), strict=True)
    assert math.isclose(report["beyond_denoising_vs_features"]["pearson_r"],
                        float(np.corrcoef(dbs, accs)[0, 1]), rel_tol=1e-9)
    assert (tmp_path / "figures" / "beyond_embedding_size.png").stat().st_size > 5000
    assert (tmp_path / "figures" / "beyond_denoising_vs_features.png").exists()
    assert "pending" in out.with_suffix(".md").read_text()


@pytest.mark.slow
def test_api_defaults_benchmark_scores_pretrained_against_the_mlp(tmp_path):
    out = tmp_path / "api_defaults.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "api_defaults.py"), "--families=sdae_mnist",
         "--epochs=1", "--seeds=0", "--train=600", "--test=300", "--legacy", f"--out={out}"],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["family"] == "sdae_mnist" and cell["runs"][0]["mlp_widths"] == [1000, 1000]
    # One epoch on 600 digits: the MLP well above chance; the defaults before 2026-12-06
    # (batch 128, Adam 1e-3) near chance (0.107 here), today's clearly above them.
    assert cell["mlp"] > 0.5, cell
    assert cell["pretrained"] > cell["legacy_defaults"] + 0.1, cell
    assert "plain MLP" in out.with_suffix(".md").read_text()
    # other settings measured the same way, merged beside the defaults' cell
    variant = {"label": "wider", "build": {"hidden_units": [64, 32]},
               "pretrain": {"batch_size": 64}}
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "api_defaults.py"), "--families=sdae_mnist",
         "--epochs=1", "--seeds=0", "--train=600", "--test=300", f"--out={out}", "--merge",
         f"--variants={json.dumps([variant])}"],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    defaults, wider = json.loads(out.read_text())["cells"]
    assert defaults == cell and wider["variant"] == "wider"
    assert wider["runs"][0]["mlp_widths"] == [64, 32]
    assert wider["runs"][0]["settings"]["pretrain"] == {"batch_size": 64}
    assert "| sdae_mnist | wider | 1 + 1 |" in out.with_suffix(".md").read_text()


@pytest.mark.slow
def test_perf_backends_times_each_backend_in_its_own_process(tmp_path):
    pytest.importorskip("jax")
    out = tmp_path / "backends.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "perf.py"), "backends", "--examples=512",
         "--epochs=2", "--rounds=1", "--zoo_models=sdae_mnist", f"--out={out}"],
        capture_output=True, text=True, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = json.loads(out.read_text())["backends"]
    # the SDAE's two blocks: 784-1000-784 and 1000-1000-1000, 6 FLOPs per weight per image
    # less the first layer's input gradient (the profiler's count is within 5 % of it)
    weights = 2 * 784 * 1000 + 2 * 1000 * 1000
    assert abs(row["train_mflops_per_image"] * 1e6 / (6 * weights) - 1) < 0.2
    for setup in ("tensorflow", "tensorflow_xla", "jax"):
        assert row[setup]["images_per_s"] > 0 and 0 < row[setup]["roof_share"] < 2
    assert row["faster"] == max(("tensorflow", "tensorflow_xla", "jax"),
                                key=lambda setup: row[setup]["images_per_s"])


@pytest.mark.slow
def test_perf_bounds_profiles_each_target_family(tmp_path):
    """`perf.py bounds`: per target family, the measured share of the roof under the ceilings
    its profile gives; the SDAE on JAX beside it."""
    pytest.importorskip("jax")
    out = tmp_path / "bounds.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "perf.py"), "bounds", "--examples=512",
         "--epochs=2", "--zoo_models=sdae_mnist,cdae_mnist", f"--out={out}"],
        capture_output=True, text=True, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["model"], r["backend"]) for r in rows] == [
        ("sdae_mnist", "tensorflow"), ("cdae_mnist", "tensorflow"), ("sdae_mnist", "jax")]
    for r in rows:
        assert 0 < r["roof_share"] <= r["kernels_and_optimizer_ceiling"] + 1e-9, r
        assert r["kernels_and_optimizer_ceiling"] <= r["kernel_share"] + 1e-9, r
    tf_sdae = rows[0]["op_time_shares"]
    assert abs(sum(tf_sdae.values()) - 1) < 1e-6 and tf_sdae["kernels"] > 0.2
