"""Packs the shipped models of `exported_models/` into `packed_models/` (what the wheel ships):
each weight once, in float16 (`sdae_tf.hub.packing`). Each pack is unpacked and checked on
real digits: both endpoints' largest difference from the float32 export, and the manifest's
linear probe re-measured on the unpacked encoder (recorded in the pack's `packed` section).

    python scripts/pack_presets.py [NAME ...]      # all shipped models by default
    python scripts/pack_presets.py --check         # exit 1 if a pack is missing or stale
"""

import argparse
import json
import pathlib
import shutil
import sys

from sdae_tf.utils import process

process.setup()

import numpy as np  # noqa: E402

import sdae_tf  # noqa: E402
from sdae_tf.data import load_dataset  # noqa: E402
from sdae_tf.evaluation import probe  # noqa: E402
from sdae_tf.hub import export as export_lib  # noqa: E402
from sdae_tf.hub import packing  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SOURCE, TARGET = REPO / "exported_models", REPO / "packed_models"


def shipped():
    return sorted(p.parent.name for p in SOURCE.glob(f"*/{export_lib.MANIFEST_FILE}"))


def stale(name):
    """Why the pack of `name` does not match its export, or None when it does."""
    pack = TARGET / name
    if not (pack / export_lib.MANIFEST_FILE).is_file():
        return "no pack"
    recorded = export_lib.load_manifest(pack)["packed"]["source_files_sha256"]
    if recorded != export_lib.recorded_checksums(export_lib.load_manifest(SOURCE / name)):
        return "packed from another version of the export"
    return None


def pack(name):
    manifest = export_lib.load_manifest(SOURCE / name)
    cfg, spec = manifest["config"], manifest["probe"]
    data = load_dataset("mnist", seed=cfg["data_seed"], validation_size=cfg["validation_size"])
    check = data.x_test[:256]
    out = packing.pack(SOURCE / name, TARGET / name, check_sample=check, overwrite=True)
    # The probe of the manifest, re-measured on what the pack unpacks to.
    cache = out.parent / f".{name}.probe-cache"
    try:
        unpacked = packing.unpack(out, cache=cache)
        encoder = sdae_tf.feature_extractor(unpacked)
        n_train, n_test = spec["train_examples"], spec["test_examples"]
        acc = probe.encoder_probe_accuracy(encoder, data.x_train[:n_train],
                                           data.y_train[:n_train], data.x_test[:n_test],
                                           data.y_test[:n_test])
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    # Recorded in a second pass, so the manifest's checksums stay those of the files.
    packed_manifest = export_lib.load_manifest(out)
    packed_manifest["packed"]["probe_accuracy"] = float(np.round(acc, 4))
    (out / export_lib.MANIFEST_FILE).write_text(
        json.dumps(packed_manifest, indent=2, sort_keys=True) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    full = sum(f.stat().st_size for f in (SOURCE / name).rglob("*") if f.is_file()) / 2**20
    diffs = packed_manifest["packed"]["max_abs_diff"]
    print(f"{name}: {full:.1f} MB -> {size:.1f} MB; max |diff| "
          + ", ".join(f"{k} {v:.2g}" for k, v in diffs.items())
          + f"; probe {spec['accuracy']:.4f} (float32) -> {acc:.4f} (packed)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    names = args.names or shipped()
    if args.check:
        problems = {n: why for n in names if (why := stale(n))}
        for n, why in problems.items():
            print(f"{n}: {why}; run python scripts/pack_presets.py {n}")
        return 1 if problems else 0
    for n in names:
        pack(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
