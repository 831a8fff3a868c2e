"""Runs every performance comparison of `benchmarks/perf.py`, each in its own process, and
gathers the ratios into benchmarks/results/perf.json and perf.md (about 8 minutes here).

    python benchmarks/run_all.py [--sections roof,dense,...] [--examples 10000]
"""

import argparse
import json
import subprocess
import sys
import time

from common import REPO, write_results

SECTIONS = ("roof", "dense", "learned", "pipeline", "serving", "zoo")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/perf.json")
    args = parser.parse_args()
    start = time.perf_counter()
    results, lines = {}, []
    for section in args.sections.split(","):
        out = f"benchmarks/results/perf_{section}.json"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "perf.py"), section,
                        f"--examples={args.examples}", f"--epochs={args.epochs}",
                        f"--out={out}"], cwd=REPO, check=True)
        results[section] = json.loads((REPO / out).read_text())
        results[section]["wall_seconds"] = round(time.perf_counter() - t0, 1)
        lines += [f"### {section}", "", (REPO / out).with_suffix(".md").read_text(), ""]
    total = time.perf_counter() - start
    lines.append(f"All sections: {total / 60:.1f} min.")
    write_results(args.out, {"sections": results, "wall_seconds": round(total, 1)}, lines)


if __name__ == "__main__":
    main()
