"""The "beyond the report" experiments (flags/beyond_*.flags) as tables and figures: reads their
experiment records (runs/<experiment>/experiment.json, and runs/<experiment>_seed<N>/ for
other seeds), trains nothing, and writes benchmarks/results/beyond_report.json / .md plus
docs/figures/beyond_*.png (embedding-size lines, transfer heat maps, denoising-vs-accuracy
scatter, interpolations, the VQ-VAEs' codebook use). Run it at any time: unfinished cells
show as pending. Every cell and seed it has seen is kept in the committed ledger
benchmarks/results/beyond_cells.json, so runs measured in an earlier checkout (whose runs/ is
gone) still count.

    python benchmarks/beyond_report.py [--seeds 0,1,2]
"""

import argparse
import functools
import json
import pathlib
import re
import shutil

import numpy as np
from common import REPO, git_commit, markdown_table, write_results

EXPERIMENTS = ("beyond_end_to_end", "beyond_dropout", "beyond_noise_schedule",
               "beyond_noise_per_layer", "beyond_local_variance", "beyond_embedding_size",
               "beyond_transfer", "beyond_denoising_vs_features", "beyond_interpolation",
               "beyond_kmeans", "beyond_modern", "beyond_vqvae", "beyond_kernel_prediction",
               "beyond_segmentation")
DATASETS = ("mnist", "mnist_rot", "mnist_bg_rand", "mnist_bg_rand_rot")


def cell_specs(experiment):
    """The flagfile's cells as `RunSpec`s (`sdae_tf.reproduce.experiments.parse_run`), in order."""
    from sdae_tf.reproduce.experiments import parse_run

    lines = (REPO / "flags" / "experiments" / f"{experiment}.flags").read_text().splitlines()
    return [parse_run(line[len("--run="):]) for line in lines if line.startswith("--run=")]


def cell_names(experiment):
    """The COLUMN/ROW names of a flagfile's cells, in order."""
    return [spec.name for spec in cell_specs(experiment)]


def cell_seeds(experiment):
    """{cell: seed} of the flagfile's cells that set their own seed (`seed=N` in the cell):
    a run recorded in the seed-0 experiment folder under such a cell is that seed's."""
    return {spec.name: int(spec.overrides["seed"]) for spec in cell_specs(experiment)
            if "seed" in spec.overrides}


METRICS = ("test_accuracy", "kmeans_accuracy", "linear_probe_accuracy", "psnr_denoised_db",
           "psnr_reconstruction_db", "psnr_masked_db", "codebook_perplexity", "dead_codes",
           "segmentation_iou", "segmentation_pixel_accuracy", "otsu_iou",
           "midpoint_same_class", "midpoint_different_class", "pixel_midpoint_different_class")


def codebook_history(metrics):
    """The per-epoch codebook use ({"perplexity": [...], "dead_codes": [...], ...}) of a VQ-VAE
    run's pretraining in its metrics, or None (no VQ-VAE block)."""
    for block in metrics.get("pretrain") or []:
        history = block.get("history") or {}
        if history.get("perplexity"):
            return history
    return None


def flat_metrics(run):
    """A cell record's figures as one flat dict (the keys of METRICS it has)."""
    out = {"test_accuracy": run.get("test_accuracy")}
    unsup = run.get("unsupervised") or {}
    for key in ("kmeans_accuracy", "linear_probe_accuracy", "psnr_denoised_db",
                "psnr_reconstruction_db", "psnr_masked_db"):
        if key in unsup:
            out[key] = unsup[key]
    history = codebook_history(run)
    if history:  # a VQ-VAE: its codebook's use after the last epoch
        out["codebook_perplexity"] = history["perplexity"][-1]
        out["dead_codes"] = history["dead_codes"][-1]
    seg = run.get("segmentation")
    if seg:  # a segmentation cell: foreground IoU on the test set, Otsu's on the same images
        out.update(segmentation_iou=seg["test_iou"],
                   segmentation_pixel_accuracy=seg["test_pixel_accuracy"],
                   otsu_iou=seg["otsu"]["iou"])
    between = run.get("interpolation")
    if between:
        for kind in ("same_class", "different_class"):
            out[f"midpoint_{kind}"] = between[kind]["decoded_midpoint_in_end_classes"]
        out["pixel_midpoint_different_class"] = (
            between["different_class"]["pixel_midpoint_in_end_classes"])
    return out


@functools.cache
def results_ledger():
    """The committed results ledger's records, read once."""
    from sdae_tf.reproduce.ledger import Ledger

    return tuple(Ledger(REPO / "benchmarks" / "results" / "ledger.jsonl").records())


def ledger_record(run_dir):
    """The results ledger's newest record of the pool run in `run_dir`, else None."""
    name = pathlib.Path(run_dir).name
    return next((r for r in reversed(results_ledger()) if r.get("run") == name), None)


def run_metrics(run_dir):
    """A finished run's metrics: its metrics.json in the pool, else the committed results
    ledger's record of it (`sdae-experiment --ledger`), else None."""
    path = pathlib.Path(run_dir) / "metrics.json"
    if path.exists():
        return json.loads(path.read_text())
    record = ledger_record(run_dir)
    return None if record is None else record["metrics"]


def experiment_records(experiment):
    """The committed results ledger's records of `experiment`, in order."""
    return [record for record in results_ledger() if record.get("experiment") == experiment]


def ledger_runs(experiment, seeds):
    """{cell: {seed: flat figures}} of the cells of `experiment` the committed results ledger
    records (what concurrent `sdae-experiment` processes finished, whichever wrote the
    experiment's experiment.json last), each with the commit that measured it; pretraining
    records are left out."""
    out = {}
    for record in experiment_records(experiment):
        cell, config = record.get("cell") or "", record.get("config") or {}
        if cell.endswith("(pretraining)"):
            continue
        seed = int(config.get("seed", 0))
        if seed not in seeds:
            continue
        metrics = record.get("metrics") or {}
        flat = {k: v for k, v in flat_metrics(metrics).items() if v is not None}
        if flat:
            flat["seconds"] = record.get("seconds")
            machine = record.get("machine") or {}
            if machine.get("commit"):
                flat["commit"] = machine["commit"]
            if machine.get("threads"):
                flat["threads"] = machine["threads"]
            out.setdefault(cell, {})[seed] = flat
    return out


def load_runs(runs_dir, experiment, seeds):
    """{cell: {seed: flat figures}} of the seeds' experiment records found under `runs_dir`,
    then the results ledger's for cells and seeds not found there."""
    out = {}
    own_seed = cell_seeds(experiment)
    for seed in seeds:
        folder = runs_dir / (experiment if seed == 0 else f"{experiment}_seed{seed}")
        path = folder / "experiment.json"
        if not path.exists():
            continue
        document = json.loads(path.read_text())
        # `sdae-experiment --seed=N` writes the seed-0 folder too: the record's own seed wins.
        run_seed = int((document.get("config") or {}).get("seed", seed))
        for run in document["runs"]:
            metrics = run_metrics(run["run_dir"]) or {}
            if metrics:
                for key in ("unsupervised", "interpolation", "segmentation", "pretrain"):
                    if key in metrics:
                        run.setdefault(key, metrics[key])
            record = {k: v for k, v in flat_metrics(run).items() if v is not None}
            if record:
                record["seconds"] = run.get("seconds")
                if metrics.get("threads"):
                    record["threads"] = metrics["threads"]
                measured = (ledger_record(run["run_dir"]) or {}).get("machine") or {}
                if measured.get("commit"):  # the commit that measured it
                    record["commit"] = measured["commit"]
                name = f"{run['column']}/{run['row']}"
                out.setdefault(name, {})[own_seed.get(name, run_seed)] = record
    for cell, records in ledger_runs(experiment, seeds).items():
        for seed, record in records.items():
            out.setdefault(cell, {}).setdefault(seed, record)
    return out


def merge_ledger(ledger, experiment, found, commit):
    """Adds the runs `found` now to the ledger's cells of `experiment` (a run found now
    replaces the ledger's record of the same cell and seed) and returns that experiment's
    {cell: {seed: record}}. The ledger is what outlives the run pool: the pool (runs/) is a
    working folder, lost with the checkout, while the ledger is committed, so the tables keep
    every cell and seed ever measured, each with the commit that measured it."""
    cells = ledger.setdefault(experiment, {})
    for name, seeds in found.items():
        for seed, record in seeds.items():
            # The commit that measured it (the ledger record's), else the checkout's.
            cells.setdefault(name, {})[str(seed)] = {"commit": commit, **record}
    return {name: {int(seed): record for seed, record in seeds.items()}
            for name, seeds in cells.items()}


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": float(np.mean(values)), "spread": float(np.max(values) - np.min(values)),
            "n": len(values), "values": [float(v) for v in values]}


def fmt(s, digits=4):
    if s is None:
        return "pending"
    text = f"{s['mean']:.{digits}f}"
    if s["n"] > 1:
        text += f" (spread {s['spread']:.{digits}f}, {s['n']} seeds)"
    return text


def pooled_name(name):
    """The cell a seed's own cell belongs to: `cdae_seed1/mnist` -> `cdae/mnist`."""
    column, slash, row = name.partition("/")
    return re.sub(r"_seed\d+$", "", column) + slash + row


def experiment_summary(experiment, runs, seeds):
    """{cell: {metric: summary over `seeds`}} for every cell of the flagfile (None: pending);
    cells that differ only by a `_seedN` suffix (a seed given its own cell) are one cell."""
    groups = {}
    for name in cell_names(experiment):
        groups.setdefault(pooled_name(name), []).append(name)
    cells = {}
    for name, members in groups.items():
        by_seed = {seed: r for member in members for seed, r in runs.get(member, {}).items()}
        records = [r for seed, r in sorted(by_seed.items()) if seed in seeds]
        record = {"test_accuracy": summary([r.get("test_accuracy") for r in records])}
        for key in METRICS[1:]:
            if any(key in r for r in records):
                record[key] = summary([r.get(key) for r in records])
        record["seeds"] = sorted(seed for seed in by_seed if seed in seeds)
        cells[name] = record
    return cells


def table_lines(experiment, cells):
    text = "\n".join(line for line in (REPO / "flags" / "experiments" / f"{experiment}.flags")
                     .read_text().splitlines() if not line.startswith("#"))
    every_cell_segments = "--task=segmentation" in text  # the flagfile's own flag
    keys = [] if "--finetune_epochs=0" in text or every_cell_segments else ["test_accuracy"]
    if "task=segmentation" in text:  # the flag, or some cells' override
        keys += ["segmentation_iou", "segmentation_pixel_accuracy", "otsu_iou"]
    if "--unsupervised_metrics" in text:
        keys += ["kmeans_accuracy", "psnr_denoised_db"]
        if experiment in ("beyond_modern", "beyond_vqvae"):
            keys += ["linear_probe_accuracy", "psnr_reconstruction_db", "psnr_masked_db"]
        if experiment == "beyond_vqvae":
            keys += ["codebook_perplexity", "dead_codes"]
    if "interpolation" in text.split("--figures=")[-1].splitlines()[0]:
        keys += ["midpoint_same_class", "midpoint_different_class",
                 "pixel_midpoint_different_class"]
    digits = {k: 2 if "psnr" in k else 1 if "perplexity" in k else 4 for k in keys}
    datasets = [name.partition("/")[2] for name in cells]
    if keys == ["test_accuracy"] and len(set(datasets)) > 1 and set(datasets) <= set(DATASETS):
        # One figure per cell and cells that are model x dataset: a model per row, a dataset
        # per column (test accuracy).
        columns = [d for d in DATASETS if d in datasets]
        models = list(dict.fromkeys(name.partition("/")[0] for name in cells))
        rows = [[model, *[fmt((cells.get(f"{model}/{d}") or {}).get("test_accuracy"))
                          if f"{model}/{d}" in cells else "-" for d in columns]]
                for model in models]
        return [f"### {experiment}", "", *markdown_table(["cell (test accuracy)", *columns],
                                                         rows), ""]
    head = ["cell", *[k.replace("_", " ") for k in keys]]
    rows = [[name, *[fmt(c.get(k), digits[k]) for k in keys]]
            for name, c in cells.items()]
    return [f"### {experiment}", "", *markdown_table(head, rows), ""]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)


def embedding_figure(cells, path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for dataset in ("mnist", "mnist_bg_rand_rot"):
        points = sorted((int(name.split("/")[0].split("_")[1]), c["test_accuracy"])
                        for name, c in cells.items() if name.endswith("/" + dataset)
                        and c["test_accuracy"] is not None)
        if points:
            xs = [x for x, _ in points]
            ys = [s["mean"] for _, s in points]
            # The bars span the seeds' lowest to highest value.
            low = [s["mean"] - min(s["values"]) for _, s in points]
            high = [max(s["values"]) - s["mean"] for _, s in points]
            seeds = max(s["n"] for _, s in points)
            ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3,
                        label=f"{dataset} (mean, seeds' range; {seeds} seeds)")
    ax.set_xscale("log")
    ax.set_xlabel("units in the top layer (784-1000-N)")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def transfer_figure(cells, path):
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    short = [d.replace("mnist_", "").replace("mnist", "mnist") for d in DATASETS]
    for ax, model in zip(axes, ("sdae", "sae"), strict=True):
        grid = np.full((4, 4), np.nan)
        for i, pre in enumerate(DATASETS):
            for j, target in enumerate(DATASETS):
                c = cells.get(f"{model}_from_{pre}/{target}", {}).get("test_accuracy")
                if c is not None:
                    grid[i, j] = c["mean"]
        ax.imshow(grid, cmap="viridis", vmin=0.6, vmax=1.0)
        for i in range(4):
            for j in range(4):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", fontsize=8,
                            color="white" if grid[i, j] < 0.85 else "black")
        ax.set_xticks(range(4), short, fontsize=8)
        ax.set_yticks(range(4), short, fontsize=8)
        ax.set_xlabel("fine-tuned and tested on")
        ax.set_ylabel("pretrained on")
        ax.set_title(model.upper())
    _save(fig, path)


def accuracy_against(cells, key):
    """(cell's column, mean of `key`, mean fine-tuned accuracy) of the cells that have both."""
    return [(name.split("/")[0], c[key]["mean"], c["test_accuracy"]["mean"])
            for name, c in cells.items() if c.get(key) and c.get("test_accuracy")]


def pearson(points):
    """Pearson r of `accuracy_against`'s points, or None under 3 points."""
    if len(points) < 3:
        return None
    _, x, y = zip(*points, strict=True)
    return float(np.corrcoef(x, y)[0, 1])


def scatter_figure(cells, path):
    """Fine-tuned accuracy against the pretrained autoencoder's PSNR, one panel per PSNR
    (Gaussian-0.4 test inputs; clean test inputs). Returns the first panel's Pearson r."""
    panels = (("psnr_denoised_db", "PSNR, Gaussian-0.4 MNIST test inputs (dB)"),
              ("psnr_reconstruction_db", "PSNR, clean MNIST test inputs (dB)"))
    points = {key: accuracy_against(cells, key) for key, _ in panels}
    if len(points["psnr_denoised_db"]) < 3:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.9), sharey=True)
    rs = []
    for ax, (key, label) in zip(axes, panels, strict=True):
        names, psnr, acc = zip(*points[key], strict=True)
        rs.append(pearson(points[key]))
        ax.scatter(psnr, acc)
        for n, x, y in points[key]:
            ax.annotate(n, (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
        ax.set_xlabel(f"pretrained autoencoder: {label}", fontsize=8)
        ax.set_title(f"Pearson r = {rs[-1]:.2f} over {len(names)} pretrainings", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fine-tuned accuracy, bg-rand-rot")
    _save(fig, path)
    return rs[0]


def codebook_use(experiment="beyond_modern"):
    """{model: {seed: {"perplexity": [...], "dead_codes": [...]}}}: the per-epoch codebook use
    of the experiment's VQ-VAE pretrainings in the committed results ledger (one per run)."""
    out = {}
    for record in experiment_records(experiment):
        metrics = record.get("metrics") or {}
        history = codebook_history(metrics)
        if history:
            seed = int((record.get("config") or {}).get("seed", 0))
            out.setdefault(metrics["model"], {})[seed] = {
                "perplexity": history["perplexity"], "dead_codes": history["dead_codes"]}
    return out


def codebook_figure(use, path):
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    for model, seeds in sorted(use.items()):
        for seed, h in sorted(seeds.items()):
            epochs = range(1, len(h["perplexity"]) + 1)
            label = f"{model} seed {seed}"
            left.plot(epochs, h["perplexity"], marker="o", label=label)
            right.plot(epochs, [100 * d for d in h["dead_codes"]], marker="o", label=label)
    left.set_ylabel("codebook perplexity (of 128 codes)")
    right.set_ylabel("dead codes (%)")
    for ax in (left, right):
        ax.set_xlabel("pretraining epoch")
        ax.grid(alpha=0.3)
    left.legend(fontsize=7)
    _save(fig, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs_dir", default=str(REPO / "runs"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default="benchmarks/results/beyond_report.json")
    parser.add_argument("--ledger", default="benchmarks/results/beyond_cells.json",
                        help="every cell and seed measured so far (read, extended, rewritten)")
    parser.add_argument("--figures_dir", default="docs/figures")
    parser.add_argument("--no_pixels", action="store_true",
                        help="skip the raw-pixel k-means reference (about 30 s)")
    args = parser.parse_args()
    runs_dir = pathlib.Path(args.runs_dir)
    seeds = [int(s) for s in args.seeds.split(",")]
    ledger_path = REPO / args.ledger
    ledger = json.loads(ledger_path.read_text()) if ledger_path.exists() else {}
    commit = git_commit()
    result, lines = {}, []
    for experiment in EXPERIMENTS:
        found = load_runs(runs_dir, experiment, seeds)
        cells = experiment_summary(experiment, merge_ledger(ledger, experiment, found, commit),
                                   seeds)
        result[experiment] = {"cells": cells}
        lines += table_lines(experiment, cells)
        done = sum(c["test_accuracy"] is not None or c.get("kmeans_accuracy") is not None
                   or c.get("segmentation_iou") is not None
                   or c.get("midpoint_same_class") is not None for c in cells.values())
        result[experiment]["cells_done"] = f"{done}/{len(cells)}"
    figures_dir = REPO / args.figures_dir
    figures_dir.mkdir(parents=True, exist_ok=True)
    figures = {}
    if any(c["test_accuracy"] for c in result["beyond_embedding_size"]["cells"].values()):
        embedding_figure(result["beyond_embedding_size"]["cells"],
                         figures_dir / "beyond_embedding_size.png")
        figures["embedding_size"] = f"{args.figures_dir}/beyond_embedding_size.png"
    if any(c["test_accuracy"] for c in result["beyond_transfer"]["cells"].values()):
        transfer_figure(result["beyond_transfer"]["cells"], figures_dir / "beyond_transfer.png")
        figures["transfer"] = f"{args.figures_dir}/beyond_transfer.png"
    q8 = result["beyond_denoising_vs_features"]
    r = scatter_figure(q8["cells"], figures_dir / "beyond_denoising_vs_features.png")
    for key, x in (("pearson_r_clean_reconstruction", "psnr_reconstruction_db"),
                   ("pearson_r_kmeans", "kmeans_accuracy")):
        r_x = pearson(accuracy_against(q8["cells"], x))
        if r_x is not None:
            q8[key] = r_x
    if r is not None:
        result["beyond_denoising_vs_features"]["pearson_r"] = r
        figures["denoising_vs_features"] = f"{args.figures_dir}/beyond_denoising_vs_features.png"
    composed = runs_dir / "beyond_interpolation" / "interpolation.png"
    if composed.exists():
        shutil.copyfile(composed, figures_dir / "beyond_interpolation.png")
    if (figures_dir / "beyond_interpolation.png").exists():  # drawn now or by an earlier run
        figures["interpolation"] = f"{args.figures_dir}/beyond_interpolation.png"
    use = codebook_use()
    if use:  # question 11: the VQ-VAEs' codebook use per pretraining epoch
        result["beyond_modern"]["codebook_use"] = use
        codebook_figure(use, figures_dir / "beyond_modern_codebook.png")
        figures["codebook_use"] = f"{args.figures_dir}/beyond_modern_codebook.png"
    result["figures"] = figures
    if not args.no_pixels:  # the reference row of question 10: k-means on the raw pixels
        from sdae_tf.data import load_dataset
        from sdae_tf.evaluation.unsupervised import kmeans_accuracy

        test = load_dataset("mnist", seed=0)
        pixels = kmeans_accuracy(test.x_test.reshape(len(test.x_test), -1), test.y_test, 10)
        result["beyond_kmeans"]["raw_pixels_kmeans_accuracy"] = pixels
        lines += [f"k-means on the raw pixels of the MNIST test set: {pixels:.4f}", ""]
    from sdae_tf.train.checkpoints import write_json_atomic

    write_json_atomic(ledger_path, dict(sorted(ledger.items())))
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
