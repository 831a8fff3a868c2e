"""Scaling out an experiment: the same 8-cell experiment run by the sequential runner and by
the Dask executor on a two-worker LocalCluster, one TensorFlow thread per process in both, wall
times measured one after the other on this machine (and the records compared cell for cell).

    python benchmarks/scale_out.py [--dataset mnist] [--train_examples 10000] [--epochs 3]
    python benchmarks/scale_out.py --flagfile flags/experiments/table2_report.flags \
        --extra=--pretrain_epochs=10,--finetune_epochs=5 \
        --out benchmarks/results/scale_out_table2.json

Each cell is its own seed of an SDAE (784-500-250 on 10k MNIST training examples, 3
pretraining epochs per block, 3 fine-tuning epochs by default): 8 pretrainings and 8
fine-tunings, no shared work, so the ideal speed-up is the worker count. The sequential runner
is also timed at two TensorFlow threads (every core on one cell at a time). Writes
benchmarks/results/scale_out.json and .md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, markdown_table, write_results


def flagfile(path, args):
    lines = ["# sdae-experiment --flagfile=scale_out.flags", "--model=sdae_mnist",
             f"--dataset={args.dataset}", f"--hidden_units={args.hidden_units}",
             f"--pretrain_epochs={args.epochs}", f"--finetune_epochs={args.epochs}",
             f"--train_examples={args.train_examples}", "--head_units=500", "--verbose=0",
             "--experiment=scale_out"]
    lines += [f"--run=sdae/seed{s}: seed={s}" for s in range(args.cells)]
    path.write_text("\n".join(lines) + "\n")


def warm_cache(flags, env):
    """Builds the MNIST variants the flagfile's cells read into the benchmark's cache, so the
    first timed run does not pay for building them and the second reuse them."""
    import re

    names = set(re.findall(r"(?:pretrain_)?dataset=(\w+)", flags.read_text()))
    code = ("from sdae_tf.data import load_dataset\n"
            f"for name in {sorted(names)!r}:\n    load_dataset(name, construction='report')\n"
            "    load_dataset(name)\n")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True)


def run(argv, env):
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--train_examples", type=int, default=10000)
    parser.add_argument("--hidden_units", default="500,250")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/scale_out.json")
    parser.add_argument("--flagfile", default=None,
                        help="a real experiment flagfile instead of the generated cells (its "
                             "shared pretrainings and references included)")
    parser.add_argument("--extra", default="",
                        help="comma-separated flags added to both runs, e.g. a smaller budget")
    args = parser.parse_args()
    exe = str(Path(sys.executable).parent / "sdae-experiment")
    one = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        flags = tmp / "scale_out.flags"
        if args.flagfile:
            flags = REPO / args.flagfile
        else:
            flagfile(flags, args)
        env = {**os.environ, "SDAE_TF_CACHE": str(tmp / "cache")}
        warm_cache(flags, env)  # the variants built once, before either timed run
        common = [exe, f"--flagfile={flags}", "--ledger=",
                  *[f for f in args.extra.split(",") if f]]
        seq = run([*common, f"--pool_dir={tmp / 'pool_seq'}", f"--out_dir={tmp / 'seq'}"],
                  {**env, **one})
        two = {"TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "2"}
        seq2 = (run([*common, f"--pool_dir={tmp / 'pool_seq2'}", f"--out_dir={tmp / 'seq2'}"],
                    {**env, **two}) if not args.flagfile else None)
        dask = run([*common, f"--pool_dir={tmp / 'pool_dask'}", f"--out_dir={tmp / 'dask'}",
                    "--executor=dask", f"--workers={args.workers}", "--threads_per_worker=1"],
                   env)

        def accuracies(name):
            record = json.loads((tmp / name / "experiment.json").read_text())
            return {f"{r['column']}/{r['row']}": r["test_accuracy"] for r in record["runs"]}

        same = accuracies("seq") == accuracies("dask")
        cells = accuracies("dask")
    if args.flagfile:
        result = {"flagfile": args.flagfile, "extra": args.extra, "workers": args.workers,
                  "sequential_seconds": round(seq, 1), "dask_seconds": round(dask, 1),
                  "speedup": round(seq / dask, 2), "records_identical": same,
                  "test_accuracy": cells}
        lines = [f"Scale-out of a real experiment: `{args.flagfile}` with `{args.extra}`, "
                 "whole `sdae-experiment` commands one after the other, one TensorFlow thread "
                 "per process", "",
                 *markdown_table(["runner", "wall time (s)", "speed-up"],
                                 [["sequential, 1 TensorFlow thread", f"{seq:.1f}", "1.00"],
                                  [f"dask, {args.workers} workers x 1 thread", f"{dask:.1f}",
                                   f"{seq / dask:.2f}"]]), "",
                 *markdown_table(["cell", "test accuracy (both runs)"],
                                 [[k, f"{v:.4f}"] for k, v in cells.items()]), "",
                 f"records identical cell for cell: {same}"]
        write_results(args.out, result, lines)
        return
    result = {"cells": args.cells, "dataset": args.dataset, "train_examples": args.train_examples,
              "hidden_units": args.hidden_units, "epochs": args.epochs, "workers": args.workers,
              "sequential_seconds": round(seq, 1), "sequential_2_threads_seconds": round(seq2, 1),
              "dask_seconds": round(dask, 1), "speedup": round(seq / dask, 2),
              "speedup_vs_2_threads": round(seq2 / dask, 2), "records_identical": same}
    lines = [f"Scale-out: {args.cells} cells (SDAE 784-{args.hidden_units.replace(',', '-')} on "
             f"{args.train_examples} {args.dataset} examples, {args.epochs} + {args.epochs} "
             "epochs each), whole `sdae-experiment` commands, one after the other", "",
             *markdown_table(["runner", "wall time (s)", "speed-up"],
                             [["sequential, 1 TensorFlow thread", f"{seq:.1f}", "1.00"],
                              ["sequential, 2 TensorFlow threads", f"{seq2:.1f}",
                               f"{seq / seq2:.2f}"],
                              [f"dask, {args.workers} workers x 1 thread", f"{dask:.1f}",
                               f"{seq / dask:.2f}"]]), "",
             f"records identical cell for cell (dask and sequential at 1 thread): {same}"]
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
