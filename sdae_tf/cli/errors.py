"""How the CLIs answer user errors: one line on stderr naming the problem, exit status 2, no
traceback (set SDAE_TF_TRACEBACK=1 to see one)."""

import contextlib
import os
import sys

from sdae_tf.data.tfds_images import DatasetNotPreparedError
from sdae_tf.train.checkpoints import TrainingDivergedError
from sdae_tf.utils.storage import StorageError

# ValueError covers storage.DamagedFileError (a damaged file, named).
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
               DatasetNotPreparedError, TrainingDivergedError, StorageError)
EXIT_USER_ERROR = 2


@contextlib.contextmanager
def user_errors(program):
    try:
        yield
    except USER_ERRORS as e:
        if os.environ.get("SDAE_TF_TRACEBACK"):
            raise
        print(f"{program}: error: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_USER_ERROR)


def start(argv):
    """What every training CLI's `main` does first: refuse stray arguments, quiet TensorFlow's
    Python logger and absl's INFO lines (SavedModel writing logs every shard at INFO)."""
    from absl import app, logging

    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    logging.set_verbosity(logging.WARNING)


def run_tool(main, tool):
    """`app.run(main)` with `--recipe=NAME` expanded first (`sdae_tf.hub.resources.expand_argv`);
    an unknown recipe is a one-line user error."""
    from absl import app

    from sdae_tf.hub import resources

    with user_errors(tool):
        argv = resources.expand_argv(sys.argv, tool)
    show_own_flags()
    app.run(main, argv=argv)


def show_own_flags():
    """Makes the package's flags the key flags of the running tool, so its `--help` lists
    them (absl lists only the main module's; ours are defined in `sdae_tf.cli.*`)."""
    from absl import flags

    values = flags.FLAGS
    for module, defined in values.flags_by_module_dict().items():
        if module.startswith("sdae_tf."):
            for flag in defined:
                values.register_key_flag_for_module(sys.argv[0], flag)
