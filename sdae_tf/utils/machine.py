"""Where a number was measured: the processor (model, instruction sets that matter to
TensorFlow's CPU kernels), core count, thread settings and the code's commit. Recorded with
every ledger cell and benchmark figure: the project's machines differ (AVX-512 and BF16 on some,
AVX2 and FMA only on others), so a figure without its machine cannot be compared."""

import os
import pathlib
import platform
import subprocess

# The /proc/cpuinfo flags that change which kernels TensorFlow and oneDNN use.
KERNEL_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
                "avx_vnni", "amx_bf16", "amx_int8", "amx_tile")
PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[2]


def _cpuinfo():
    try:
        return pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_model():
    """The processor's model name (Linux), else `platform.processor()`, else None."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def instruction_sets():
    """The `KERNEL_FLAGS` this processor has (Linux; empty elsewhere), in that order."""
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            return [f for f in KERNEL_FLAGS if f in have]
    return []


def git_commit(root=PACKAGE_ROOT):
    """$SDAE_TF_COMMIT, else the commit of the checkout the package runs from, else None.

    Args:
        root: the folder whose checkout is asked.

    Returns:
        The commit's hex, or None.
    """
    if os.environ.get("SDAE_TF_COMMIT"):
        return os.environ["SDAE_TF_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def describe(threads=None):
    """{cpu, instruction_sets, cpus, threads, host, commit, backend}: `threads` as the run recorded
    them (`training.thread_settings()`), when given.

    Args:
        threads: the run's thread settings, or None.

    Returns:
        A JSON-ready dict.
    """
    info = {"cpu": cpu_model(), "instruction_sets": instruction_sets(),
            "cpus": os.cpu_count(), "host": platform.node(), "commit": git_commit(),
            "backend": backend()}
    if threads is not None:
        info["threads"] = threads
    return info


def backend():
    """The Keras backend this process computes with and the versions of Keras and of the
    backend's library: part of where a number was measured (the same seed gives other numbers
    on another backend).

    Returns:
        {"name": "tensorflow" / "jax" / ..., "keras": version, "version": the library's}.
    """
    import importlib.metadata

    import keras

    name = keras.backend.backend()
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:  # e.g. tensorflow-cpu's distribution name
        version = getattr(__import__(name), "__version__", None)
    return {"name": name, "keras": keras.__version__, "version": version}


def thread_settings():
    """TensorFlow's intra- and inter-op thread counts as this process set them (the
    `tf.config.threading` setters, else $TF_NUM_INTRAOP_THREADS / $TF_NUM_INTEROP_THREADS;
    None: TensorFlow's default, every core) and the CPU count. Recorded with every run: the
    same seed gives the same numbers at the same thread counts, and other numbers at others
    (the reductions' floating-point order changes).

    Returns:
        {"intra_op", "inter_op", "cpus"}.
    """
    import tensorflow as tf

    def count(getter, env):
        value = getter() or os.environ.get(env, "")
        return int(value) if str(value).isdigit() and int(value) > 0 else None

    return {"intra_op": count(tf.config.threading.get_intra_op_parallelism_threads,
                              "TF_NUM_INTRAOP_THREADS"),
            "inter_op": count(tf.config.threading.get_inter_op_parallelism_threads,
                              "TF_NUM_INTEROP_THREADS"),
            "cpus": os.cpu_count()}
