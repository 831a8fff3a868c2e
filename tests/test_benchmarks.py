"""The performance suite runs end to end on a small sample (slow: `pytest -m slow`)."""

import json
import math
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_run_all_writes_every_section_and_the_summary(tmp_path):
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "run_all.py"), "--examples=640",
                    "--epochs=2", f"--out_dir={tmp_path}"], cwd=REPO, check=True,
                   capture_output=True, text=True)
    result = json.loads((tmp_path / "perf.json").read_text())
    sections = result["sections"]
    assert set(sections) >= {"roof", "dense", "optimizer", "learned", "pipeline", "threads",
                             "profile", "serving", "zoo", "distribute", "peer"}
    assert result["machine"]["commit"] and result["machine"]["cpus"] >= 1
    ratios = [sections["dense"]["loop_vs_plain_keras"]["ratio"], sections["optimizer"]["ratio"],
              sections["learned"]["ratio"], sections["pipeline"]["ratio"],
              *[r["throughput_ratio"] for r in sections["distribute"]["throughput"]]]
    assert all(math.isfinite(r) and 0.05 < r < 20 for r in ratios)
    kinds = {k["kind"]: k["share"] for k in sections["profile"]["kinds"]}
    assert kinds["matmul"] > 0.1 and sum(kinds.values()) == pytest.approx(1.0)
    assert any(s["onednn_enabled"] for s in sections["threads"]["settings"])
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
