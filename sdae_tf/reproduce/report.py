"""The report's published numbers (the report's Tables 1-5) and the
Markdown tables that put ours beside them (`sdae-report`).

An experiment's runs are named `COLUMN/ROW`; `TABLES[item]` maps those ids to the report's labels
and numbers. A column of ours that extends one of the report's (`sdae_target`, `cdae_stack`,
`sdae_learned_ft_noise02`) is set beside that column's number (`report_number`); one that extends
none (Table 3's control, `sdae_mean_sigma`) shows "-" in the report column."""

import pathlib

from sdae_tf.utils import markdown, storage

TABLES = {
    "table1": {
        "title": "Table 1: no pretraining vs SAE vs SDAE (784-1000-1000 sigmoid, 2-layer head); "
                 "pretrained on MNIST",
        "columns": {
            "nopretrain": "No pretraining",
            "sae": "SAE",
            "sdae": "SDAE",
            "sdae_target": "SDAE pretrained on the variant itself (ours)",
            "sdae_ft_noise02": "SDAE, 30 fine-tuning epochs, input noise 0.2 (ours)",
            "sdae_ft_noise04": "SDAE, 30 fine-tuning epochs, input noise 0.4 (ours)",
            "sae_ft_noise02": "SAE, 30 fine-tuning epochs, input noise 0.2 (ours)",
            "nopretrain_ft_noise02": "No pretraining, 30 fine-tuning epochs, input noise 0.2 "
                                     "(ours)",
            "nopretrain_ft_noise02_60_epochs": "No pretraining, 60 fine-tuning epochs, input "
                                               "noise 0.2 (ours)",
            "nopretrain_pixels": "No pretraining: the head alone on the pixels (the report's "
                                 "experiment 10)",
        },
        "values": {
            ("nopretrain", "mnist"): 0.9792, ("sae", "mnist"): 0.9807, ("sdae", "mnist"): 0.9831,
            ("nopretrain", "mnist_rot"): 0.9217, ("sae", "mnist_rot"): 0.9243,
            ("sdae", "mnist_rot"): 0.9448,
            ("nopretrain", "mnist_bg_rand"): 0.8685, ("sae", "mnist_bg_rand"): 0.9001,
            ("sdae", "mnist_bg_rand"): 0.9323,
            ("nopretrain", "mnist_bg_rand_rot"): 0.7210, ("sae", "mnist_bg_rand_rot"): 0.7953,
            ("sdae", "mnist_bg_rand_rot"): 0.8622,
        },
    },
    "table2": {
        "title": "Table 2: VAE vs DVAE vs SDVAE, latent mean as features",
        "columns": {"vae": "VAE", "dvae": "DVAE", "sdvae": "SDVAE",
                    "vae_kl1": "VAE, KL weight 1",
                    "dvae_kl1": "DVAE, KL weight 1",
                    "sdvae_kl1": "SDVAE, KL weight 1",
                    "vae_kl1_on_variant": "VAE, KL weight 1, pretrained on the variant",
                    "dvae_kl1_on_variant": "DVAE, KL weight 1, pretrained on the variant",
                    "sdvae_kl1_on_variant": "SDVAE, KL weight 1, pretrained on the variant",
                    "vae_mse": "VAE, summed squared error (the report's VAE loss)",
                    "vae_ft_noise02": "VAE, 30 fine-tuning epochs, input noise 0.2 (ours)",
                    "dvae_ft_noise02": "DVAE, 30 fine-tuning epochs, input noise 0.2 (ours)",
                    "sdvae_ft_noise02": "SDVAE, 30 fine-tuning epochs, input noise 0.2 (ours)"},
        "values": {("vae", "mnist_bg_rand_rot"): 0.7482, ("dvae", "mnist_bg_rand_rot"): 0.7943,
                   ("sdvae", "mnist_bg_rand_rot"): 0.7962},
    },
    "table3": {
        "title": "Table 3: fixed sigma 0.4 vs learned sigma (and the caption's control: fixed "
                 "sigma = the mean learned sigma)",
        "columns": {
            "sdae_fixed": "SDAE (sigma = 0.4)",
            "sdae_learned": "SDAE (learned sigma)",
            "sdae_mean_sigma": "SDAE (sigma = mean learned sigma; ours)",
            "sdae_fixed_ft_noise02": "SDAE (sigma = 0.4), 30 fine-tuning epochs, input noise 0.2 "
                                     "(ours)",
            "sdae_learned_ft_noise02": "SDAE (learned sigma), 30 fine-tuning epochs, input noise "
                                       "0.2 (ours)",
        },
        "values": {("sdae_fixed", "mnist_bg_rand"): 0.9323,
                   ("sdae_learned", "mnist_bg_rand"): 0.9390},
    },
    "table4": {
        "title": "Table 4: SDAE vs CAE vs CDAE",
        "columns": {"sdae": "SDAE", "cae": "CAE", "cdae": "CDAE",
                    "cae_stack": "CAE, the report's conv network (scae_mnist)",
                    "cdae_stack": "CDAE, the report's conv network (scdae_mnist)",
                    "cdae_stack_50_epochs": "CDAE, the report's conv network, 50 fine-tuning "
                                            "epochs",
                    "cae_stack_ft_noise02": "CAE, the report's conv network, 20 cosine "
                                            "fine-tuning epochs, input noise 0.2 (ours)",
                    "cdae_stack_ft_noise02": "CDAE, the report's conv network, 20 cosine "
                                             "fine-tuning epochs, input noise 0.2 (ours)"},
        "values": {
            ("sdae", "mnist"): 0.9831, ("cae", "mnist"): 0.9925, ("cdae", "mnist"): 0.9930,
            ("sdae", "mnist_bg_rand"): 0.9323, ("cae", "mnist_bg_rand"): 0.9764,
            ("cdae", "mnist_bg_rand"): 0.9807,
            ("sdae", "mnist_bg_rand_rot"): 0.8622, ("cae", "mnist_bg_rand_rot"): 0.9271,
            ("cdae", "mnist_bg_rand_rot"): 0.9483,
        },
    },
    "table5": {
        "title": "Table 5: CAE vs CDAE on colour datasets",
        "columns": {"cae": "CAE", "cdae": "CDAE"},
        "values": {("cae", "cub200"): 0.2193, ("cdae", "cub200"): 0.2381,
                   ("cae", "cifar10"): 0.6395, ("cdae", "cifar10"): 0.6504},
    },
}


def report_value(item, column, row):
    """The report's number for `column/row` of `item`, or None.

    Args:
        item: a report table or figure ("table1", ...).
        column, row: the cell.

    Returns:
        A float, or None.
    """
    return TABLES.get(item, {}).get("values", {}).get((column, row))


def report_number(item, column, row):
    """The report's number to set beside a cell: its column's, else that of the longest column
    its name extends (`cdae_stack_50_epochs` is a CDAE cell at another budget or network: the
    report's CDAE number; `sdae_learned_ft_noise02` extends `sdae_learned`, not `sdae`).

    Args:
        item: a report table or figure.
        column, row: the cell.

    Returns:
        A float, or None.
    """
    parts = column.split("_")
    for n in range(len(parts), 0, -1):
        value = report_value(item, "_".join(parts[:n]), row)
        if value is not None:
            return value
    return None


def column_label(item, column):
    """How the report's table `item` names `column` (the column itself when it has no label).

    Args:
        item: a report table.
        column: a column's name.

    Returns:
        A str.
    """
    return TABLES.get(item, {}).get("columns", {}).get(column, column)


def row_label(row):
    """How tables name a dataset (its registry label).

    Args:
        row: a dataset's name.

    Returns:
        A str.
    """
    from sdae_tf.data import REGISTRY

    return REGISTRY[row].label if row in REGISTRY else row


def _fmt(value):
    return "-" if value is None else f"{value:.4f}"


def experiment_table(record):
    """Markdown lines for one experiment record (`experiment.json`): report vs ours.

    Args:
        record: an experiment's record (`experiment.json`), a dict.

    Returns:
        A list of Markdown lines.
    """
    item = record.get("report_item") or record["experiment"]
    title = TABLES.get(item, {}).get("title") or record.get("title") or item
    lines = [f"### {title}", "",
             f"`{record['experiment']}`, {len(record['runs'])} runs, "
             f"{record.get('seconds', 0) / 60:.1f} min", ""]
    accuracy = [r for r in record["runs"] if r.get("test_accuracy") is not None]
    if accuracy:
        rows = []
        for r in accuracy:
            ref = report_number(item, r["column"], r["row"])
            ours = r["test_accuracy"]
            diff = "-" if ref is None else f"{ours - ref:+.4f}"
            rows.append([row_label(r["row"]), column_label(item, r["column"]), _fmt(ref),
                         f"{ours:.4f}", diff, f"{r.get('seconds', 0):.0f} s"])
        lines += markdown.table(["dataset", "model", "report", "ours", "difference", "wall"],
                                rows) + [""]
    unsupervised = [r for r in record["runs"] if r.get("unsupervised")]
    if unsupervised:
        def masked(u):  # images whose side the 4x4 patches do not divide have none
            return (f"{u['psnr_masked_db']:.2f} (input {u['psnr_masked_input_db']:.2f})"
                    if "psnr_masked_db" in u else "-")

        rows = [[r["column"], r["unsupervised"]["dataset"],
                 f"{r['unsupervised']['kmeans_accuracy']:.4f}",
                 f"{r['unsupervised']['psnr_reconstruction_db']:.2f}",
                 f"{r['unsupervised']['psnr_denoised_db']:.2f}",
                 masked(r["unsupervised"])] for r in unsupervised]
        lines += ["Before any label (the pretrained stack, test set):", ""]
        lines += markdown.table(["model", "data", "k-means accuracy", "PSNR clean input (dB)",
                                 "PSNR Gaussian-0.4 input (dB)",
                                 "PSNR 75% of 4x4 patches hidden (dB)"], rows) + [""]
    segmented = [r for r in record["runs"] if r.get("segmentation")]
    if segmented:
        rows = [[r["column"], row_label(r["row"]), f"{r['segmentation']['test_iou']:.4f}",
                 f"{r['segmentation']['test_pixel_accuracy']:.4f}",
                 f"{r['segmentation']['otsu']['iou']:.4f}", f"{r.get('seconds', 0):.0f} s"]
                for r in segmented]
        lines += ["Segmentation of the digit (test set, every pixel):", ""]
        lines += markdown.table(["model", "data", "foreground IoU", "pixel accuracy",
                                 "Otsu's threshold IoU", "wall"], rows) + [""]
    clustered = [r for r in record["runs"] if r.get("clustering")]
    if clustered:
        def score(c, method, key):
            value = (c["scores"].get(method) or {}).get(key)
            return "-" if value is None else f"{value:.4f}"

        rows = [[r["column"], row_label(r["row"]), r["clustering"]["method"],
                 score(r["clustering"], "kmeans", "accuracy"),
                 *(score(r["clustering"], r["clustering"]["method"].lower(), k)
                   for k in ("accuracy", "nmi", "ari")),
                 f"{r['clustering']['batches']} ({r['clustering']['stopped']})",
                 f"{r.get('seconds', 0):.0f} s"] for r in clustered]
        lines += ["Clustering (accuracy under the Hungarian matching, NMI with arithmetic "
                  "normalisation, ARI; " + "; ".join(sorted({
                      f"{r['clustering']['protocol']}: {r['clustering']['scored']}"
                      for r in clustered})) + "):", ""]
        lines += markdown.table(["model", "data", "method", "k-means accuracy", "accuracy",
                                 "NMI", "ARI", "batches", "wall"], rows) + [""]
    between = [r for r in record["runs"] if r.get("interpolation")]
    if between:
        rows = [[r["column"],
                 f"{r['interpolation']['same_class']['decoded_midpoint_in_end_classes']:.3f}",
                 f"{r['interpolation']['different_class']['decoded_midpoint_in_end_classes']:.3f}",
                 f"{r['interpolation']['different_class']['pixel_midpoint_in_end_classes']:.3f}"]
                for r in between]
        lines += ["Decoded midpoints a pixel classifier puts in an end class:", ""]
        lines += markdown.table(["model", "same class", "different classes",
                                 "different, pixel midpoint"], rows) + [""]
    figures = [(r, name, path) for r in record["runs"]
               for name, path in sorted(r.get("figures", {}).items())]
    if figures or record.get("figures"):
        lines += ["Figures: " + ", ".join(
            f"`{p}`" for p in sorted(record.get("figures", {}).values())
            or [path for _, _, path in figures]), ""]
    if record.get("pending"):
        lines += [f"Still to run: {', '.join(record['pending'])}", ""]
    extras = [r for r in record["runs"] if r.get("mean_sigma") is not None]
    for r in extras:
        lines.append(f"{r['column']}/{r['row']}: mean learned sigma {r['mean_sigma']:.3f}")
    if extras:
        lines.append("")
    return lines


# Which report column a plain `sdae-train` run of a zoo model belongs to.
MODEL_COLUMNS = {
    "nopretrain_mnist": "nopretrain", "sae_mnist": "sae", "sdae_mnist": "sdae",
    "sdae_learned_sigma_mnist": "sdae_learned", "vae_mnist": "vae", "dvae_mnist": "dvae",
    "sdvae_mnist": "sdvae", "cae_mnist": "cae", "cdae_mnist": "cdae", "cae_cifar10": "cae",
    "cdae_cifar10": "cdae", "cae_cub200": "cae", "cdae_cub200": "cdae",
}


def run_row(metrics):
    """The table cells of a plain `sdae-train` run directory's metrics.json.

    Args:
        metrics: a run's metrics.json, a dict.

    Returns:
        A list of table cells.
    """
    column = MODEL_COLUMNS.get(metrics.get("model"))
    ref = None
    for item, table in TABLES.items():
        value = table["values"].get((column, metrics.get("dataset")))
        if value is not None and ref is None:
            ref = (item, value)
    ours = metrics.get("test_accuracy")
    diff = "-" if ref is None or ours is None else f"{ours - ref[1]:+.4f}"
    return [metrics.get("model"), row_label(metrics.get("dataset", "?")),
            "-" if ref is None else f"{ref[1]:.4f} ({ref[0]})", _fmt(ours), diff,
            f"{metrics.get('seconds', 0):.0f} s"]


def gather(paths):
    """Markdown for experiment directories (their `experiment.json`) and run directories
    (their `metrics.json`), report numbers beside ours.

    Args:
        paths: experiment and run directories.

    Returns:
        The Markdown text.
    """
    lines, runs = [], []
    for path in paths:
        path = pathlib.Path(path)
        if (path / "experiment.json").exists():
            record = storage.read_json(path / "experiment.json", "the experiment record")
            lines += experiment_table(record)
        elif (path / "metrics.json").exists():
            runs.append(storage.read_json(path / "metrics.json", "the run's metrics"))
        else:
            raise FileNotFoundError(f"{path}: neither an experiment directory (experiment.json) "
                                    "nor a finished run directory (metrics.json)")
    if runs:
        lines += markdown.table(["model", "dataset", "report", "ours", "difference", "wall"],
                                [run_row(m) for m in runs]) + [""]
    return "\n".join(lines)
