"""`sdae-experiment`: the runs behind one table or figure of the report, from its flagfile.

    sdae-experiment --flagfile=flags/experiments/table1.flags

The training flags of `sdae-train` are the shared budget; each `--run=COLUMN/ROW: key=value ...`
is one cell (see `sdae_tf.reproduce.experiments`). Runs live in `--pool_dir` under a hash of their
configuration: a finished run is reused, an interrupted one resumes, runs shared between
experiments train once. Writes `--out_dir` (default runs/<experiment>): experiment.json,
results.md (report vs ours) and the figures side by side.
"""

import os

from sdae_tf.utils import process

process.setup()  # the tools' TensorFlow settings, before TensorFlow is imported

from absl import flags  # noqa: E402

from sdae_tf.cli import flags as train_flags  # noqa: E402
from sdae_tf.cli.errors import run_tool, start, user_errors  # noqa: E402
from sdae_tf.reproduce import experiments  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_string("experiment", None, "Name of the experiment (its flagfile's stem).")
flags.DEFINE_string("report_item", None, "The report's table or figure (default: --experiment).")
flags.DEFINE_string("title", None, "Title of the figures and results.")
flags.DEFINE_multi_string("run", [], "One cell: 'COLUMN/ROW: key=value key=value ...'.")
flags.DEFINE_string("out_dir", None, "Experiment directory (default: runs/<experiment>).")
flags.DEFINE_string("pool_dir", "runs/pool", "Where the runs live (shared by experiments).")
flags.DEFINE_enum("when_claimed", "wait", ["wait", "skip"],
                  "A run another process is training (its claim held): wait for it and reuse "
                  "it, or skip it, go on with the other cells and come back to it.")
flags.DEFINE_string("ledger", "runs/ledger.jsonl",
                    "Results ledger (JSON Lines) every finished cell is appended to; the "
                    "repository's benchmarks use benchmarks/results/ledger.jsonl. Empty: none.")
flags.DEFINE_enum("executor", "sequential", ["sequential", "dask"],
                  "sequential: the cells in this process, in order; dask: a task graph on a "
                  "Dask cluster (--workers / --scheduler).")
flags.DEFINE_integer("workers", 2, "--executor=dask: worker processes of the LocalCluster "
                     "started on this machine (one cell at a time each).", lower_bound=1)
flags.DEFINE_integer("threads_per_worker", 1, "--executor=dask: TensorFlow threads per worker.",
                     lower_bound=1)
flags.DEFINE_string("scheduler", None, "--executor=dask: join the cluster at this address "
                    "(tcp://host:8786; workers started with `dask worker ADDRESS`, the pool on "
                    "a shared file system) instead of starting one.")
flags.DEFINE_list("cells", None, "Run only these cells: COLUMN/ROW names or shell patterns "
                  "(e.g. 'sdae*/mnist,sae/*'); default every cell.")


def main(argv):
    start(argv)
    with user_errors("sdae-experiment"):
        if not FLAGS.experiment:
            raise ValueError("--experiment is required (the flagfiles set it)")
        for name in ("run_dir", "export_dir", "init_from"):
            if getattr(FLAGS, name):
                raise ValueError(f"--{name} is not an experiment flag: the runner sets it per "
                                 "run (see --out_dir and --pool_dir)")
        cluster = None
        if FLAGS.executor == "dask":
            from sdae_tf.reproduce.cluster import ClusterSpec

            cluster = ClusterSpec(workers=FLAGS.workers,
                                  threads_per_worker=FLAGS.threads_per_worker,
                                  scheduler=FLAGS.scheduler)
        record = experiments.run_experiment(
            FLAGS.experiment, train_flags.config_from_flags(FLAGS), FLAGS.run,
            out_dir=FLAGS.out_dir, pool_dir=FLAGS.pool_dir, report_item=FLAGS.report_item,
            title=FLAGS.title, cells=FLAGS.cells, when_claimed=FLAGS.when_claimed,
            ledger=FLAGS.ledger or None, executor=FLAGS.executor, cluster=cluster)
    out = FLAGS.out_dir or f"runs/{FLAGS.experiment}"
    print((os.linesep).join(experiments.report.experiment_table(record)))
    print(f"experiment directory {out}; {record['seconds']:.1f} s", flush=True)


def run_main():
    run_tool(main, "sdae-experiment")


if __name__ == "__main__":
    run_main()
