"""The shipped autoencoders as denoisers: PSNR of their reconstructions of corrupted MNIST test
digits against the clean digits, beside classical denoisers (scikit-image's non-local means, a
Gaussian blur, a median filter) and the corrupted input itself. Writes
benchmarks/results/denoising.json / .md and docs/figures/denoising.png.

    python benchmarks/denoising.py                 # the whole test set (10k digits)
    python benchmarks/denoising.py --examples=500  # quicker

Corruptions (seeded): Gaussian noise sigma 0.4 clipped to [0, 1] (the noise the denoising models
were trained on, made a valid image), and masking: 25 % of the pixels set to 0. PSNR per image
(data range 1), averaged. The classical denoisers' settings (blur width, median size, NLM's h)
are chosen on 500 training digits per corruption, best mean PSNR, never on the test digits.
"""

import argparse
import json
import time

import numpy as np
from common import REPO, markdown_table, write_results

from sdae_tf.evaluation.unsupervised import psnr  # per-image PSNR in dB, data range 1

MODELS = ["sdae_mnist", "cdae_mnist", "sdae_learned_sigma_mnist", "dvae_mnist", "sae_mnist"]
CORRUPTIONS = {"gaussian 0.4": ("gaussian", 0.4), "masking 25%": ("masking", 0.25)}
FIGURE = "docs/figures/denoising.png"


def corrupt(x, kind, level, seed):
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return np.clip(x + level * rng.standard_normal(x.shape, dtype=np.float32), 0.0, 1.0)
    return np.where(rng.random(x.shape) < level, 0.0, x).astype(np.float32)


def classical(name, param):
    """A classical denoiser of images (n, 28, 28, 1) with its parameter."""
    from scipy import ndimage

    if name == "gaussian blur":
        return lambda x: ndimage.gaussian_filter(x, sigma=(0, param, param, 0))
    if name == "median filter":
        return lambda x: ndimage.median_filter(x, size=(1, param, param, 1))
    if name == "non-local means":
        from skimage.restoration import denoise_nl_means

        def nlm(x):
            return np.stack([denoise_nl_means(img[..., 0], h=param, patch_size=3,
                                              patch_distance=5, fast_mode=True)[..., None]
                             for img in x]).astype(np.float32)

        return nlm
    raise ValueError(name)


GRIDS = {"gaussian blur": [0.5, 0.75, 1.0, 1.5], "median filter": [2, 3, 5],
         "non-local means": [0.1, 0.2, 0.3, 0.5]}


def tune(name, clean, noisy):
    """The parameter of `name` with the best mean PSNR on (clean, noisy)."""
    scores = {p: float(np.mean(psnr(clean, classical(name, p)(noisy)))) for p in GRIDS[name]}
    return max(scores, key=scores.get)


def batched(layer, x, batch=1000):
    return np.concatenate([np.asarray(layer(x[i:i + batch])) for i in range(0, len(x), batch)])


def figure(path, clean, rows, labels, count=8):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), count, figsize=(count * 1.05, len(rows) * 1.2))
    for r, (label, images) in enumerate(zip(labels, rows, strict=True)):
        scores = psnr(clean[:count], images[:count])
        for c in range(count):
            ax = axes[r, c]
            ax.imshow(np.clip(images[c, ..., 0], 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if r > 0:
                ax.set_title(f"{scores[c]:.1f} dB", fontsize=7, pad=2)
            if c == 0:
                ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", default="benchmarks/results/denoising.json")
    parser.add_argument("--figure", default=FIGURE)
    args = parser.parse_args()

    import sdae_tf
    from sdae_tf.data import load_dataset

    data = load_dataset("mnist", seed=0)
    clean = data.x_test[:args.examples]
    tune_clean = data.x_train[:500]
    models = [m for m in args.models.split(",") if m]
    denoisers = {m: sdae_tf.denoiser(m) for m in models}
    results, figure_rows = {}, []
    for c, (label, (kind, level)) in enumerate(CORRUPTIONS.items()):
        noisy = corrupt(clean, kind, level, seed=100 + c)
        tune_noisy = corrupt(tune_clean, kind, level, seed=200 + c)
        row = {"noisy input": {"psnr_db": float(np.mean(psnr(clean, noisy)))}}
        outputs = {"noisy input": noisy}
        for name in GRIDS:
            param = tune(name, tune_clean, tune_noisy)
            start = time.perf_counter()
            out = classical(name, param)(noisy)
            row[name] = {"psnr_db": float(np.mean(psnr(clean, out))), "parameter": param,
                         "seconds": round(time.perf_counter() - start, 2)}
            outputs[name] = out
        for m, layer in denoisers.items():
            start = time.perf_counter()
            out = batched(layer, noisy)
            row[m] = {"psnr_db": float(np.mean(psnr(clean, out))),
                      "seconds": round(time.perf_counter() - start, 2),
                      "trained_on": layer.noise}
            outputs[m] = out
        results[label] = row
        shown = ["noisy input", "non-local means", "gaussian blur",
                 *[m for m in ("sdae_mnist", "cdae_mnist") if m in outputs]]
        figure_rows.append((label, [outputs[s] for s in shown], shown))

    if args.figure:
        rows = [clean]
        labels = ["clean"]
        for label, outs, shown in figure_rows:
            rows += outs
            labels += [f"{label}:\n{s}" for s in shown]
        figure(REPO / args.figure, clean, rows, labels)

    methods = list(next(iter(results.values())))
    head = ["method", *[f"PSNR, {c} (dB)" for c in results]]
    body = []
    for method in methods:
        cells = []
        for c in results:
            r = results[c][method]
            cells.append(f"{r['psnr_db']:.2f}" + (f" ({r['parameter']})" if "parameter" in r
                                                    else ""))
        body.append([method, *cells])
    lines = [f"Denoising {len(clean)} MNIST test digits (mean PSNR against the clean digit; "
             "classical settings in parentheses, chosen on 500 training digits)", "",
             *markdown_table(head, body)]
    write_results(args.out, {"examples": len(clean), "corruptions": {
        k: {"type": v[0], "level": v[1]} for k, v in CORRUPTIONS.items()},
        "results": results, "figure": args.figure}, lines)
    print(json.dumps({c: {m: round(r["psnr_db"], 2) for m, r in row.items()}
                      for c, row in results.items()}))


if __name__ == "__main__":
    main()
