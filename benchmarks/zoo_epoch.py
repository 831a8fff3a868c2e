"""One epoch of every MNIST zoo model through the training loop: seconds and losses per stage
(1 pretraining epoch per block, 1 fine-tuning epoch). Prints Markdown, writes JSON.

    python benchmarks/zoo_epoch.py --out benchmarks/results/zoo_epoch.json [--models a,b]
"""

import argparse
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import markdown_table, write_results  # noqa: E402

from sdae_tf import zoo  # noqa: E402
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import training  # noqa: E402


def one_epoch(name, workdir):
    cfg = config_lib.TrainConfig(model=name, pretrain_epochs=1, finetune_epochs=1, verbose=0,
                               run_dir=str(workdir / name))
    m = training.run(cfg)
    row = {"model": name, "seconds": m["seconds"], "test_accuracy": m["test_accuracy"],
           "finetune_seconds": m["finetune"]["seconds"],
           "finetune_loss": m["finetune"]["history"]["loss"][0]}
    row["pretrain"] = [
        {"block": b["block"], "seconds": b["seconds"], "loss": b["history"]["loss"][0],
         "val_loss": b["history"]["val_loss"][0],
         **({"sigma": b["history"]["sigma"][0]} if "sigma" in b["history"] else {})}
        for b in m.get("pretrain", [])
    ]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="comma-separated (default: all MNIST)")
    parser.add_argument("--out", default="benchmarks/results/zoo_epoch.json")
    args = parser.parse_args()
    names = args.models.split(",") if args.models else [
        e.name for e in zoo.REGISTRY if e.dataset == "mnist"]
    with tempfile.TemporaryDirectory() as tmp:
        rows = [one_epoch(n, pathlib.Path(tmp)) for n in names]
    table = []
    for r in rows:
        pre = "; ".join(
            f"{b['seconds']:.0f} s / {b['loss']:.4g}"
            + (f" (sigma {b['sigma']:.3f})" if "sigma" in b else "") for b in r["pretrain"]
        ) or "-"
        table.append([r["model"], pre, f"{r['finetune_seconds']:.0f} s / "
                      f"{r['finetune_loss']:.4f}", f"{r['test_accuracy']:.4f}"])
    lines = markdown_table(["model", "pretraining, per block: s / loss",
                            "fine-tuning: s / loss", "test acc"], table)
    write_results(args.out, {"models": rows}, lines)


if __name__ == "__main__":
    main()
