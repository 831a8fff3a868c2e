"""Runs the three tuning flagfiles (flags/tuning/*.flags: sigma, embedding size, lambda) as
`sdae-tune` runs them, each in a fresh search folder, and writes benchmarks/results/tuning.json
(every search's results.json record, its wall time, the machine) and tuning.md (per search its
best trials' table, as `sdae-tune` writes it; the docs' tuning page copies these tables).

    python benchmarks/tuning.py [--searches sigma,embedding,lambda]
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

from common import REPO, write_results

SEARCHES = ("sigma", "embedding", "lambda")


def run_search(name, work):
    """Runs flags/tuning/tune_NAME_mnist.flags with its folders under `work`; returns its
    results.json record with the wall time."""
    flagfile = REPO / "flags" / "tuning" / f"tune_{name}_mnist.flags"
    tune_dir = work / f"{name}_mnist"
    start = time.time()
    subprocess.run([sys.executable, "-m", "sdae_tf.cli.tune", f"--flagfile={flagfile}",
                    f"--tune_dir={tune_dir}", f"--export_dir={work / f'{name}_best'}"],
                   cwd=REPO, check=True)
    record = json.loads((tune_dir / "results.json").read_text())
    return {**record, "wall_seconds": round(time.time() - start, 1),
            "flagfile": str(flagfile.relative_to(REPO))}


def markdown(name, record):
    from sdae_tf.integrations.tuning import results_markdown

    text = results_markdown(record).replace("# sdae-tune:", f"### {name}: sdae-tune", 1)
    return text.splitlines() + ["", f"Wall time of the search: {record['wall_seconds']:.0f} s "
                                    "(with TensorFlow's start-up).", ""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", default=",".join(SEARCHES))
    args = parser.parse_args()
    records, lines = {}, []
    with tempfile.TemporaryDirectory() as work:
        for name in args.searches.split(","):
            records[name] = run_search(name, pathlib.Path(work))
            lines += markdown(name, records[name])
    write_results("benchmarks/results/tuning.json", {"searches": records}, lines)


if __name__ == "__main__":
    main()
