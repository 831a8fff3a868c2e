"""Masked digits filled in: the shipped masked autoencoder (`mae_mnist`, its `inpaint`
endpoint: the encoder sees the visible patches only) beside the shipped CDAE and SDAE (their
whole autoencoders on the zero-masked digits) and the masked input itself. Writes
benchmarks/results/inpainting.json / .md and docs/figures/inpainting.png.

    python benchmarks/inpainting.py                 # the whole test set (10k digits)
    python benchmarks/inpainting.py --examples=500  # quicker

Corruption (seeded): a share (75 % by default, the MAE's training ratio; also 50 % and 25 %) of
each digit's 4x4 patches hidden, the same patches for every method; the hidden pixels are zero
in what the autoencoders read. PSNR per image (data range 1) with the visible patches kept
(what is scored is how the hidden ones are filled in), averaged.
"""

import argparse
import json
import time

import numpy as np
from common import REPO, markdown_table, write_results
from denoising import batched, figure

from sdae_tf.evaluation.unsupervised import patch_mask, psnr

MAE = "mae_mnist"
AUTOENCODERS = ["cdae_mnist", "sdae_mnist"]
RATIOS = (0.75, 0.5, 0.25)
FIGURE = "docs/figures/inpainting.png"


def kept(clean, pixels, out):
    """`out` on the hidden pixels, the clean digit on the visible ones."""
    return pixels * np.clip(out, 0.0, 1.0) + (1.0 - pixels) * clean


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--out", default="benchmarks/results/inpainting.json")
    parser.add_argument("--figure", default=FIGURE)
    args = parser.parse_args()

    import sdae_tf
    from sdae_tf.data import load_dataset

    clean = load_dataset("mnist", seed=0).x_test[:args.examples]
    inpainter = sdae_tf.inpainter(MAE)
    denoisers = {m: sdae_tf.denoiser(m) for m in AUTOENCODERS}
    results, shown = {}, None
    for i, ratio in enumerate(RATIOS):
        hidden, pixels = patch_mask(clean.shape, 4, ratio, np.random.default_rng(10 + i))
        masked = clean * (1.0 - pixels)

        outputs = {"masked input": masked}
        start = time.perf_counter()
        outputs[MAE] = kept(clean, pixels, np.concatenate([
            np.asarray(inpainter([clean[j:j + 1000], hidden[j:j + 1000]]))
            for j in range(0, len(clean), 1000)]))
        seconds = {MAE: time.perf_counter() - start}
        for m, layer in denoisers.items():
            start = time.perf_counter()
            outputs[m] = kept(clean, pixels, batched(layer, masked))
            seconds[m] = time.perf_counter() - start
        label = f"{ratio:.0%} of the 4x4 patches hidden"
        results[label] = {name: {"psnr_db": float(np.mean(psnr(clean, out))),
                                 **({"seconds": round(seconds[name], 2)}
                                    if name in seconds else {})}
                          for name, out in outputs.items()}
        if shown is None:
            shown = outputs

    if args.figure:
        names = list(shown)
        figure(REPO / args.figure, clean, [clean, *[shown[n] for n in names]],
               ["clean", *[f"{RATIOS[0]:.0%} hidden:\n{n}" for n in names]])

    methods = list(next(iter(results.values())))
    head = ["method", *[f"PSNR, {c} (dB)" for c in results]]
    body = [[m, *[f"{results[c][m]['psnr_db']:.2f}" for c in results]] for m in methods]
    lines = [f"Filling in hidden patches of {len(clean)} MNIST test digits (mean PSNR against "
             "the clean digit, the visible patches kept)", "", *markdown_table(head, body)]
    write_results(args.out, {"examples": len(clean), "ratios": list(RATIOS), "patch": 4,
                             "results": results, "figure": args.figure}, lines)
    print(json.dumps({c: {m: round(r["psnr_db"], 2) for m, r in row.items()}
                      for c, row in results.items()}))


if __name__ == "__main__":
    main()
