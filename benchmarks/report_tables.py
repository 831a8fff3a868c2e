"""Tables 1-4 on the report's terms: where the `*_report` flagfiles' runs stand, beside the
report's numbers and ours at our validation-selected protocol.

The runs themselves are long (Table 1's full budget is about 3.5 h on 2 cores, Table 4's about
3-4 h; flags/experiments/table4_report_short.flags is its one-sitting budget) and go in the
background through the resumable run pool:

    sdae-experiment --flagfile=flags/experiments/table1_report.flags --pool_dir=runs/pool
    # (resumes)

This script trains nothing. It reads the pool (finished cells, and the epoch an unfinished one
has reached), keeps what the committed results file already holds for cells the pool has lost
(`carry_over`: the pool goes with the checkout), so it can be run at any time, and writes
`benchmarks/results/report_tables.json` and `.md` with, per cell: the report's number, our
test accuracy after the last epoch, the test accuracy every 10 epochs (accuracy against
budget), the wall time and the status, the mean and spread over training seeds where several
ran (`sdae-experiment ... --seed=1`), and ours at our validation-selected protocol on the
same data (`flags/experiments/table1.flags`, ...).

    python benchmarks/report_tables.py [--pool_dir runs/pool] [--tables table1_report,...]
"""

import argparse
import json
import pathlib

from common import REPO, markdown_table, write_results

# The committed results ledger `sdae-experiment --ledger` appends every finished cell to: a
# run the pool no longer has (another machine, a fresh checkout) is read from it.
LEDGER = REPO / "benchmarks" / "results" / "ledger.jsonl"
TABLES = ("table1_report", "table1_ours", "table2_report", "table2_ours", "table3_report",
          "table3_ours", "table4_report", "table4_report_short", "table4_ours")
CARRIED = ("test_accuracy", "curve", "mean_sigma", "finetune_seconds", "pretrain_seconds")


def parse_flagfile(name, extra=()):
    """The base `TrainConfig` and `--run` specs of `flags/experiments/<name>.flags` (plus
    `extra` flags, as given to `sdae-experiment`), parsed as `sdae-experiment` parses them."""
    from absl import flags

    import sdae_tf.cli.experiment  # noqa: F401  (defines --run, --experiment, ...)
    from sdae_tf.cli import flags as train_flags
    from sdae_tf.reproduce import experiments

    values = flags.FLAGS
    values.unparse_flags()
    values(["sdae-experiment", f"--flagfile=flags/experiments/{name}.flags", *extra])
    return (train_flags.config_from_flags(values), [experiments.parse_run(r) for r in values.run],
            values.report_item or name)


def _stage_logs(run_dir, protocol):
    """{stage: per-epoch logs} of a run directory: completed stages from progress.json, the
    stage in progress from its newest epoch checkpoint, named as the training loop names a
    finished stage's history (under the report protocol `val_*` is the test set: `test_*`)."""
    from sdae_tf.train.stages import _logs_to_history

    run_dir = pathlib.Path(run_dir)
    out = {}
    progress = run_dir / "progress.json"
    if progress.exists():
        for stage, record in json.loads(progress.read_text())["stages"].items():
            history = record.get("history", {})
            n = max((len(v) for v in history.values()), default=0)
            out[stage] = {"epochs": n, "done": True, "history": history}
    for latest in sorted((run_dir / "checkpoints").glob("*/latest.json")):
        state = json.loads(latest.read_text())
        logs = state.get("logs", [])
        out[latest.parent.name] = {"epochs": len(logs), "done": False,
                                   "history": _logs_to_history(logs, protocol)}
    return out


def run_metrics(run_dir):
    """A finished run's metrics: its metrics.json in the pool, else the ledger's record of
    it, else None."""
    from sdae_tf.reproduce.ledger import Ledger

    return Ledger(LEDGER).metrics(run_dir)


def _status(run_dir, cfg):
    """A one-line status of an unfinished run directory ("not started" if absent)."""
    if not pathlib.Path(run_dir).exists():
        return "not started", {}
    stages = _stage_logs(run_dir, cfg.protocol)
    if not stages:
        return "started", stages
    stage = next((s for s, r in stages.items() if not r["done"]), list(stages)[-1])
    total = cfg.finetune_epochs if stage == "finetune" else cfg.pretrain_epochs
    return f"{stage.replace('_', ' ')}: epoch {stages[stage]['epochs']}/{total}", stages


def _curve(history, every=None):
    """Test accuracy at epochs every, 2 * every, ... and the last epoch (every: 10, or 2 for
    runs shorter than 30 epochs)."""
    curve = history.get("test_accuracy") or []
    every = every or (10 if len(curve) >= 30 else 2)
    picks = [e for e in range(every, len(curve) + 1, every)]
    if curve and len(curve) not in picks:
        picks.append(len(curve))
    return {e: round(curve[e - 1], 4) for e in picks}


def _validation_numbers(item, pool_dir, extra):
    """Ours at our own protocol (validation split, best validation epoch) on the same data:
    the finished cells of `flags/experiments/<item>.flags` (e.g. table1.flags) in the pool."""
    if not (REPO / "flags" / "experiments" / f"{item}.flags").exists():
        return {}
    record = collect(item, pool_dir, extra, validation=False)
    return {(c["column"], c["row"]): c["test_accuracy"] for c in record["cells"]
            if c.get("test_accuracy") is not None}


def collect(name, pool_dir, extra=(), validation=True):
    """The cells of one experiment flagfile as they stand in `pool_dir` (with `validation`,
    also ours at the validation protocol, from the flagfile named after its report item)."""
    from sdae_tf.reproduce import experiments, report
    from sdae_tf.runner import config as config_lib

    base, specs, item = parse_flagfile(name, extra)
    validation = _validation_numbers(item, pool_dir, extra) if validation else {}
    finished, cells = {}, []
    for spec in specs:
        cell = {"column": spec.column, "row": spec.row,
                "report": report.report_number(item, spec.column, spec.row),
                "validation_protocol": validation.get((spec.column, spec.row))}
        try:
            cfg = config_lib.replace(base, **experiments._resolve(spec, finished))
        except ValueError as err:  # an @reference to a cell that has not finished yet
            cells.append({**cell, "status": f"waiting ({err})"})
            continue
        pretrain_dir, pretrain = None, {}
        cfg, pre_cfg = experiments.with_shared_pretraining(cfg, pool_dir)
        if pre_cfg is not None:
            pretrain_dir = pathlib.Path(cfg.init_from)
            pretrain = run_metrics(pretrain_dir) or {}
        run_dir = experiments.pool_dir_for(cfg, pool_dir)
        cell.update(run_dir=str(run_dir), pretrain_run=str(pretrain_dir) if pretrain_dir else None,
                    budget={"pretrain_epochs": cfg.pretrain_epochs,
                            "finetune_epochs": cfg.finetune_epochs})
        metrics = run_metrics(run_dir)
        if metrics is not None:
            finished[spec.name] = metrics
            history = metrics.get("finetune", {}).get("history", {})
            cell.update(status="finished", test_accuracy=metrics.get("test_accuracy"),
                        curve=_curve(history), mean_sigma=metrics.get("mean_sigma"),
                        finetune_seconds=metrics.get("seconds"),
                        pretrain_seconds=pretrain.get("seconds"))
        else:
            where = run_dir if run_dir.exists() or pretrain_dir is None else pretrain_dir
            status, stages = _status(where, cfg)
            if where == pretrain_dir and pretrain_dir is not None:
                status = ("not started (pretraining done)" if pretrain else
                          f"pretraining ({status})" if status != "not started" else status)
            ft = stages.get("finetune", {}).get("history", {})
            cell.update(status=status, curve=_curve(ft), test_accuracy=None)
        cells.append(cell)
    return {"experiment": name, "report_item": item, "protocol": base.protocol, "cells": cells}


def collect_seeds(name, pool_dir, extra=(), seeds=(0,)):
    """`collect` once per training seed (`--seed=N` added for N != the flagfile's), merged:
    per cell the test accuracy of every seed, their mean and spread (max - min)."""
    records = [collect(name, pool_dir, [*extra, *([f"--seed={s}"] if s else [])])
               for s in seeds]
    merged = records[0]
    for i, cell in enumerate(merged["cells"]):
        cell["seeds"] = {s: r["cells"][i].get("test_accuracy")
                         for s, r in zip(seeds, records, strict=True)}
        _seed_summary(cell)
    return merged


def _seed_summary(cell):
    """The mean and spread (max - min) of `cell["seeds"]`' test accuracies, set where two or
    more seeds have one."""
    done = [v for v in cell["seeds"].values() if v is not None]
    if len(done) > 1:
        cell["mean"] = sum(done) / len(done)
        cell["spread"] = max(done) - min(done)


def carry_over(record, previous):
    """Fills the cells of `record` that the run pool no longer holds from `previous` (the
    committed results file's record of the same experiment): the pool is a working folder,
    lost with the checkout, while the results file is committed. A finished cell keeps its
    figures and says which commit measured it; a seed measured before keeps its number; the
    validation-protocol number likewise. Mean and spread are recomputed over the seeds."""
    if previous is None:
        return record
    old = {(c["column"], c["row"]): c for c in previous["cells"]}
    for cell in record["cells"]:
        before = old.get((cell["column"], cell["row"]))
        if before is None:
            continue
        if cell.get("test_accuracy") is None and before.get("test_accuracy") is not None:
            cell.update({k: before.get(k) for k in CARRIED})
            cell["measured_at"] = before.get("measured_at") or previous["commit"]
            cell["status"] = f"finished (at {cell['measured_at'][:7]}; run pool since lost)"
        if cell.get("validation_protocol") is None:
            cell["validation_protocol"] = before.get("validation_protocol")
        seeds = {int(s): v for s, v in (cell.get("seeds") or {}).items()}
        for s, v in (before.get("seeds") or {}).items():
            if seeds.get(int(s)) is None and v is not None:
                seeds[int(s)] = v
        if seeds:
            cell["seeds"] = dict(sorted(seeds.items()))
            _seed_summary(cell)
    return record


def previous_records(path):
    """{experiment: record} of the results file at `path` (each with its commit), or {}."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    commit = (data.get("machine") or {}).get("commit") or "unknown"
    return {r["experiment"]: {**r, "commit": commit} for r in data.get("tables", [])}


def _fmt(value):
    return "-" if value is None else f"{value:.4f}"


def table_lines(record):
    from sdae_tf.reproduce import report

    item = record["report_item"]
    flagfile = f"flags/experiments/{record['experiment']}.flags"
    lines = [f"### {report.TABLES[item]['title']} (`{flagfile}`)", ""]
    rows = []
    for c in record["cells"]:
        ours = c.get("test_accuracy")
        seeds = "-"
        if c.get("mean") is not None:
            done = {s: v for s, v in c["seeds"].items() if v is not None}
            seeds = (f"{c['mean']:.4f} (spread {c['spread']:.4f}, seeds "
                     f"{', '.join(map(str, done))})")
        diff = "-" if ours is None or c["report"] is None else f"{ours - c['report']:+.4f}"
        curve = ", ".join(f"{e}: {a:.4f}" for e, a in (c.get("curve") or {}).items()) or "-"
        wall = "-"
        if c.get("finetune_seconds") is not None:
            wall = f"{c['finetune_seconds'] / 60:.0f} min"
            if c.get("pretrain_seconds"):
                wall += f" (+ {c['pretrain_seconds'] / 60:.0f} min pretraining, shared)"
        rows.append([report.row_label(c["row"]), report.column_label(item, c["column"]),
                     _fmt(c["report"]), _fmt(ours), diff, seeds,
                     _fmt(c.get("validation_protocol")), curve, wall, c["status"]])
    protocol = record.get("protocol", "report")
    lines += markdown_table(["dataset", "model", "report", f"ours, {protocol} protocol (seed 0)",
                             "difference", "seeds: mean", "ours, validation protocol",
                             "test accuracy by epoch", "wall", "status"], rows)
    return lines + [""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool_dir", default="runs/pool")
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--out", default="benchmarks/results/report_tables.json")
    parser.add_argument("--extra", default="",
                        help="flags the experiments ran with, e.g. --quick")
    parser.add_argument("--seeds", default="0,1,2",
                        help="training seeds to gather (runs of `--seed=N` added to the "
                             "flagfile); cells with two or more show their mean and spread")
    args = parser.parse_args()
    import os

    os.chdir(REPO)  # flagfiles nest with paths relative to the repository root
    seeds = [int(s) for s in args.seeds.split(",")]
    previous = previous_records(REPO / args.out)
    records = [carry_over(collect_seeds(name, args.pool_dir, args.extra.split(), seeds),
                          previous.get(name))
               for name in args.tables.split(",")]
    lines = []
    for record in records:
        lines += table_lines(record)
    write_results(args.out, {"pool_dir": args.pool_dir, "tables": records}, lines)


if __name__ == "__main__":
    main()
