"""Reproduction benchmark: runs the Table 1, 3 and 4 flagfiles for real (select on the validation
split, report test accuracy), prints each table beside the report's numbers and the wall time,
and writes JSON + Markdown.

    python benchmarks/reproduce.py                      # tables 1, 3, 4 (about 80 min here)
    python benchmarks/reproduce.py --tables table1      # Table 1 alone (about 50 min)

Runs live in --work_dir/pool (reused when finished, resumed when interrupted, shared between
the tables: Table 3's fixed-sigma cell and Table 4's SDAE column are Table 1's runs); each
table's wall time counts only what it trained itself.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from common import REPO, git_commit, write_results

from sdae_tf.reproduce import report


def run_table(name, work_dir, extra):
    """`sdae-experiment --flagfile=flags/<name>.flags` in its own process; returns its record
    and wall time."""
    out_dir = work_dir / name
    cmd = [sys.executable, "-m", "sdae_tf.cli.experiment",
           f"--flagfile=flags/experiments/{name}.flags",
           f"--out_dir={out_dir}", f"--pool_dir={work_dir / 'pool'}", "--verbose=0", *extra]
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"})
    wall = time.perf_counter() - start
    record = json.loads((out_dir / "experiment.json").read_text())
    return record, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="table1,table3,table4")
    parser.add_argument("--work_dir", default="runs/reproduce")
    parser.add_argument("--out", default="benchmarks/results/reproduce.json")
    parser.add_argument("--extra", default="", help="flags added to every table, e.g. --quick")
    args = parser.parse_args()
    work_dir = (REPO / args.work_dir).resolve()
    extra = args.extra.split()
    import tensorflow as tf  # noqa: F401  (recorded by write_results)

    result = {"extra_flags": extra, "tables": {}}
    lines = [f"Commit {git_commit()}, {os.cpu_count()} CPUs.", ""]
    total = 0.0
    for name in args.tables.split(","):
        record, wall = run_table(name, work_dir, extra)
        total += wall
        trained = [r for r in record["runs"] if not r["reused"]]
        result["tables"][name] = {
            "wall_seconds": round(wall, 1),
            "runs_trained": len(trained),
            "runs_reused": len(record["runs"]) - len(trained),
            "config": record["config"],
            "cells": [
                {**{k: r[k] for k in ("column", "row", "test_accuracy", "val_accuracy",
                                       "mean_sigma", "seconds", "reused", "pretrain_dataset")},
                 "report": report.report_value(record["report_item"], r["column"], r["row"])}
                for r in record["runs"]
            ],
        }
        table = report.experiment_table(record)
        print("\n".join(table), flush=True)
        table[2] = (f"`flags/experiments/{name}.flags`: {len(trained)} runs trained, "
                    f"{len(record['runs']) - len(trained)} reused; wall {wall / 60:.1f} min")
        lines += table
    result["total_wall_seconds"] = round(total, 1)
    lines.append(f"Total wall time {total / 60:.1f} min.")
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
