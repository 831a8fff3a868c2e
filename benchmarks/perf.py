"""Performance benchmarks, one comparison per process (`benchmarks/run_all.py` runs them all):
ratios measured side by side in one process, since absolute times on these machines vary.

    python benchmarks/perf.py roof        # float32 matmul FLOP/s, TensorFlow vs numpy
    python benchmarks/perf.py dense       # SDAE block: samples/s and % of roof per batch, XLA
                                          # on vs off, the matmuls alone; our loop vs plain fit
    python benchmarks/perf.py optimizer   # FusedAdam vs keras.optimizers.Adam
    python benchmarks/perf.py learned     # learned-sigma train_step vs the plain SDAE step
    python benchmarks/perf.py pipeline    # tf.data pipeline vs the same tensors in memory
    python benchmarks/perf.py threads     # oneDNN and inter-op threads, one process each
    python benchmarks/perf.py profile     # TensorFlow profiler: step time per kind of op
    python benchmarks/perf.py serving     # SavedModel signature vs Keras predict
    python benchmarks/perf.py zoo         # samples/s of every MNIST zoo entry's pretraining
    python benchmarks/perf.py distribute  # MirroredStrategy over two logical CPUs vs one device
    python benchmarks/perf.py peer        # a plain PyTorch loop (skipped without PyTorch)
    python benchmarks/perf.py mae         # masked autoencoder: encoder cost vs mask ratio
    python benchmarks/perf.py modern      # question 11's arms: pretraining cost, % of roof
    python benchmarks/perf.py xla_rng     # TensorFlow + XLA: keras.random's draws vs Philox named
    python benchmarks/perf.py bounds      # what bounds the SDAE, CDAE and MAE against issue 44's
                                          # targets: profiles, kernels' own rate, ceilings

Each prints a Markdown table and writes benchmarks/results/perf_<name>.json (with commit,
TensorFlow version, CPU, thread and oneDNN settings). Ratios of two set-ups are measured
interleaved in one process (A B A B ...: these machines drift), each the median of pairs.
"""

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from common import REPO, markdown_table, write_results  # noqa: E402

from sdae_tf.utils import process  # noqa: E402

process.setup()  # before TensorFlow: the tools' oneDNN default applies


def median_time(fn, reps=5, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


MATMUL_SIZES = [(128, 784, 1000), (256, 784, 1000), (512, 784, 1000), (512, 1000, 1000),
                (2048, 2048, 2048)]


def matmul_roof(reps=5):
    """GFLOP/s of float32 `(m, k) @ (k, n)` via TensorFlow and numpy; the roof is the best."""
    import tensorflow as tf

    rows = []
    for m, k, n in MATMUL_SIZES:
        rng = np.random.default_rng(0)
        a, b = rng.random((m, k), np.float32), rng.random((k, n), np.float32)
        ta, tb = tf.constant(a), tf.constant(b)
        inner = max(1, int(2e9 // (2 * m * k * n)))  # about 2 GFLOP per timed call

        @tf.function
        def tf_loop(ta=ta, tb=tb, inner=inner):
            out = tf.zeros((ta.shape[0], tb.shape[1]))
            for _ in tf.range(inner):
                out += tf.matmul(ta, tb)
            return out

        def np_loop(a=a, b=b, inner=inner):
            for _ in range(inner):
                a @ b

        flops = 2.0 * m * k * n * inner
        t_tf = median_time(lambda f=tf_loop: f().numpy(), reps)
        t_np = median_time(np_loop, reps)
        rows.append({"m": m, "k": k, "n": n, "tensorflow_gflops": flops / t_tf / 1e9,
                     "numpy_gflops": flops / t_np / 1e9})
    roof = max(max(r["tensorflow_gflops"], r["numpy_gflops"]) for r in rows)
    return rows, roof


def section_roof(args):
    rows, roof = matmul_roof()
    lines = markdown_table(
        ["m x k x n", "TensorFlow GFLOP/s", "numpy GFLOP/s", "TF / numpy"],
        [[f"{r['m']}x{r['k']}x{r['n']}", f"{r['tensorflow_gflops']:.1f}",
          f"{r['numpy_gflops']:.1f}", f"{r['tensorflow_gflops'] / r['numpy_gflops']:.2f}"]
         for r in rows])
    lines.append(f"\nRoof (best of all): {roof:.1f} GFLOP/s")
    return {"matmul": rows, "roof_gflops": roof}, lines


class EpochTimes:
    """Keras callback: wall time of every epoch."""

    def __new__(cls):
        import keras

        class _Times(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.times = []

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self._start)

        return _Times()


def mnist_subset(n):
    from sdae_tf.data import load_dataset

    data = load_dataset("mnist")
    return data.x_train[:n], data.y_train[:n]


def block_flops_per_sample(dims):
    """Training FLOPs per example of a dense stack's matmuls: per layer forward 2*in*out and
    the weight gradient 2*in*out, plus the input gradient 2*in*out for every layer but the
    first (nothing needs the gradient of the data)."""
    pairs = list(zip(dims[:-1], dims[1:], strict=True))
    return sum(6.0 * a * b for a, b in pairs) - 2.0 * pairs[0][0] * pairs[0][1]


def interleaved(runs, rounds=3, epochs=2):
    """Epoch times of several set-ups measured in turn, A B .. then .. B A, `rounds` times.

    `runs` maps a name to `fit(epochs, callbacks)` (a `model.fit` of `epochs` epochs). Every
    call's first epoch (iterator start, tracing) is dropped. Returns {name: median epoch
    seconds} and {name: per-round seconds} (for ratios of pairs measured back to back)."""
    names = list(runs)
    per_round = {n: [] for n in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            times = EpochTimes()
            runs[name](epochs + 1, [times])
            per_round[name].append(statistics.median(times.times[1:]))
    return {n: statistics.median(v) for n, v in per_round.items()}, per_round


def paired_ratio(per_round, a, b):
    """Median over rounds of a's time / b's time in the same round."""
    return statistics.median(x / y for x, y in zip(per_round[a], per_round[b], strict=True))


def fit_fn(model, ds, steps):
    """`fit(epochs, callbacks)` of `model` on the dataset `ds`."""
    def fit(epochs, callbacks):
        model.fit(ds, epochs=epochs, steps_per_epoch=steps, verbose=0, callbacks=callbacks)
    return fit


def execution(n, batch=128):
    """Steps per compiled call that the training loop uses for `n` examples at `batch`."""
    from sdae_tf.train import stages as stages_lib

    return stages_lib.execution_steps(n, stages_lib.Stage(epochs=1, batch_size=batch))


def sdae_block(optimizer=None, jit=False, name="sdae_mnist", steps_per_execution=1, **kwargs):
    """The SDAE's first block (784-1000-784, Gaussian 0.4), compiled as the loop compiles it
    (pass `steps_per_execution=execution(n, batch)`)."""
    import keras

    from sdae_tf import zoo
    from sdae_tf.train import stages as stages_lib

    keras.utils.set_random_seed(0)
    stack = zoo.build(name, (28, 28, 1), hidden_units=(1000,), seed=0, **kwargs)
    model = stack.pretrain_model(0)
    model.compile(optimizer or stages_lib.make_optimizer(1e-3, "constant", 0),
                  "binary_crossentropy", steps_per_execution=steps_per_execution,
                  jit_compile=stages_lib.Stage(epochs=1, jit_compile=jit).keras_jit_compile)
    return model


def finetune_model(n):
    """The fine-tuning classifier (SDAE encoder 784-1000-1000 + 1000 ReLU + 10), compiled as
    the loop compiles it for `n` examples at batch 128."""
    import keras

    from sdae_tf import zoo
    from sdae_tf.train import stages as stages_lib

    keras.utils.set_random_seed(0)
    clf = zoo.classifier(zoo.build("sdae_mnist", (28, 28, 1), seed=0).encoder, 10)
    clf.compile(stages_lib.make_optimizer(1e-3, "constant", 0),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                steps_per_execution=execution(n))
    return clf


def matmul_only_seconds(batch, dims=(784, 1000, 784), reps=5, inner=20):
    """Seconds per step of the block's training matmuls alone (forward, weight gradients,
    the hidden layer's input gradient), back to back in one `tf.function`: the most any step
    of this shape can reach in TensorFlow."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((batch, dims[0]), np.float32))
    w1 = tf.constant(rng.normal(0, 0.03, dims[:2]).astype(np.float32))
    w2 = tf.constant(rng.normal(0, 0.03, dims[1:]).astype(np.float32))

    @tf.function
    def loop():
        acc = tf.zeros(())
        for _ in tf.range(inner):
            h = tf.matmul(x, w1)
            y = tf.matmul(h, w2)
            dh = tf.matmul(y, w2, transpose_b=True)
            acc += (tf.matmul(h, y, transpose_a=True)[0, 0]
                    + tf.matmul(x, dh, transpose_a=True)[0, 0])
        return acc

    return median_time(lambda: loop().numpy(), reps) / inner


def _epoch_time(model, x, y, batch, epochs):
    """Median time of epochs 2.. of `model.fit` on (x, y) through our pipeline."""
    from sdae_tf.data import make_pipeline, steps_per_epoch

    times = EpochTimes()
    ds = make_pipeline(x, y, batch_size=batch, shuffle=True, seed=0)
    model.fit(ds, epochs=epochs, steps_per_epoch=steps_per_epoch(len(x), batch), verbose=0,
              callbacks=[times])
    return statistics.median(times.times[1:])


def section_dense(args):
    """The SDAE's first block (784-1000-784, Gaussian 0.4): samples/s and % of the roof per
    batch size, XLA off and on, beside its five matmuls alone (the bound); our loop
    (`stages_lib.fit_stage`: epoch checkpoints, divergence guard) vs plain `keras.Sequential` +
    `fit` on the same network and data."""
    import keras

    from sdae_tf.data import make_pipeline, steps_per_epoch
    from sdae_tf.train import stages as stages_lib

    n, epochs = args.examples, args.epochs
    x, _ = mnist_subset(n)
    _, roof = matmul_roof(reps=3)
    flops = block_flops_per_sample([784, 1000, 784])
    # Interleaved rounds: this machine's speed drifts more than batch sizes differ.
    setups = [(128, False), (128, True), (256, False), (512, False)]  # XLA: 3-5x slower here
    runs = {}
    for batch, jit in setups:
        model = sdae_block(jit=jit, steps_per_execution=execution(n, batch))
        runs[(batch, jit)] = fit_fn(model, make_pipeline(x, None, batch_size=batch,
                                                         shuffle=True, seed=0),
                                    steps_per_epoch(n, batch))
    medians, _ = interleaved(runs, rounds=2, epochs=max(1, epochs - 1))
    matmul = {b: b * flops / matmul_only_seconds(b) / 1e9 for b in (128, 256, 512)}
    roof = max(roof, *matmul.values())  # the roof is the best matmul rate seen
    rows = []
    for (batch, jit), t in medians.items():
        gflops = n / t * flops / 1e9
        rows.append({"batch": batch, "jit": jit, "epoch_seconds": t, "samples_per_s": n / t,
                     "gflops": gflops, "fraction_of_roof": gflops / roof,
                     "matmul_only_fraction_of_roof": matmul[batch] / roof})

    # Our loop vs plain Keras on the same network and data (batch 128, the default).
    def loop_fit(model):  # `fit(epochs, callbacks)` through our loop's `fit_stage`
        def fit(epochs, callbacks):
            settings = stages_lib.Stage(epochs=epochs, batch_size=128, verbose=0)
            stages_lib.fit_stage(model, x, None, None, settings, "bench", seed=0,
                               callbacks=callbacks)
        return fit

    ours = loop_fit(sdae_block(steps_per_execution=execution(n)))
    ours_one_step = loop_fit(sdae_block())

    keras.utils.set_random_seed(0)
    plain = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.GaussianNoise(0.4), keras.layers.Flatten(),
        keras.layers.Dense(1000, activation="sigmoid"),
        keras.layers.Dense(784, activation="sigmoid"), keras.layers.Reshape((28, 28, 1))])
    plain.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")

    def plain_fit(epochs, callbacks):
        plain.fit(x, x, batch_size=128, epochs=epochs, shuffle=True, verbose=0,
                  callbacks=callbacks)

    plain_pipe = fit_fn(plain, make_pipeline(x, None, batch_size=128, shuffle=True, seed=0),
                        steps_per_epoch(n, 128))
    medians, per_round = interleaved({"ours": ours, "ours_one_step_per_call": ours_one_step,
                                      "plain_keras": plain_fit,
                                      "plain_keras_our_pipeline": plain_pipe})
    overhead = {"epoch_seconds": medians, "ratio": paired_ratio(per_round, "ours", "plain_keras"),
                "ratio_same_pipeline": paired_ratio(per_round, "ours",
                                                    "plain_keras_our_pipeline"),
                "steps_per_execution": execution(n),
                "ratio_vs_one_step_per_call": paired_ratio(per_round, "ours",
                                                           "ours_one_step_per_call")}
    lines = markdown_table(
        ["SDAE block 1, batch", "XLA", "samples/s", "GFLOP/s", "% of roof",
         "matmuls alone, % of roof"],
        [[r["batch"], "on" if r["jit"] else "off", f"{r['samples_per_s']:.0f}",
          f"{r['gflops']:.1f}", f"{100 * r['fraction_of_roof']:.0f} %",
          f"{100 * r['matmul_only_fraction_of_roof']:.0f} %"] for r in rows])
    lines += ["", f"Roof {roof:.1f} GFLOP/s (measured in this process); "
              f"{flops / 1e6:.2f} MFLOP per example.",
              f"Our loop vs plain Keras fit (batch 128, {n} examples, interleaved): "
              f"{medians['ours']:.2f} s vs {medians['plain_keras']:.2f} s per epoch, ratio "
              f"{overhead['ratio']:.3f} (target <= 1.05); vs plain Keras fed by our pipeline "
              f"{overhead['ratio_same_pipeline']:.3f}; {execution(n)} steps per compiled call vs "
              f"one: {overhead['ratio_vs_one_step_per_call']:.3f}."]
    return {"roof_gflops": roof, "examples": n, "mflop_per_example": flops / 1e6,
            "throughput": rows, "loop_vs_plain_keras": overhead}, lines


def section_optimizer(args):
    """`FusedAdam` (TensorFlow's fused kernel) vs `keras.optimizers.Adam`: one update of the
    block's 1.57 M weights, and the block's epoch time with each."""
    import keras
    import tensorflow as tf

    from sdae_tf.data import make_pipeline, steps_per_epoch
    from sdae_tf.optimizers import FusedAdam

    rng = np.random.default_rng(0)
    shapes = [(784, 1000), (1000,), (1000, 784), (784,)]
    update_ms = {}
    for name, cls in (("keras_adam", keras.optimizers.Adam), ("fused_adam", FusedAdam)):
        variables = [tf.Variable(rng.normal(0, 0.03, s).astype(np.float32)) for s in shapes]
        grads = [tf.constant(rng.normal(0, 0.03, s).astype(np.float32)) for s in shapes]
        opt = cls(1e-3)
        opt.build(variables)

        @tf.function
        def updates(opt=opt, grads=grads, variables=variables):
            for _ in tf.range(50):
                opt.apply(grads, variables)

        update_ms[name] = median_time(updates, 7) / 50 * 1e3
    n = args.examples
    x, _ = mnist_subset(n)
    ds = make_pipeline(x, None, batch_size=128, shuffle=True, seed=0)
    steps = steps_per_epoch(n, 128)
    medians, per_round = interleaved({
        "keras_adam": fit_fn(sdae_block(optimizer=keras.optimizers.Adam(1e-3),
                                        steps_per_execution=execution(n)), ds, steps),
        "fused_adam": fit_fn(sdae_block(optimizer=FusedAdam(1e-3),
                                        steps_per_execution=execution(n)), ds, steps)})
    ratio = paired_ratio(per_round, "fused_adam", "keras_adam")
    lines = [f"One Adam update of 1.57 M weights: keras.optimizers.Adam "
             f"{update_ms['keras_adam']:.2f} ms, FusedAdam {update_ms['fused_adam']:.2f} ms. "
             f"SDAE block 1 epoch (batch 128, {n} examples, interleaved): "
             f"{medians['fused_adam']:.2f} s vs {medians['keras_adam']:.2f} s, "
             f"FusedAdam / Adam {ratio:.3f}."]
    return {"update_ms": update_ms, "epoch_seconds": medians, "ratio": ratio}, lines


def section_learned(args):
    """The learned-sigma block's custom train_step (one backward pass, two optimizers) vs the
    plain SDAE block, same data and batch; and the FLOP ratio of the two steps (the noise
    network, 784-392-1, and the gradient through the first layer to the noisy input)."""
    from sdae_tf.data import make_pipeline, steps_per_epoch

    n = args.examples
    x, _ = mnist_subset(n)
    ds = make_pipeline(x, None, batch_size=128, shuffle=True, seed=0)
    steps = steps_per_epoch(n, 128)
    medians, per_round = interleaved({
        "sdae": fit_fn(sdae_block(steps_per_execution=execution(n)), ds, steps),
        "learned_sigma": fit_fn(sdae_block(name="sdae_learned_sigma_mnist", lambdas=(0.026,),
                                           steps_per_execution=execution(n)), ds, steps)})
    ratio = paired_ratio(per_round, "learned_sigma", "sdae")
    plain = block_flops_per_sample([784, 1000, 784])
    extra = 2.0 * 784 * 1000 + 4.0 * 784 * 392 + 4.0 * 392  # input gradient; noise net fwd+wgrad
    flop_ratio = (plain + extra) / plain
    lines = [f"Learned-sigma block vs plain SDAE block (784-1000, batch 128, {n} examples, "
             f"interleaved): {medians['learned_sigma']:.2f} s vs {medians['sdae']:.2f} s per "
             f"epoch, ratio {ratio:.3f} (target <= 1.10); the learned step does "
             f"{flop_ratio:.2f}x the plain step's matmul FLOPs."]
    return {"epoch_seconds": medians, "ratio": ratio, "flop_ratio": flop_ratio}, lines


def section_pipeline(args):
    """Epoch time of the fine-tuning step fed by our shuffled `tf.data` pipeline vs the same
    tensors already in memory (one `from_tensor_slices` dataset, batched, cached, prefetched);
    and loading a built MNIST variant (built once, cached on disk)."""
    import tensorflow as tf

    from sdae_tf.data import load_dataset, make_pipeline, steps_per_epoch

    n = args.examples
    x, y = mnist_subset(n)
    start = time.perf_counter()
    load_dataset("mnist_bg_rand_rot")
    variant_load = time.perf_counter() - start

    steps = steps_per_epoch(n, 128)
    mem = (tf.data.Dataset.from_tensor_slices((x, y)).batch(128).cache().repeat()
           .prefetch(tf.data.AUTOTUNE))
    ours = make_pipeline(x, y, batch_size=128, shuffle=True, seed=0)
    medians, per_round = interleaved({"pipeline": fit_fn(finetune_model(n), ours, steps),
                                      "in_memory": fit_fn(finetune_model(n), mem, steps)})
    ratio = paired_ratio(per_round, "pipeline", "in_memory")
    lines = [f"Fine-tuning epoch ({n} examples, batch 128, interleaved): our shuffled pipeline "
             f"{medians['pipeline']:.2f} s, in-memory batches {medians['in_memory']:.2f} s, "
             f"ratio {ratio:.3f} (target <= 1.05). Loading the cached bg-rand-rot variant: "
             f"{variant_load:.2f} s."]
    return {"epoch_seconds": medians, "ratio": ratio,
            "variant_load_seconds": variant_load}, lines


THREAD_SETTINGS = [  # (label, TF_ENABLE_ONEDNN_OPTS, inter-op threads or 0 for TF's default)
    ("oneDNN off, TF default threads", "0", 0),
    ("oneDNN on, TF default threads", "1", 0),
    ("oneDNN on, 1 inter-op thread", "1", 1),
]


def section_threads(args):
    """oneDNN kernels on/off and TensorFlow's inter-op threads: both are fixed when TensorFlow
    starts, so each setting runs in its own process (`probe`): samples/s of the SDAE block and
    of the fine-tuning step at batch 128."""
    import json
    import subprocess
    import sys

    rows = []
    for label, onednn, inter in THREAD_SETTINGS:
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "SDAE_BENCH_INTER_OP": str(inter)}
        proc = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "perf.py"), "probe",
             f"--examples={args.examples}", "--out=-"],
            env=env, capture_output=True, text=True, check=True)
        probe = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append({"setting": label, "onednn": onednn == "1", **probe})
    base = rows[0]
    for r in rows:
        r["block_vs_first"] = r["block_samples_per_s"] / base["block_samples_per_s"]
        r["finetune_vs_first"] = r["finetune_samples_per_s"] / base["finetune_samples_per_s"]
    lines = markdown_table(
        ["setting", "intra / inter-op threads", "SDAE block samples/s", "fine-tuning samples/s",
         "block vs first", "fine-tuning vs first"],
        [[r["setting"], f"{r['intra_op']} / {r['inter_op']}", f"{r['block_samples_per_s']:.0f}",
          f"{r['finetune_samples_per_s']:.0f}", f"{r['block_vs_first']:.2f}",
          f"{r['finetune_vs_first']:.2f}"] for r in rows])
    lines.append("\n(0 threads: TensorFlow picks, one per core.)")
    return {"settings": rows}, lines


def section_probe(args):
    """One setting of `threads` (run in its own process): prints a JSON line."""
    import tensorflow as tf

    inter = int(os.environ.get("SDAE_BENCH_INTER_OP", "0"))
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    n = args.examples
    x, y = mnist_subset(n)
    block = _epoch_time(sdae_block(steps_per_execution=execution(n)), x, None, 128, 3)
    finetune = _epoch_time(finetune_model(n), x, y, 128, 3)
    from tensorflow.python.util import _pywrap_util_port

    return {"block_samples_per_s": n / block, "finetune_samples_per_s": n / finetune,
            "onednn_enabled": bool(_pywrap_util_port.IsMklEnabled()),
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}, None


OP_KINDS = [("matmul", ("MatMul",)), ("optimizer", ("ApplyAdam", "Assign")),
            ("random numbers", ("Random",))]


def tf_op_seconds(model, ds, steps):
    """The TensorFlow profiler over `steps` training steps of the compiled `model` on `ds`
    (one warm-up `fit` first): seconds per op type, summed over TensorFlow's executor threads,
    and the wall seconds under the profiler."""
    import collections
    import glob

    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        path = sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True))[-1]
        space = xplane_pb2.XSpace()
        space.ParseFromString(pathlib.Path(path).read_bytes())
    by_type = collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" in name and "::" not in name:  # "scope/op:OpType", not the executor
                    by_type[name.rsplit(":", 1)[1]] += event.duration_ps / 1e12
    return by_type, wall


def op_kind(op, kinds=None):
    """The kind (`OP_KINDS`, or `kinds`) a TensorFlow op type falls under."""
    return next((k for k, keys in (kinds or OP_KINDS) if any(s in op for s in keys)),
                "everything else")


def section_profile(args):
    """The TensorFlow profiler over about 46 steps of the SDAE block at batch 128: time per step in
    each kind of op (matmuls, the optimizer update, random numbers, the rest), summed over
    TensorFlow's executor threads."""
    import collections

    from sdae_tf.data import make_pipeline

    x, _ = mnist_subset(args.examples)
    per_call = execution(args.examples)
    model = sdae_block(steps_per_execution=per_call)
    ds = make_pipeline(x, None, batch_size=128, shuffle=True, seed=0)
    steps = per_call * max(1, 46 // per_call)  # whole compiled calls, about 46 steps
    by_type, wall = tf_op_seconds(model, ds, steps)
    kinds = collections.Counter()
    for op, seconds in by_type.items():
        kinds[op_kind(op)] += seconds
    total = sum(kinds.values())
    rows = [{"kind": k, "ms_per_step": 1e3 * v / steps, "share": v / total}
            for k, v in kinds.most_common()]
    top = [{"op": op, "ms_per_step": 1e3 * v / steps} for op, v in by_type.most_common(12)]
    lines = markdown_table(["kind of op", "ms per step", "share of op time"],
                           [[r["kind"], f"{r['ms_per_step']:.2f}", f"{100 * r['share']:.0f} %"]
                            for r in rows])
    lines += ["", "Top ops: " + ", ".join(f"{t['op']} {t['ms_per_step']:.2f} ms" for t in top),
              f"Wall time per step under the profiler: {1e3 * wall / steps:.1f} ms."]
    return {"steps": steps, "kinds": rows, "top_ops": top,
            "wall_ms_per_step_profiled": 1e3 * wall / steps}, lines


def section_serving(args):
    """The exported encoder as a SavedModel (`tf.saved_model.load(...).serve`) vs Keras
    `predict`, on the same batches."""
    import tensorflow as tf

    from sdae_tf import zoo
    from sdae_tf.hub import export

    x, _ = mnist_subset(args.examples)
    stack = zoo.build("sdae_mnist", (28, 28, 1), seed=0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = export.export_encoder(stack.encoder, f"{tmp}/e", {"model": "bench"})
        loaded = tf.saved_model.load(str(path))
        for batch in (128, 1024):
            batches = [tf.constant(x[i:i + batch]) for i in range(0, len(x), batch)]

            def saved(batches=batches):
                for b in batches:
                    loaded.serve(b).numpy()

            def keras_predict(batch=batch):
                stack.encoder.predict(x, batch_size=batch, verbose=0)

            t_saved, t_keras = median_time(saved, 3), median_time(keras_predict, 3)
            rows.append({"batch": batch, "savedmodel_samples_per_s": len(x) / t_saved,
                         "keras_predict_samples_per_s": len(x) / t_keras,
                         "ratio": t_keras / t_saved})
    lines = markdown_table(
        ["batch", "SavedModel samples/s", "Keras predict samples/s", "SavedModel / predict"],
        [[r["batch"], f"{r['savedmodel_samples_per_s']:.0f}",
          f"{r['keras_predict_samples_per_s']:.0f}", f"{r['ratio']:.2f}"] for r in rows])
    return {"serving": rows}, lines


def section_zoo(args):
    """Pretraining samples/s of every MNIST zoo entry's first block at the default batch."""
    import keras

    from sdae_tf import zoo
    from sdae_tf.train import stages as stages_lib

    n = args.examples
    x, _ = mnist_subset(n)
    rows = []
    wanted = set(args.zoo_models.split(",")) if args.zoo_models else None
    for entry in zoo.REGISTRY:
        if entry.dataset != "mnist" or not entry.layerwise_pretraining:
            continue
        if wanted is not None and entry.name not in wanted:
            continue
        keras.utils.set_random_seed(0)
        stack = zoo.build(entry.name, (28, 28, 1), seed=0)
        model = stack.pretrain_model(0)
        model.compile(stages_lib.make_optimizer(1e-3, "constant", 0), stack.block_loss(0),
                      steps_per_execution=execution(n))
        t = _epoch_time(model, x, None, 128, 2)  # the second epoch
        rows.append({"model": entry.name, "samples_per_s": n / t})
    lines = markdown_table(["model (block 1 pretraining, batch 128)", "samples/s"],
                           [[r["model"], f"{r['samples_per_s']:.0f}"] for r in rows])
    return {"zoo": rows}, lines


def conv_layer_flops(model):
    """Per Conv2D layer of a Keras model: (name, forward FLOPs per example, training FLOPs per
    example). Forward 2 * H_out * W_out * C_out * k_h * k_w * C_in; training adds the weight
    gradient (as many) and the input gradient (as many), except for a first layer on the data
    (nothing needs the gradient of the images)."""
    rows, first = [], True
    for layer in _conv_layers(model):
        _, h, w, c_out = layer.output.shape
        k_h, k_w, c_in, _ = layer.kernel.shape
        forward = 2.0 * h * w * c_out * k_h * k_w * c_in
        rows.append((layer.name, forward, forward * (2 if first else 3)))
        first = False
    return rows


def _conv_layers(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _conv_layers(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            yield layer


def section_conv(args):
    """The MNIST CAE / CDAE pretraining step against the matmul roof: FLOPs counted per conv
    layer, images/s through the loop's compile (FusedAdam, steps per call), GFLOP/s and % of
    the roof (issue 13: the conv budget bounds Table 4)."""
    import keras

    from sdae_tf import zoo
    from sdae_tf.train import stages as stages_lib

    _, roof = matmul_roof(reps=3)
    n = args.examples
    x, _ = mnist_subset(n)
    rows, layer_rows = [], []
    for name in ("cae_mnist", "cdae_mnist"):
        keras.utils.set_random_seed(0)
        stack = zoo.build(name, (28, 28, 1), seed=0)
        model = stack.pretrain_model(0)
        flops = conv_layer_flops(stack.autoencoder())
        train_flops = sum(f for _, _, f in flops)
        if not layer_rows:
            layer_rows = [[ly, f"{fwd / 1e6:.2f}", f"{tr / 1e6:.2f}",
                           f"{100 * tr / train_flops:.0f} %"] for ly, fwd, tr in flops]
        model.compile(stages_lib.make_optimizer(1e-3, "constant", 0), stack.block_loss(0),
                      steps_per_execution=execution(n))
        t = _epoch_time(model, x, None, 128, args.epochs)
        gflops = n * train_flops / t / 1e9
        rows.append({"model": name, "images_per_s": n / t,
                     "train_mflops_per_image": train_flops / 1e6, "gflops": gflops,
                     "roof_share": gflops / roof})
    lines = markdown_table(["conv layer (CAE)", "forward MFLOP / image", "training MFLOP / image",
                            "share"], layer_rows)
    lines += [""] + markdown_table(
        ["model (pretraining, batch 128)", "images/s", "training MFLOP / image", "GFLOP/s",
         "% of roof"],
        [[r["model"], f"{r['images_per_s']:.0f}", f"{r['train_mflops_per_image']:.1f}",
          f"{r['gflops']:.1f}", f"{100 * r['roof_share']:.0f} %"] for r in rows])
    lines.append(f"\nRoof: {roof:.1f} GFLOP/s (matmul, best of TensorFlow and numpy).")
    return {"conv": rows, "roof_gflops": roof,
            "layers": [{"layer": ly, "forward_flops": f, "train_flops": t}
                       for ly, f, t in conv_layer_flops(zoo.build("cae_mnist", (28, 28, 1))
                                                        .autoencoder())]}, lines


def vit_encoder_flops(family, tokens):
    """Forward FLOPs per image of the masked autoencoder's encoder on `tokens` tokens: the
    patch embedding, then per block the q/k/v/output projections (4 T W^2), the attention
    scores and their weighted sum (2 T^2 W) and the MLP (2 T W rW), two FLOPs a multiply-add."""
    w, t = family.width, tokens
    pixels = family.patch_size ** 2 * family.image_shape[-1]
    per_block = 4 * t * w * w + 2 * t * t * w + 2 * t * w * (family.mlp_ratio * w)
    return 2.0 * (t * pixels * w + family.depth * per_block)


def section_mae(args):
    """The masked autoencoder's encoder runs on the visible tokens only, so its cost falls with
    the mask ratio: encoder images/s (forward, batch 256) and FLOPs per image at mask ratio 0
    (every token: the exported encoder), 0.5 and 0.75, measured interleaved round by round;
    and the whole masked pretraining step (encoder + decoder + gradients, the loop's compile)."""
    import keras
    import tensorflow as tf

    from sdae_tf import zoo
    from sdae_tf.layers import patches
    from sdae_tf.train import stages as stages_lib

    n = args.examples
    x, _ = mnist_subset(n)
    ratios = (0.0, 0.5, 0.75)
    keras.utils.set_random_seed(0)
    family = zoo.build("mae_mnist", (28, 28, 1), seed=0)

    def encoder_for(ratio):
        images = keras.Input((28, 28, 1))
        tokens = family.position(family.embed(family.patchify(images)))
        if ratio:
            tokens = patches.RandomTokenMasking(ratio, seed=0)(tokens)[0]
        return keras.Model(images, family._encode(tokens))

    batch = tf.constant(x[:256])
    fns = {}
    for ratio in ratios:
        model = encoder_for(ratio)
        fns[ratio] = tf.function(lambda b, m=model: m(b, training=False))
        fns[ratio](batch)
    per_round = {r: [] for r in ratios}
    for _ in range(args.rounds):
        for ratio in ratios:
            per_round[ratio].append(256 / median_time(lambda r=ratio: fns[r](batch).numpy(),
                                                      reps=5))
    train = {}
    for ratio in ratios[1:]:
        stack = zoo.build("mae_mnist", (28, 28, 1), seed=0, mask_ratio=ratio)
        model = stack.pretrain_model(0)
        model.compile(stages_lib.make_optimizer(1e-3, "constant", 0), stack.block_loss(0),
                      steps_per_execution=execution(n))
        train[ratio] = n / _epoch_time(model, x, None, 128, args.epochs)
    rows = []
    for ratio in ratios:
        kept = family.tokens if not ratio else max(1, round(family.tokens * (1 - ratio)))
        flops = vit_encoder_flops(family, kept)
        speed = statistics.median(per_round[ratio])
        rows.append({"mask_ratio": ratio, "visible_tokens": kept,
                     "encoder_mflops_per_image": flops / 1e6,
                     "encoder_images_per_s": speed, "encoder_gflops": speed * flops / 1e9,
                     "pretrain_images_per_s": train.get(ratio)})
    base = rows[0]
    lines = markdown_table(
        ["mask ratio", "visible tokens", "encoder MFLOP / image", "encoder images/s",
         "speed-up vs ratio 0", "GFLOP/s", "masked pretraining images/s"],
        [[f"{r['mask_ratio']:g}", str(r["visible_tokens"]),
          f"{r['encoder_mflops_per_image']:.1f}", f"{r['encoder_images_per_s']:.0f}",
          f"{r['encoder_images_per_s'] / base['encoder_images_per_s']:.2f}x",
          f"{r['encoder_gflops']:.1f}",
          "-" if r["pretrain_images_per_s"] is None else f"{r['pretrain_images_per_s']:.0f}"]
         for r in rows])
    return {"mae": rows}, lines


def forward_flops(model, input_shape=None):
    """Forward FLOPs per example of a Keras model in training mode (noise and masking on),
    counted by TensorFlow's profiler on the traced graph of a batch of one (matmuls, einsums,
    convolutions and the element-wise ops it has a count for). `input_shape`: one example's,
    for a subclassed model without symbolic inputs."""
    import tensorflow as tf

    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else input_shape
    spec = tf.TensorSpec((1, *shape), tf.float32)
    graph = tf.function(lambda x: model(x, training=True)).get_concrete_function(spec).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return float(tf.compat.v1.profiler.profile(graph=graph, cmd="op", options=options,
                                               run_meta=tf.compat.v1.RunMetadata())
                 .total_float_ops)


MODERN_ARMS = ("sdae_mnist", "cdae_mnist", "dvae_mnist", "mae_mnist", "resae_mnist",
               "resdae_mnist", "vqvae_mnist", "dvqvae_mnist")


def pretraining_blocks(name, x):
    """Each block of zoo entry `name` (built for 28x28x1 images, seed 0, Keras' seed set), as
    the loop pretrains it: (the family, the block's index, its clean input computed from `x`,
    its pretraining model). Lazy: block k's input is computed after block k - 1 was used."""
    import keras

    from sdae_tf import zoo

    keras.utils.set_random_seed(0)
    stack = zoo.build(name, (28, 28, 1), seed=0)
    for block in range(stack.num_blocks):
        features = stack.features_before(block)  # the clean input of this block
        inputs = x if features is None else features.predict(x, batch_size=1024, verbose=0)
        yield stack, block, inputs, stack.pretrain_model(block)


def compile_block(stack, block, model, steps_per_execution, jit_compile="auto"):
    """`model` (block `block` of `stack`) compiled as the loop does: Adam 1e-3 at a constant
    rate, the block's loss; `jit_compile` as `Model.compile` takes it."""
    from sdae_tf.train import stages as stages_lib

    model.compile(stages_lib.make_optimizer(1e-3, "constant", 0), stack.block_loss(block),
                  steps_per_execution=steps_per_execution, jit_compile=jit_compile)


def section_modern(args):
    """Question 11's arms (`flags/experiments/beyond_modern.flags`): pretraining images/s of
    every block at batch 128 (the loop's compile), training FLOPs per image (3x the profiler's
    forward count: the forward pass, the weight and the input gradients), GFLOP/s and share of
    the matmul roof measured in the same process, and the seconds an MNIST pretraining epoch
    (50 000 images, every block) takes at that speed."""
    _, roof = matmul_roof(reps=3)
    n = args.examples
    x, _ = mnist_subset(n)
    names = args.zoo_models.split(",") if args.zoo_models else MODERN_ARMS
    rows = []
    for name in names:
        seconds, flops = 0.0, 0.0
        for stack, block, inputs, model in pretraining_blocks(name, x):
            flops += 3.0 * forward_flops(model)
            compile_block(stack, block, model, execution(n))
            seconds += _epoch_time(model, inputs, None, 128, args.epochs) / n
        gflops = flops / seconds / 1e9
        rows.append({"model": name, "blocks": stack.num_blocks, "images_per_s": 1 / seconds,
                     "train_mflops_per_image": flops / 1e6, "gflops": gflops,
                     "roof_share": gflops / roof, "mnist_epoch_seconds": 50000 * seconds})
    cdae = next((r for r in rows if r["model"] == "cdae_mnist"), None)
    lines = markdown_table(
        ["model (pretraining, every block, batch 128)", "images/s", "training MFLOP / image",
         "GFLOP/s", "% of roof", "s per MNIST epoch", "cost vs CDAE"],
        [[r["model"], f"{r['images_per_s']:.0f}", f"{r['train_mflops_per_image']:.1f}",
          f"{r['gflops']:.1f}", f"{100 * r['roof_share']:.0f} %",
          f"{r['mnist_epoch_seconds']:.0f}",
          "-" if cdae is None else f"{cdae['images_per_s'] / r['images_per_s']:.2f}x"]
         for r in rows])
    lines.append(f"\nRoof: {roof:.1f} GFLOP/s (matmul, best of TensorFlow and numpy).")
    return {"modern": rows, "roof_gflops": roof}, lines


# Families of the backend comparison: one model of every family that trains.
BACKEND_ARMS = ("sdae_mnist", "sdae_learned_sigma_mnist", "dvae_mnist", "cdae_mnist",
                "scdae_mnist", "mae_mnist", "dvqvae_mnist", "resdae_mnist", "kpdae_mnist")


def section_block_speed(args):
    """One process's pretraining speed of every block of each `--zoo_models` entry (batch 128,
    the loop's optimiser and steps per call; `--jit`: XLA-compiled, as `--jit_compile` on
    TensorFlow; `--keras_draws`: the noise drawn by `keras.random` as it is, not with Philox
    named): images/s, and on TensorFlow the training FLOPs per image (3x the profiler's forward
    count). `backends` runs it once per backend (TensorFlow with and without XLA) and round."""
    import keras

    from sdae_tf.layers import draws
    from sdae_tf.train import stages as stages_lib

    if args.keras_draws:
        draws._philox = lambda seed: False
    n = args.examples
    x, _ = mnist_subset(n)
    _, roof = matmul_roof(reps=3)  # this process's roof: the machine's speed drifts
    jit_compile = stages_lib.Stage(epochs=1, jit_compile=args.jit).keras_jit_compile
    rows = []
    for name in args.zoo_models.split(","):
        seconds, flops = 0.0, 0.0
        for stack, block, inputs, model in pretraining_blocks(name, x):
            if keras.backend.backend() == "tensorflow":
                flops += 3.0 * forward_flops(model, inputs.shape[1:])
            compile_block(stack, block, model, execution(n), jit_compile)
            seconds += _epoch_time(model, inputs, None, 128, args.epochs) / n
        rows.append({"model": name, "images_per_s": 1 / seconds,
                     "train_flops_per_image": flops or None})
        roof = max(roof, matmul_roof(reps=3)[1])
    return {"backend": keras.backend.backend(), "jit": bool(args.jit), "rows": rows,
            "roof_gflops": roof}, []


# The set-ups `backends` compares: (name, KERAS_BACKEND, XLA-compiled).
BACKEND_SETUPS = (("tensorflow", "tensorflow", False), ("tensorflow_xla", "tensorflow", True),
                  ("jax", "jax", True))


def block_speed_run(backend, names, args, jit=False, keras_draws=False):
    """`block_speed` in its own process on `backend`: {model: images/s}, {model: FLOPs}."""
    import json
    import subprocess

    env = {**os.environ, "KERAS_BACKEND": backend}
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "perf.py"), "block_speed",
         f"--examples={args.examples}", f"--epochs={args.epochs}", f"--zoo_models={names}",
         "--out=-", *(["--jit"] if jit else []), *(["--keras_draws"] if keras_draws else [])],
        env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"block_speed on {backend} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend, result["backend"]
    return ({row["model"]: row["images_per_s"] for row in result["rows"]},
            {row["model"]: row["train_flops_per_image"] for row in result["rows"]
             if row["train_flops_per_image"]}, result["roof_gflops"])


def section_backends(args):
    """Keras' TensorFlow (without and with XLA, `--jit_compile`) and JAX backends on every
    family that runs on both: pretraining images/s of every block at batch 128 (`block_speed`,
    each set-up in its own process, rounds interleaved, the order reversed every other round),
    GFLOP/s from the FLOPs TensorFlow's profiler counts (the same maths on either backend) and
    the share of the matmul roof measured in this process; the fastest set-up per family."""
    names = args.zoo_models or ",".join(BACKEND_ARMS)
    speeds = {setup: [] for setup, _, _ in BACKEND_SETUPS}
    roofs = {setup: [] for setup, _, _ in BACKEND_SETUPS}
    flops = {}
    for r in range(args.rounds):
        for setup, backend, jit in (BACKEND_SETUPS if r % 2 == 0 else BACKEND_SETUPS[::-1]):
            ips, counted, process_roof = block_speed_run(backend, names, args, jit=jit)
            speeds[setup].append(ips)
            roofs[setup].append(process_roof)
            flops.update(counted)
    roof = max(max(v) for v in roofs.values())
    rows = []
    for name in names.split(","):
        row = {"model": name, "train_mflops_per_image": flops[name] / 1e6}
        for setup, rounds in speeds.items():
            ips = statistics.median(s[name] for s in rounds)
            # each process's rate against the roof it measured around its own timings
            share = statistics.median(s[name] * flops[name] / 1e9 / r
                                      for s, r in zip(rounds, roofs[setup], strict=True))
            row[setup] = {"images_per_s": ips, "gflops": ips * flops[name] / 1e9,
                          "roof_share": share, "rounds": [s[name] for s in rounds],
                          "process_roofs_gflops": roofs[setup]}
        row["jax_vs_tensorflow"] = row["jax"]["images_per_s"] / row["tensorflow"]["images_per_s"]
        row["xla_vs_tensorflow"] = (row["tensorflow_xla"]["images_per_s"]
                                    / row["tensorflow"]["images_per_s"])
        row["faster"] = max(speeds, key=lambda setup, row=row: row[setup]["images_per_s"])
        rows.append(row)
    lines = markdown_table(
        ["model (pretraining, every block, batch 128)", "training MFLOP / image",
         "TensorFlow images/s (% of roof)", "TensorFlow + XLA", "JAX", "fastest"],
        [[r["model"], f"{r['train_mflops_per_image']:.1f}",
          *(f"{r[s]['images_per_s']:.0f} ({100 * r[s]['roof_share']:.0f} %)"
            for s, _, _ in BACKEND_SETUPS), r["faster"].replace("_", " + ").replace("xla", "XLA")
          .replace("tensorflow", "TensorFlow").replace("jax", "JAX")] for r in rows])
    lines.append(f"\nShare of roof: each process's rate against the matmul roof (best of "
                 f"TensorFlow and numpy) it measured before and after its timings, the highest "
                 f"{roof:.1f} GFLOP/s; medians of {args.rounds} interleaved rounds, each set-up "
                 "in its own process.")
    return {"backends": rows, "roof_gflops": roof}, lines


def section_xla_rng(args):
    """TensorFlow + XLA on the SDAE's blocks with the noise drawn as `keras.random` draws it
    (TensorFlow picks the algorithm at run time) against our draws (Philox named: the same
    numbers outside XLA), each in its own process, interleaved rounds: images/s."""
    names = args.zoo_models or "sdae_mnist"
    arms = {"keras.random": [], "philox named": []}
    for r in range(args.rounds):
        for arm in (arms if r % 2 == 0 else list(arms)[::-1]):
            arms[arm].append(block_speed_run("tensorflow", names, args, jit=True,
                                             keras_draws=arm == "keras.random")[0])
    rows = [{"model": name, **{arm: statistics.median(s[name] for s in rounds)
                               for arm, rounds in arms.items()}} for name in names.split(",")]
    lines = markdown_table(
        ["model (TensorFlow + XLA, every block, batch 128)", "keras.random's draws, images/s",
         "Philox named, images/s", "speed-up"],
        [[r["model"], f"{r['keras.random']:.0f}", f"{r['philox named']:.0f}",
          f"{r['philox named'] / r['keras.random']:.2f}x"] for r in rows])
    return {"rows": rows}, lines


# Issue 44's targets: each family's pretraining on its faster backend, as a share of the roof.
BOUND_TARGETS = {"sdae_mnist": 0.70, "cdae_mnist": 0.50, "mae_mnist": 0.40}
KERNEL_KINDS = [("kernels", ("MatMul", "Conv2D", "Einsum")),
                ("optimizer", ("ApplyAdam", "Assign", "ResourceApply")),
                ("random numbers", ("Random",))]


def jax_dense_parts(batch, blocks, reps=5, inner=20):
    """Seconds per step, summed over dense blocks `(inputs, units)`, of (a) the block's five
    training matmuls alone (forward two, the weight gradients two, the hidden layer's input
    gradient), and (b) Adam's update of its weights and biases alone (reading and writing the
    weights and both moments), each looped `inner` times inside one `jax.jit`; and the
    training FLOPs per step of those matmuls. On JAX, what no step of these blocks can beat."""
    import jax
    import jax.numpy as jnp

    def gemm_body(x, w1, w2):
        def body(i, acc):
            xi = x + acc * 1e-30  # depends on the carry: not hoisted out of the loop
            h = xi @ w1
            y = h @ w2
            dh = y @ w2.T
            return acc + (h.T @ y)[0, 0] + (xi.T @ dh)[0, 0]
        return jax.lax.fori_loop(0, inner, body, jnp.float32(0))

    def adam_body(params, ms, vs):
        def body(i, state):
            out = ([], [], [])
            for p, m, v in zip(*state, strict=True):
                g = p * 1e-3  # a gradient shaped like p
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                out[0].append(p - 1e-3 * m / (jnp.sqrt(v) + 1e-7))
                out[1].append(m)
                out[2].append(v)
            return out
        return jax.lax.fori_loop(0, inner, body, (params, ms, vs))

    gemms, adam = jax.jit(gemm_body), jax.jit(adam_body)
    gemm_s = adam_s = flops = 0.0
    for d_in, units in blocks:
        keys = jax.random.split(jax.random.PRNGKey(0), 3)
        x = jax.random.uniform(keys[0], (batch, d_in))
        w1 = jax.random.normal(keys[1], (d_in, units)) * 0.03
        w2 = jax.random.normal(keys[2], (units, d_in)) * 0.03
        gemm_s += median_time(lambda a=(x, w1, w2): gemms(*a).block_until_ready(), reps) / inner
        params = [w1, jnp.zeros(units), w2, jnp.zeros(d_in)]
        zeros = [jnp.zeros_like(q) for q in params]
        adam_s += median_time(lambda a=(params, zeros, zeros): jax.block_until_ready(adam(*a)),
                              reps) / inner
        flops += 10.0 * d_in * units * batch
    return gemm_s, adam_s, flops


def section_bounds(args):
    """What bounds each family's pretraining speed against issue 44's targets (the SDAE, the
    CDAE and the masked autoencoder, every block, batch 128, the loop's compile): on TensorFlow,
    the measured images/s and its profile (seconds per image in the matmul and convolution
    kernels, the optimizer update, random numbers and the rest, the measured step split in
    proportion to them); the kernels' own rate as a share of the roof (what the step would
    reach if every other op took no time) and the kernels + optimizer ceiling. For the SDAE
    on JAX, the same ceiling from its matmuls and Adam's update timed alone, beside our loop's
    JAX speed."""
    import collections

    from sdae_tf import zoo
    from sdae_tf.data import make_pipeline

    n = args.examples
    x, _ = mnist_subset(n)
    per_call = execution(n)
    steps = per_call * max(1, 46 // per_call)
    rows = []
    names = (args.zoo_models or ",".join(BOUND_TARGETS)).split(",")
    for name in names:
        _, roof = matmul_roof(reps=3)  # around each family's timings: the machine drifts
        flops, graph, xla = 0.0, 0.0, 0.0
        kinds, top = collections.Counter(), collections.Counter()
        for stack, block, inputs, model in pretraining_blocks(name, x):
            flops += 3.0 * forward_flops(model, inputs.shape[1:])
            for jit in (True, False):  # the profile below is the graph's (XLA's is one op)
                compile_block(stack, block, model, per_call, jit)
                seconds = _epoch_time(model, inputs, None, 128, args.epochs) / n
                xla, graph = (xla + seconds, graph) if jit else (xla, graph + seconds)
            ds = make_pipeline(inputs, None, batch_size=128, shuffle=True, seed=0)
            by_type, _ = tf_op_seconds(model, ds, steps)
            for op, seconds in by_type.items():
                kinds[op_kind(op, KERNEL_KINDS)] += seconds / (steps * 128)
                top[op] += seconds / (steps * 128)
        roof = max(roof, matmul_roof(reps=3)[1])
        # The profiler's op times, summed over threads, can exceed the wall time (ops run side
        # by side): the measured step is split in proportion to them.
        op_time = sum(kinds.values())
        share = flops / graph / 1e9 / roof
        kernel_share = share * op_time / kinds["kernels"]
        ceiling = share * op_time / (kinds["kernels"] + kinds["optimizer"])
        rows.append({
            "model": name, "backend": "tensorflow", "train_mflops_per_image": flops / 1e6,
            "images_per_s": 1 / graph, "roof_share": share, "kernel_share": kernel_share,
            "kernels_and_optimizer_ceiling": ceiling, "target": BOUND_TARGETS.get(name),
            "xla_images_per_s": 1 / xla, "xla_roof_share": flops / xla / 1e9 / roof,
            "roof_gflops": roof,
            "op_time_shares": {k: v / op_time for k, v in kinds.most_common()},
            "top_ops_us_per_image": {op: 1e6 * v for op, v in top.most_common(8)}})
    if "sdae_mnist" in names:
        stack = zoo.build("sdae_mnist", (28, 28, 1))
        dims = (784, *stack.hidden_units)
        blocks = list(zip(dims[:-1], dims[1:], strict=True))
        gemm_s, adam_s, step_flops = jax_dense_parts(128, blocks)
        jax_speeds, _, roof = block_speed_run("jax", "sdae_mnist", args)
        jax_ips = jax_speeds["sdae_mnist"]
        tf_row = next(r for r in rows if r["model"] == "sdae_mnist")
        rows.append({
            "model": "sdae_mnist", "backend": "jax",
            "train_mflops_per_image": tf_row["train_mflops_per_image"], "images_per_s": jax_ips,
            "roof_share": jax_ips * tf_row["train_mflops_per_image"] / 1e3 / roof,
            "kernel_share": step_flops / gemm_s / 1e9 / roof,
            "kernels_and_optimizer_ceiling": step_flops / (gemm_s + adam_s) / 1e9 / roof,
            "target": BOUND_TARGETS["sdae_mnist"],
            "roof_gflops": roof,
            "parts_ms_per_step": {"matmuls": 1e3 * gemm_s, "adam": 1e3 * adam_s}})
    lines = markdown_table(
        ["model (pretraining, every block, batch 128)", "backend", "images/s (% of roof)",
         "with XLA", "kernels' own rate, % of roof", "kernels + optimizer ceiling, % of roof",
         "target"],
        [[r["model"], r["backend"], f"{r['images_per_s']:.0f} ({100 * r['roof_share']:.0f} %)",
          f"{r['xla_images_per_s']:.0f} ({100 * r['xla_roof_share']:.0f} %)"
          if "xla_images_per_s" in r else "(always)",
          f"{100 * r['kernel_share']:.0f} %",
          f"{100 * r['kernels_and_optimizer_ceiling']:.0f} %",
          f"{100 * r['target']:.0f} %"] for r in rows])
    lines.append("\nRoof: the matmul roof (best of TensorFlow and numpy) measured before and "
                 "after each family's timings, in its process.")
    for r in rows:
        if "op_time_shares" in r:
            lines.append(f"{r['model']} on TensorFlow, share of op time: " + ", ".join(
                f"{k} {100 * v:.0f} %" for k, v in r["op_time_shares"].items()) + "; top ops "
                "(us per image): " + ", ".join(f"{op} {us:.1f}" for op, us in
                                               r["top_ops_us_per_image"].items()) + ".")
        else:
            lines.append(f"{r['model']} on JAX, alone per step: matmuls "
                         f"{r['parts_ms_per_step']['matmuls']:.2f} ms, Adam's update "
                         f"{r['parts_ms_per_step']['adam']:.2f} ms.")
    return {"rows": rows}, lines


def section_precision(args):
    """`--precision=mixed_bfloat16` against float32: pretraining images/s of the MNIST CAE, CDAE
    and the SDAE's first dense block (batch 128, the loop's compile), the two precisions'
    epochs interleaved in one process and their ratio taken round by round; the loss after the
    same epochs says what bfloat16 rounding costs (issue 13: the conv budget bounds Table 4)."""
    import keras

    from sdae_tf import zoo
    from sdae_tf.data import make_pipeline, steps_per_epoch
    from sdae_tf.runner import precision as precision_lib
    from sdae_tf.train import stages as stages_lib

    n = args.examples
    x, _ = mnist_subset(n)
    rows = []
    for name in ("cae_mnist", "cdae_mnist", "sdae_mnist"):
        runs, losses = {}, {}
        for precision in ("float32", "mixed_bfloat16"):
            with precision_lib.compute_precision(precision):
                keras.utils.set_random_seed(0)
                stack = zoo.build(name, (28, 28, 1), seed=0)
                model = stack.pretrain_model(0)
                model.compile(stages_lib.make_optimizer(1e-3, "constant", 0), stack.block_loss(0),
                              steps_per_execution=execution(n))
            ds = make_pipeline(x, None, batch_size=128, shuffle=True, seed=0)
            fit = fit_fn(model, ds, steps_per_epoch(n, 128))

            def logged(epochs, callbacks, fit=fit, model=model, precision=precision,
                       losses=losses):
                fit(epochs, callbacks)
                losses[precision] = float(model.evaluate(x[:2048], x[:2048], verbose=0))

            runs[precision] = logged
        medians, per_round = interleaved(runs, rounds=args.rounds, epochs=args.epochs)
        rows.append({"model": name,
                     "images_per_s": {k: n / v for k, v in medians.items()},
                     "speedup": 1 / paired_ratio(per_round, "mixed_bfloat16", "float32"),
                     "loss_after": losses})
    lines = markdown_table(
        ["model (pretraining block 1, batch 128)", "float32 images/s", "mixed_bfloat16 images/s",
         "speed-up (paired)", "loss after, float32 / bfloat16"],
        [[r["model"], f"{r['images_per_s']['float32']:.0f}",
          f"{r['images_per_s']['mixed_bfloat16']:.0f}", f"{r['speedup']:.2f}x",
          f"{r['loss_after']['float32']:.4f} / {r['loss_after']['mixed_bfloat16']:.4f}"]
         for r in rows])
    return {"precision": rows}, lines


def section_distribute(args):
    """`--strategy=mirrored` over two logical CPU devices (one CPU split in two) vs one device:
    samples/s of the SDAE block at global batch 128 and 256. Both replicas share this
    machine's cores, so the ratio measures the strategy's overhead, not a speed-up."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from sdae_tf.data import make_pipeline, steps_per_epoch
    from sdae_tf.train import distribute

    n = args.examples
    x, _ = mnist_subset(n)
    rows = []
    for batch in (128, 256):
        runs = {}
        for name in ("none", "mirrored"):
            with distribute.make_strategy(name).scope():
                model = sdae_block()  # one step per call: the loop's setting under a strategy
            runs[name] = fit_fn(model, make_pipeline(x, None, batch_size=batch, shuffle=True,
                                                     seed=0), steps_per_epoch(n, batch))
        medians, per_round = interleaved(runs, rounds=2)
        rows.append({"batch": batch, "replicas": 2,
                     "samples_per_s": {k: n / v for k, v in medians.items()},
                     "throughput_ratio": 1 / paired_ratio(per_round, "mirrored", "none")})
    lines = markdown_table(
        ["global batch", "one device samples/s", "mirrored, 2 logical CPUs, samples/s",
         "mirrored / one device"],
        [[r["batch"], f"{r['samples_per_s']['none']:.0f}",
          f"{r['samples_per_s']['mirrored']:.0f}", f"{r['throughput_ratio']:.2f}"]
         for r in rows])
    return {"throughput": rows}, lines


def section_peer(args):
    """The same 784-1000-784 denoising block (Gaussian 0.4, sigmoid, cross-entropy averaged
    over pixels, Adam 1e-3, batch 128) trained by a plain PyTorch loop like the
    original research code's, interleaved with ours. Skipped without PyTorch (not a
    dependency)."""
    try:
        import torch
    except ImportError:
        lines = ["Skipped: PyTorch is not installed (it is not a dependency of sdae_tf)."]
        return {"skipped": "PyTorch is not installed"}, lines
    from sdae_tf.data import make_pipeline, steps_per_epoch

    n = args.examples
    x, _ = mnist_subset(n)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 1000), torch.nn.Sigmoid(),
                              torch.nn.Linear(1000, 784))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    data = torch.from_numpy(x.reshape(n, 784))

    def torch_fit(epochs, callbacks):
        times = callbacks[0]
        times.times = []
        for _ in range(epochs):
            start = time.perf_counter()
            for i in torch.randperm(n).split(128):
                clean = data[i]
                logits = net(clean + 0.4 * torch.randn_like(clean))
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, clean)
                opt.zero_grad()
                loss.backward()
                opt.step()
            times.times.append(time.perf_counter() - start)

    ds = make_pipeline(x, None, batch_size=128, shuffle=True, seed=0)
    ours = sdae_block(steps_per_execution=execution(n))
    medians, per_round = interleaved({"ours": fit_fn(ours, ds, steps_per_epoch(n, 128)),
                                      "pytorch": torch_fit})
    ratio = paired_ratio(per_round, "ours", "pytorch")
    lines = [f"SDAE block epoch, batch 128, {n} examples: ours {medians['ours']:.2f} s, plain "
             f"PyTorch {torch.__version__} loop {medians['pytorch']:.2f} s, ours / PyTorch "
             f"{ratio:.3f}."]
    return {"epoch_seconds": medians, "ratio": ratio, "torch": torch.__version__}, lines


SECTIONS = {"roof": section_roof, "dense": section_dense, "precision": section_precision,
            "optimizer": section_optimizer, "learned": section_learned,
            "pipeline": section_pipeline, "threads": section_threads, "profile": section_profile,
            "serving": section_serving, "zoo": section_zoo, "distribute": section_distribute,
            "peer": section_peer, "probe": section_probe, "conv": section_conv,
            "mae": section_mae, "modern": section_modern, "backends": section_backends,
            "block_speed": section_block_speed, "bounds": section_bounds,
            "xla_rng": section_xla_rng}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", choices=sorted(SECTIONS))
    # 92 batches of 128: 23 steps per compiled call, as MNIST's 391 (the loop's default).
    parser.add_argument("--examples", type=int, default=11776)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds (sections that compare set-ups)")
    parser.add_argument("--zoo_models", default=None,
                        help="sections zoo, modern: only these entries "
                        "(comma-separated; default all)")
    parser.add_argument("--jit", action="store_true", help="block_speed: XLA-compiled steps")
    parser.add_argument("--keras_draws", action="store_true",
                        help="block_speed: the noise drawn by keras.random as it is")
    parser.add_argument("--out", default=None, help="JSON path; '-': print one JSON line")
    args = parser.parse_args()
    result, lines = SECTIONS[args.section](args)
    if args.out == "-":
        import json

        print(json.dumps(result), flush=True)
        return
    write_results(args.out or f"benchmarks/results/perf_{args.section}.json",
                  {"section": args.section, "examples": args.examples, **result}, lines)


if __name__ == "__main__":
    sys.exit(main())
