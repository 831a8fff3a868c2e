"""Section 8's higher-resolution question, scored: the autoencoders of
`flags/experiments/beyond_resolution.flags` (the report's 8-layer conv CAE / CDAE against the deep
residual ResAE / ResDAE) reconstruct the 64x64 test crops, clean and from Gaussian-0.4 input;
PSNR and SSIM (scikit-image) per model, a sharpness ratio (mean gradient magnitude of the
reconstruction over the original's: 1 is as sharp, below 1 blurrier), and a figure of the same
crops side by side.

    sdae-experiment --flagfile=flags/experiments/beyond_resolution.flags   # trains (pool)
    python benchmarks/resolution.py [--experiment_dir runs/beyond_resolution]

Writes benchmarks/results/beyond_resolution.json / .md and docs/figures/beyond_resolution.png.
"""

import argparse
import json
import pathlib

from common import REPO, markdown_table, write_results

NOISE_LEVEL = 0.4


def load_autoencoder(run_dir):
    """The pretrained autoencoder of a pool run, as a `ZooModel` (its config rebuilt, its
    pretrained weights loaded as `--init_from` loads them), and the run's data."""
    from sdae_tf.data import load_dataset
    from sdae_tf.runner import config as config_lib
    from sdae_tf.runner import init_from as init_from_lib
    from sdae_tf.utils import storage

    given = storage.read_json(pathlib.Path(run_dir) / "config.json", "the run's config")
    cfg = config_lib.from_record(given)
    data = load_dataset(cfg.dataset or "photos64", seed=cfg.data_seed)
    model = config_lib.build_model(cfg, data.input_shape)
    init_from_lib.init_from_pretrained(model, run_dir)
    return model, data


def sharpness(images):
    """Mean gradient magnitude per image (finite differences, all channels)."""
    import numpy as np

    dy = np.diff(images, axis=1)[:, :, :-1]
    dx = np.diff(images, axis=2)[:, :-1, :]
    return np.sqrt(dx**2 + dy**2).mean(axis=(1, 2, 3))


def score(model, x, noisy):
    import numpy as np
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    out = {}
    for kind, inputs in (("clean", x), ("noisy", noisy)):
        recon = np.clip(model.predict(inputs, batch_size=256, verbose=0), 0, 1)
        psnr = [peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(x, recon,
                                                                              strict=True)]
        ssim = [structural_similarity(a, b, data_range=1.0, channel_axis=-1)
                for a, b in zip(x, recon, strict=True)]
        out[kind] = {"psnr_db": float(np.mean(psnr)), "ssim": float(np.mean(ssim)),
                     "sharpness": float(np.mean(sharpness(recon) / sharpness(x)))}
        out[f"{kind}_recon"] = recon
    return out


def figure(x, noisy, recons, path, count=6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("original", x), (f"Gaussian {NOISE_LEVEL}", noisy)] + [
        (label, images) for label, images in recons]
    fig, axes = plt.subplots(len(rows), count, figsize=(1.6 * count, 1.7 * len(rows)))
    for r, (label, images) in enumerate(rows):
        for c in range(count):
            ax = axes[r, c]
            ax.imshow(images[c])
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment_dir", default=str(REPO / "runs" / "beyond_resolution"))
    parser.add_argument("--examples", type=int, default=1000, help="test crops scored")
    parser.add_argument("--out", default="benchmarks/results/beyond_resolution.json")
    parser.add_argument("--figure", default=str(REPO / "docs" / "figures" /
                                               "beyond_resolution.png"))
    args = parser.parse_args(argv)
    runs = json.loads((pathlib.Path(args.experiment_dir) / "experiment.json").read_text())["runs"]
    rows, recons, x, noisy = [], [], None, None
    for run in runs:
        model, data = load_autoencoder(run["run_dir"])
        if x is None:
            x = data.x_test[:args.examples]
            rng = np.random.default_rng(0)
            noisy = np.clip(x + rng.normal(0, NOISE_LEVEL, x.shape), 0, 1).astype("float32")
        scores = score(model, x, noisy)
        convs = model.describe().get("conv_layers")
        depth = (convs["encoder"] + convs["decoder"]) if convs else 8
        rows.append({"model": run["column"], "zoo_model": run["model"], "conv_layers": depth,
                     "parameters": int(model.count_params()),
                     **{k: v for k, v in scores.items() if not k.endswith("_recon")}})
        kind = "noisy" if model.describe()["noise"]["type"] not in (None, "none") else "clean"
        recons.append((f"{run['column']} ({'from noisy' if kind == 'noisy' else 'clean'})",
                       scores[f"{kind}_recon"]))
    figure(x, noisy, recons, pathlib.Path(args.figure))
    lines = markdown_table(
        ["model", "conv layers", "parameters", "PSNR clean (dB)", "SSIM clean",
         "sharpness clean", f"PSNR from Gaussian {NOISE_LEVEL} (dB)", "SSIM from noisy",
         "sharpness from noisy"],
        [[r["model"], str(r["conv_layers"]), f"{r['parameters']:,}",
          f"{r['clean']['psnr_db']:.2f}", f"{r['clean']['ssim']:.3f}",
          f"{r['clean']['sharpness']:.2f}", f"{r['noisy']['psnr_db']:.2f}",
          f"{r['noisy']['ssim']:.3f}", f"{r['noisy']['sharpness']:.2f}"] for r in rows])
    noisy_psnr = float(np.mean([_psnr(a, b) for a, b in zip(x, noisy, strict=True)]))
    lines.append(f"\nNoisy input: PSNR {noisy_psnr:.2f} dB against the clean crops ({len(x)} "
                 "test crops of three held-out photographs).")
    write_results(args.out, {"noise_level": NOISE_LEVEL, "examples": len(x),
                             "noisy_input_psnr_db": noisy_psnr, "models": rows}, lines)


def _psnr(a, b):
    from skimage.metrics import peak_signal_noise_ratio

    return peak_signal_noise_ratio(a, b, data_range=1.0)


if __name__ == "__main__":
    main()
