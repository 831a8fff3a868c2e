"""`sdae-report`: experiment and run directories -> Markdown tables, the report's numbers
beside ours.

    sdae-report runs/table1 runs/table3 runs/table4 --output=results.md
"""

from sdae_tf.utils import process

process.setup()  # the tools' TensorFlow settings, before TensorFlow is imported

import sys

from absl import app, flags

from sdae_tf.cli.errors import show_own_flags, user_errors
from sdae_tf.reproduce import report
from sdae_tf.runner.config_flags import define_backend_flag

FLAGS = flags.FLAGS
flags.DEFINE_string("output", None, "Also write the Markdown to this file.")
define_backend_flag(FLAGS)


def main(argv):
    if len(argv) < 2:
        raise app.UsageError("Give one or more experiment or run directories, e.g. "
                             "sdae-report runs/table1")
    with user_errors("sdae-report"):
        text = report.gather(argv[1:])
        if FLAGS.output:
            from sdae_tf.train.checkpoints import write_text_atomic

            write_text_atomic(FLAGS.output, text + "\n")
    sys.stdout.write(text + "\n")


def run_main():
    show_own_flags()
    app.run(main)


if __name__ == "__main__":
    run_main()
