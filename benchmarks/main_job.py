"""Benchmark of the README's main job: wall time of the whole `sdae-train` command and test
accuracy, over one or more seeds and Keras backends (`--backends tensorflow,jax`: each seed
on each backend in turn). Prints a table and writes JSON.

    python benchmarks/main_job.py --seeds 0,1 --out benchmarks/results/main_job.json
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import REPO, markdown_table, write_results


def run_once(flagfile, seed, workdir, backend="tensorflow"):
    exe = shutil.which("sdae-train", path=os.path.dirname(sys.executable)) or "sdae-train"
    run_dir = workdir / f"run{seed}-{backend}"
    export_dir = workdir / f"export{seed}-{backend}"
    start = time.perf_counter()
    subprocess.run([exe, f"--flagfile={flagfile}", f"--seed={seed}", f"--run_dir={run_dir}",
                    f"--export_dir={export_dir}", "--verbose=0", f"--backend={backend}"],
                   cwd=REPO, check=True)
    wall = time.perf_counter() - start
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "seed": seed,
        "backend": metrics["backend"],
        "wall_seconds": round(wall, 1),
        "train_seconds": metrics["seconds"],
        "test_accuracy": metrics["test_accuracy"],
        "val_accuracy": metrics["val_accuracy"],
        "pretrain_seconds": [b["seconds"] for b in metrics.get("pretrain", [])],
        "finetune_seconds": metrics["finetune"]["seconds"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flagfile", default="flags/models/sdae_mnist.flags")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--backends", default="tensorflow",
                        help="Keras backends, comma-separated (each seed on each in turn)")
    parser.add_argument("--out", default="benchmarks/results/main_job.json")
    parser.add_argument("--note", default="",
                        help="what else ran on the machine, recorded with the figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_once(args.flagfile, int(s), pathlib.Path(tmp), backend)
                for s in args.seeds.split(",") for backend in args.backends.split(",")]
    result = {
        "flagfile": args.flagfile,
        "runs": runs,
        "median_wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
        "min_test_accuracy": min(r["test_accuracy"] for r in runs),
        "note": args.note,
    }
    lines = markdown_table(
        ["seed", "backend", "wall s", "train s", "val acc", "test acc"],
        [[r["seed"], r["backend"]["name"], r["wall_seconds"], r["train_seconds"],
          f"{r['val_accuracy']:.4f}", f"{r['test_accuracy']:.4f}"] for r in runs])
    if args.note:
        lines += ["", f"Conditions: {args.note}."]
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
