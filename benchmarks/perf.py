"""Performance benchmarks, one comparison per process (`benchmarks/run_all.py` runs them all):
ratios measured side by side in one process, since absolute times on these machines vary.

    python benchmarks/perf.py roof        # float32 matmul FLOP/s, TensorFlow vs numpy
    python benchmarks/perf.py dense       # SDAE block / fine-tuning step: samples/s, % of roof,
                                          # our loop vs plain Keras fit, XLA on vs off
    python benchmarks/perf.py learned     # learned-sigma train_step vs the plain SDAE step
    python benchmarks/perf.py pipeline    # tf.data pipeline vs the same tensors in memory
    python benchmarks/perf.py serving     # SavedModel signature vs Keras predict
    python benchmarks/perf.py zoo         # samples/s of every MNIST zoo entry's pretraining

Each prints a Markdown table and writes benchmarks/results/perf_<name>.json (with commit,
TensorFlow version, CPUs, thread settings).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from common import markdown_table, write_results  # noqa: E402


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
    """Training FLOPs per example of a dense stack's matmuls: forward 2*in*out per layer,
    backward twice that."""
    return 6.0 * sum(a * b for a, b in zip(dims[:-1], dims[1:], strict=True))


def _epoch_time(model, x, y, batch, epochs, callbacks=(), pipeline=True, seed=0):
    """Median time of epochs 2.. of `model.fit` on (x, y): through our pipeline or plain
    numpy arrays (Keras' own adapter)."""
    from sdae_tf.data import make_pipeline, steps_per_epoch

    times = EpochTimes()
    if pipeline:
        ds = make_pipeline(x, y, batch_size=batch, shuffle=True, seed=seed)
        model.fit(ds, epochs=epochs, steps_per_epoch=steps_per_epoch(len(x), batch),
                  verbose=0, callbacks=[times, *callbacks])
    else:
        model.fit(x, x if y is None else y, batch_size=batch, epochs=epochs, shuffle=True,
                  verbose=0, callbacks=[times])
    return statistics.median(times.times[1:])


def section_dense(args):
    """The SDAE's first block (784-1000-784, Gaussian 0.4) and fine-tuning step: samples/s and
    % of the roof per batch size; our loop (`training.fit_stage`, epoch checkpoints and the
    divergence guard included) vs plain `keras.Sequential` + `fit`; XLA on vs off."""
    import keras

    from sdae_tf import training, zoo

    n, epochs = args.examples, args.epochs
    x, y = mnist_subset(n)
    _, roof = matmul_roof(reps=3)
    dims = [784, 1000, 784]
    rows = []
    for batch in (128, 256, 512):
        for jit in (False, True):
            keras.utils.set_random_seed(0)
            stack = zoo.build("sdae_mnist", (28, 28, 1), hidden_units=(1000,), seed=0)
            model = stack.pretrain_model(0)
            model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", jit_compile=jit)
            t = _epoch_time(model, x, None, batch, epochs)
            rate = n / t
            rows.append({"what": "SDAE block 1 (our model, our pipeline)", "batch": batch,
                         "jit": jit, "epoch_seconds": t, "samples_per_s": rate,
                         "gflops": rate * block_flops_per_sample(dims) / 1e9})
    for r in rows:
        r["fraction_of_roof"] = r["gflops"] / roof

    # Our loop vs plain Keras on the same network and data (batch 128, no XLA: the default).
    cfg = training.TrainConfig(batch_size=128, verbose=0, pretrain_epochs=epochs)
    keras.utils.set_random_seed(0)
    stack = zoo.build("sdae_mnist", (28, 28, 1), hidden_units=(1000,), seed=0)
    ours_model = stack.pretrain_model(0)
    ours_model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    times = EpochTimes()
    training.fit_stage(ours_model, x, None, None, epochs, cfg, "bench", seed=0,
                       callbacks=[times])
    ours = statistics.median(times.times[1:])
    keras.utils.set_random_seed(0)
    plain = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.GaussianNoise(0.4), keras.layers.Flatten(),
        keras.layers.Dense(1000, activation="sigmoid"),
        keras.layers.Dense(784, activation="sigmoid"), keras.layers.Reshape((28, 28, 1))])
    plain.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    plain_t = _epoch_time(plain, x, None, 128, epochs, pipeline=False)
    overhead = {"ours_epoch_seconds": ours, "plain_keras_epoch_seconds": plain_t,
                "ratio": ours / plain_t}

    lines = markdown_table(
        ["step", "batch", "XLA", "samples/s", "GFLOP/s", "% of roof"],
        [[r["what"], r["batch"], "on" if r["jit"] else "off", f"{r['samples_per_s']:.0f}",
          f"{r['gflops']:.1f}", f"{100 * r['fraction_of_roof']:.0f} %"] for r in rows])
    lines += ["", f"Roof {roof:.1f} GFLOP/s. Our loop vs plain Keras fit (batch 128, "
              f"{n} examples): {ours:.2f} s vs {plain_t:.2f} s per epoch, ratio "
              f"{overhead['ratio']:.3f} (target <= 1.05)."]
    return {"roof_gflops": roof, "examples": n, "throughput": rows,
            "loop_vs_plain_keras": overhead}, lines


def section_learned(args):
    """The learned-sigma block's custom train_step (two gradients, two optimizers) vs the plain
    SDAE block, same data and batch."""
    import keras

    from sdae_tf import zoo

    n, epochs = args.examples, args.epochs
    x, _ = mnist_subset(n)
    out = {}
    for name in ("sdae_mnist", "sdae_learned_sigma_mnist"):
        keras.utils.set_random_seed(0)
        stack = zoo.build(name, (28, 28, 1), hidden_units=(1000,), seed=0,
                          **({"lambdas": (0.026,)} if "learned" in name else {}))
        model = stack.pretrain_model(0)
        model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
        out[name] = _epoch_time(model, x, None, 128, epochs)
    ratio = out["sdae_learned_sigma_mnist"] / out["sdae_mnist"]
    lines = [f"Learned-sigma block vs plain SDAE block (784-1000, batch 128, {n} examples): "
             f"{out['sdae_learned_sigma_mnist']:.2f} s vs {out['sdae_mnist']:.2f} s per epoch, "
             f"ratio {ratio:.3f} (target <= 1.10)."]
    return {"epoch_seconds": out, "ratio": ratio}, lines


def section_pipeline(args):
    """Epoch time of the fine-tuning step fed by our shuffled `tf.data` pipeline, by a
    pipeline over a built MNIST variant (the variant is built once and cached on disk), and by
    the same tensors already in memory (one `from_tensor_slices` dataset, cached, prefetched)."""
    import keras
    import tensorflow as tf

    from sdae_tf import zoo
    from sdae_tf.data import load_dataset

    n, epochs = args.examples, args.epochs
    x, y = mnist_subset(n)
    start = time.perf_counter()
    load_dataset("mnist_bg_rand_rot")
    variant_load = time.perf_counter() - start  # cached after the first build

    def model():
        keras.utils.set_random_seed(0)
        stack = zoo.build("sdae_mnist", (28, 28, 1), seed=0)
        clf = zoo.classifier(stack.encoder, 10)
        clf.compile(keras.optimizers.Adam(1e-3),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return clf

    ours = _epoch_time(model(), x, y, 128, epochs)
    mem = (tf.data.Dataset.from_tensor_slices((x, y)).batch(128).cache().repeat()
           .prefetch(tf.data.AUTOTUNE))
    times = EpochTimes()
    model().fit(mem, epochs=epochs, steps_per_epoch=-(-n // 128), verbose=0, callbacks=[times])
    in_memory = statistics.median(times.times[1:])
    ratio = ours / in_memory
    lines = [f"Fine-tuning epoch ({n} examples, batch 128): our shuffled pipeline {ours:.2f} s, "
             f"in-memory batches {in_memory:.2f} s, ratio {ratio:.3f} (target <= 1.05). "
             f"Loading the cached bg-rand-rot variant: {variant_load:.2f} s."]
    return {"pipeline_epoch_seconds": ours, "in_memory_epoch_seconds": in_memory,
            "ratio": ratio, "variant_load_seconds": variant_load}, lines


def section_serving(args):
    """The exported encoder as a SavedModel (`tf.saved_model.load(...).serve`) vs Keras
    `predict`, on the same batches."""
    import tensorflow as tf

    from sdae_tf import export, zoo

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

    n = args.examples
    x, _ = mnist_subset(n)
    rows = []
    for entry in zoo.REGISTRY:
        if entry.dataset != "mnist" or not entry.layerwise_pretraining:
            continue
        keras.utils.set_random_seed(0)
        stack = zoo.build(entry.name, (28, 28, 1), seed=0)
        model = stack.pretrain_model(0)
        model.compile(keras.optimizers.Adam(1e-3), stack.block_loss(0))
        t = _epoch_time(model, x, None, 128, 3)
        rows.append({"model": entry.name, "samples_per_s": n / t})
    lines = markdown_table(["model (block 1 pretraining, batch 128)", "samples/s"],
                           [[r["model"], f"{r['samples_per_s']:.0f}"] for r in rows])
    return {"zoo": rows}, lines


SECTIONS = {"roof": section_roof, "dense": section_dense, "learned": section_learned,
            "pipeline": section_pipeline, "serving": section_serving, "zoo": section_zoo}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", choices=sorted(SECTIONS))
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    result, lines = SECTIONS[args.section](args)
    write_results(args.out or f"benchmarks/results/perf_{args.section}.json",
                  {"section": args.section, "examples": args.examples, **result}, lines)


if __name__ == "__main__":
    sys.exit(main())
