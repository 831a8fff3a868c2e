"""`sdae-experiment`: the runs behind one table or figure of the report, from its flagfile.

    sdae-experiment --flagfile=flags/table1.flags

The training flags of `sdae-train` are the shared budget; each `--run=COLUMN/ROW: key=value ...`
is one cell (see `sdae_tf.experiments`). Runs live in `--pool_dir` under a hash of their
configuration: a finished run is reused, an interrupted one resumes, runs shared between
experiments train once. Writes `--out_dir` (default runs/<experiment>): experiment.json,
results.md (report vs ours) and the figures side by side.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

from sdae_tf import experiments  # noqa: E402
from sdae_tf.cli import flags as train_flags  # noqa: E402
from sdae_tf.cli.errors import run_tool, start, user_errors  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_string("experiment", None, "Name of the experiment (its flagfile's stem).")
flags.DEFINE_string("report_item", None, "The report's table or figure (default: --experiment).")
flags.DEFINE_string("title", None, "Title of the figures and results.")
flags.DEFINE_multi_string("run", [], "One cell: 'COLUMN/ROW: key=value key=value ...'.")
flags.DEFINE_string("out_dir", None, "Experiment directory (default: runs/<experiment>).")
flags.DEFINE_string("pool_dir", "runs/pool", "Where the runs live (shared by experiments).")
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
        record = experiments.run_experiment(
            FLAGS.experiment, train_flags.config_from_flags(FLAGS), FLAGS.run,
            out_dir=FLAGS.out_dir, pool_dir=FLAGS.pool_dir, report_item=FLAGS.report_item,
            title=FLAGS.title, cells=FLAGS.cells)
    out = FLAGS.out_dir or f"runs/{FLAGS.experiment}"
    print((os.linesep).join(experiments.report.experiment_table(record)))
    print(f"experiment directory {out}; {record['seconds']:.1f} s", flush=True)


def run_main():
    run_tool(main, "sdae-experiment")


if __name__ == "__main__":
    run_main()
