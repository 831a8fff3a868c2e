"""The process settings the command-line tools (and benchmarks, and Dask workers) choose,
made by an explicit `setup()` before TensorFlow starts; importing `sdae_tf` as a library, or
`sdae_tf.cli`, makes none of them:
- TensorFlow's oneDNN CPU kernels (matmul, fused matmul + bias + activation). TensorFlow turns
  them on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX; on the AVX2 machines here they
  trained the SDAE block 1.02-1.11x and fine-tuning 1.06-1.16x faster (`perf.py threads`). Set
  TF_ENABLE_ONEDNN_OPTS=0 to keep TensorFlow's own choice.
- TensorFlow's C++ start-up logs (TF_CPP_MIN_LOG_LEVEL=2 unless set).
- The Keras backend: a `--backend=NAME` on the command line becomes KERAS_BACKEND before Keras
  is imported.
- A quiet start: TensorFlow 2.21 prints its start-up notices from two of its libraries, each
  with its own copy of absl, so they appear twice, and TF_CPP_MIN_LOG_LEVEL does not reach
  them. TensorFlow is imported with the process's stderr captured; the notices of
  `STARTUP_NOTICES` are dropped (the oneDNN one states the choice made above), every other line
  is written back once, in order. Set SDAE_TF_STARTUP_LOGS=1 to see the start-up as it is.
"""


import os
import re
import sys
import tempfile

# The Keras backends the package runs on (`--backend`).
BACKENDS = ("tensorflow", "jax")
# Start-up lines that say nothing a user acts on (substrings).
STARTUP_NOTICES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
)
# absl's / TensorFlow's C++ log prefix: level, date, time, thread, source location.
_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ")


def filter_startup(text):
    """The lines of captured start-up output worth showing: no `STARTUP_NOTICES`, each
    message once (repeats differ only in the log prefix's time and thread).

    Args:
        text: captured stderr.

    Returns:
        A list of lines.
    """
    kept, seen = [], set()
    for line in text.splitlines():
        if not line.strip() or any(n in line for n in STARTUP_NOTICES):
            continue
        key = _PREFIX.sub("", line)
        if key not in seen:
            seen.add(key)
            kept.append(line)
    return kept


def import_tensorflow_quietly():
    """Imports TensorFlow with fd 2 captured and writes back `filter_startup` of what it
    printed. Does nothing if TensorFlow is imported already or SDAE_TF_STARTUP_LOGS is set."""
    if "tensorflow" in sys.modules or os.environ.get("SDAE_TF_STARTUP_LOGS"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = filter_startup(capture.read().decode("utf-8", errors="replace"))
    for line in lines:
        print(line, file=sys.stderr)
    sys.stderr.flush()



def backend_from_argv(argv):
    """The value of a `--backend=NAME` / `--backend NAME` in `argv` (before a `--`), else None.

    Args:
        argv: the command line's arguments.

    Returns:
        A str, or None.
    """
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg.startswith("--backend="):
            return arg.split("=", 1)[1]
        if arg == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def setup():
    """The tools' process settings (see the module docstring), before TensorFlow is imported:
    call it first in an entry point. Idempotent; a TensorFlow already imported keeps its own.
    A `--backend=NAME` on the command line becomes `KERAS_BACKEND` before Keras is imported
    (the `--backend` flag then checks it)."""
    chosen = backend_from_argv(sys.argv[1:])
    if chosen in BACKENDS and "keras" not in sys.modules:  # (others: the flag's own error)
        os.environ["KERAS_BACKEND"] = chosen
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import_tensorflow_quietly()
