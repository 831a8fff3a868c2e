"""What every benchmark script shares: the record of where it ran (commit, TensorFlow, CPUs,
threads) and writing its JSON + printing its Markdown table."""

import os
import pathlib
import platform
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sdae_tf.utils import process  # noqa: E402

process.setup()  # before TensorFlow: the tools' process settings apply
from sdae_tf.utils.markdown import table as markdown_table  # noqa: E402, F401  (re-exported)


def git_commit():
    """The commit benchmarked: $SDAE_TF_COMMIT, else the checkout's HEAD, else None."""
    from sdae_tf.utils.machine import git_commit as commit

    return commit(REPO)


def machine():
    """Where the numbers come from: commit, library versions, CPUs, TF thread settings."""
    from sdae_tf.utils.machine import instruction_sets

    info = {"commit": git_commit(), "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu_model(),
            "instruction_sets": instruction_sets(), "cpus": os.cpu_count(),
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}
    if "keras" in sys.modules:
        from sdae_tf.utils.machine import backend

        info["keras_backend"] = backend()
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        info.update(tensorflow=tf.__version__,
                    intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
                    inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads())
    return info


def cpu_model():
    """The processor's model name (`sdae_tf.utils.machine.cpu_model`)."""
    from sdae_tf.utils.machine import cpu_model as model

    return model()


def write_results(out, result, lines=None):
    """Writes `result` (plus `machine()`) as JSON at `out` (relative to the repository) and,
    with `lines`, prints them and writes them beside it as Markdown."""
    from sdae_tf.train.checkpoints import write_json_atomic, write_text_atomic

    out = REPO / out
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, {"machine": machine(), **result})
    if lines:
        print("\n".join(lines), flush=True)
        write_text_atomic(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print(f"wrote {out}", flush=True)
    return out
