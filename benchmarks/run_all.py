"""Runs every performance comparison of `benchmarks/perf.py`, each in its own process, and
gathers the ratios into benchmarks/results/perf.json and perf.md (the section `modern` alone,
at the default 11 776 examples, spends several minutes on each residual autoencoder; pass
`--sections` to pick).

    python benchmarks/run_all.py [--sections roof,dense,...] [--examples 10000] [--out_dir D]
"""

import argparse
import json
import subprocess
import sys
import time

from common import REPO, markdown_table, write_results

SECTIONS = ("roof", "dense", "optimizer", "learned", "pipeline", "threads", "profile",
            "serving", "zoo", "distribute", "peer", "precision", "modern")


def summary(results):
    """The headline ratios of the sections that ran, with the issue's targets: Markdown rows."""
    rows = []

    def add(name, value, target=None, met=None, fmt="{:.2f}"):
        rows.append([name, fmt.format(value), target or "-",
                     "-" if met is None else ("yes" if met else "no")])

    r = results
    if "dense" in r:
        for t in r["dense"]["throughput"]:
            if not t["jit"]:
                add(f"SDAE block, batch {t['batch']}: % of roof (matmuls alone)",
                    100 * t["fraction_of_roof"], ">= 70 %", t["fraction_of_roof"] >= 0.7,
                    "{:.0f} %" + f" ({100 * t['matmul_only_fraction_of_roof']:.0f} %)")
        jit = [t for t in r["dense"]["throughput"] if t["jit"]]
        plain = [t for t in r["dense"]["throughput"] if not t["jit"] and t["batch"] == 128]
        if jit and plain:
            add("XLA on / off, batch 128 (samples/s)",
                jit[0]["samples_per_s"] / plain[0]["samples_per_s"])
        loop = r["dense"]["loop_vs_plain_keras"]
        add("our loop / plain Keras fit (epoch time)", loop["ratio"], "<= 1.05",
            loop["ratio"] <= 1.05)
        add(f"{loop['steps_per_execution']} steps per compiled call / 1 (epoch time)",
            loop["ratio_vs_one_step_per_call"])
    if "optimizer" in r:
        add("FusedAdam / keras Adam (block epoch time)", r["optimizer"]["ratio"])
    if "learned" in r:
        add(f"learned-sigma step / SDAE step (FLOP ratio {r['learned']['flop_ratio']:.2f})",
            r["learned"]["ratio"], "<= 1.10", r["learned"]["ratio"] <= 1.10)
    if "pipeline" in r:
        add("our tf.data pipeline / in-memory (epoch time)", r["pipeline"]["ratio"], "<= 1.05",
            r["pipeline"]["ratio"] <= 1.05)
    if "threads" in r:
        for t in r["threads"]["settings"][1:]:
            add(f"{t['setting']} / oneDNN off (fine-tuning samples/s)", t["finetune_vs_first"])
    if "serving" in r:
        for t in r["serving"]["serving"]:
            add(f"SavedModel / Keras predict, batch {t['batch']} (samples/s)", t["ratio"],
                ">= 0.9", t["ratio"] >= 0.9)
    if "distribute" in r:
        for t in r["distribute"]["throughput"]:
            add(f"mirrored on 2 logical CPUs / one device, batch {t['batch']} (samples/s)",
                t["throughput_ratio"])
    if "precision" in r:
        for t in r["precision"]["precision"]:
            add(f"{t['model']}: mixed_bfloat16 / float32 (pretraining images/s)", t["speedup"])
    if "modern" in r:
        for t in r["modern"]["modern"]:
            add(f"{t['model']}: % of roof (pretraining, every block)", 100 * t["roof_share"],
                fmt="{:.0f} %")
    if "peer" in r and "ratio" in r["peer"]:
        add("ours / plain PyTorch loop (epoch time)", r["peer"]["ratio"])
    return markdown_table(["figure", "measured", "target", "met"], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--examples", type=int, default=11776)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of the sections that compare set-ups")
    parser.add_argument("--zoo_models", default=None,
                        help="section zoo: only these entries (comma-separated; default all)")
    parser.add_argument("--out_dir", default="benchmarks/results",
                        help="where perf.json/.md and perf_<section>.json/.md go")
    args = parser.parse_args()
    start = time.perf_counter()
    results, lines = {}, []
    for section in args.sections.split(","):
        out = f"{args.out_dir}/perf_{section}.json"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "perf.py"), section,
                        f"--examples={args.examples}", f"--epochs={args.epochs}",
                        f"--rounds={args.rounds}", f"--out={out}",
                        *([f"--zoo_models={args.zoo_models}"] if args.zoo_models else [])],
                       cwd=REPO, check=True)
        results[section] = json.loads((REPO / out).read_text())
        results[section]["wall_seconds"] = round(time.perf_counter() - t0, 1)
        lines += [f"### {section}", "", (REPO / out).with_suffix(".md").read_text(), ""]
    total = time.perf_counter() - start
    lines = ["### summary", "", *summary(results), "", *lines,
             f"All sections: {total / 60:.1f} min."]
    write_results(f"{args.out_dir}/perf.json",
                  {"sections": results, "wall_seconds": round(total, 1)}, lines)


if __name__ == "__main__":
    main()
