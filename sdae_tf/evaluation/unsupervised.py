"""What a pretrained stack is worth before any label is used to train it
(`--unsupervised_metrics`): k-means clustering accuracy of its test embeddings (clusters matched
to classes by the Hungarian method, as in DEC and the PyTorch peer pt-sdae), the linear-probe
accuracy of the frozen codes (a ridge classifier fitted on training codes, scored on the test
codes), and how well its whole autoencoder reconstructs and denoises the test images (PSNR
against the clean images, data range 1)."""

import numpy as np
from sklearn.cluster import KMeans

from sdae_tf.evaluation import probe
from sdae_tf.evaluation.clustering import cluster_accuracy

# The fixed test corruption of the denoising score: Gaussian noise, clipped to the data range.
DENOISING_NOISE = 0.4
# The masking score: this share of the 4x4 patches hidden (zeroed) per test image, the
# masked autoencoder's own corruption; scored on the image with the visible patches kept.
MASKED_PATCH = 4
MASKED_RATIO = 0.75
# The linear probe is fitted on the codes of this many training images (the first ones).
PROBE_EXAMPLES = 10000


def patch_mask(shape, patch, ratio, rng):
    """(token mask (N, T), pixel mask (N, H, W, 1)): `ratio` of the `patch`-sized patches of
    each image hidden (1), the same number per image, chosen by `rng`.

    Args:
        shape: the images' shape (N, H, W, C).
        patch: the patches' side; it divides H and W.
        ratio: the share of patches hidden.
        rng: a numpy `Generator`.

    Returns:
        (token mask (N, T) float32, pixel mask (N, H, W, 1) float32).
    """
    n, h, w = shape[0], shape[1], shape[2]
    grid = (h // patch, w // patch)
    tokens = grid[0] * grid[1]
    hidden = int(round(tokens * ratio))
    order = np.argsort(rng.random((n, tokens)), axis=1)
    mask = np.zeros((n, tokens), np.float32)
    np.put_along_axis(mask, order[:, :hidden], 1.0, axis=1)
    pixels = mask.reshape(n, *grid).repeat(patch, axis=1).repeat(patch, axis=2)[..., None]
    return mask, pixels


def masked_psnr(stack, x, seed=0, patch=MASKED_PATCH, ratio=MASKED_RATIO):
    """PSNR of the test images with `ratio` of their patches hidden and filled in by the model
    (the visible patches kept): the masked autoencoder's own path (`inpaint`) where the family
    has one, else its autoencoder on the zero-masked images. Returns (filled-in PSNR, PSNR of
    the masked input).

    Args:
        stack: the pretrained zoo family object.
        x: clean test images in [0, 1].
        seed: seeds the mask (with `seed + 1`).
        patch: the patches' side.
        ratio: the share hidden.

    Returns:
        (filled-in PSNR, PSNR of the masked input), in dB.
    """
    lo, hi = 0.0, 1.0
    tokens, pixels = patch_mask(x.shape, patch, ratio, np.random.default_rng(seed + 1))
    masked = x * (1.0 - pixels)
    if hasattr(stack, "inpaint"):
        recon = stack.inpaint(x, tokens)
    else:
        recon = stack.autoencoder().predict(masked, batch_size=1024, verbose=0)
    filled = pixels * np.clip(recon, lo, hi) + (1.0 - pixels) * x
    return float(np.mean(psnr(x, filled, hi - lo))), float(np.mean(psnr(x, masked, hi - lo)))


def kmeans_accuracy(codes, labels, n_clusters, seed=0):
    """k-means (10 restarts, seeded) on `codes` scored by `cluster_accuracy`.

    Args:
        codes: the embeddings (N, D).
        labels: the true classes.
        n_clusters: clusters (the number of classes).
        seed: seeds k-means.

    Returns:
        `cluster_accuracy` of the clustering.
    """
    km = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed)
    return cluster_accuracy(labels, km.fit_predict(np.asarray(codes, np.float64)))


def psnr(clean, estimate, data_range=1.0):
    """Per-example PSNR in dB.

    Args:
        clean: the clean images.
        estimate: the estimates (clipped to [0, data_range]).
        data_range: the value range's width.

    Returns:
        A float array, one PSNR per example.
    """
    axes = tuple(range(1, np.ndim(clean)))
    mse = np.mean((np.clip(estimate, 0.0, data_range) - clean) ** 2, axis=axes)
    return 10.0 * np.log10(data_range ** 2 / np.maximum(mse, 1e-12))


def evaluate(stack, data, seed=0, examples=10000, probe_examples=PROBE_EXAMPLES):
    """The unsupervised record of a pretrained `stack` on the first `examples` test images.

    Args:
        stack: the pretrained zoo family object.
        data: `Splits` (its test split is scored).
        seed: seeds the noise and k-means.
        examples: test images scored.
        probe_examples: training images whose codes fit the linear probe.

    Returns:
        A JSON-ready dict: k-means accuracy, linear-probe accuracy, PSNR clean / denoised /
        noisy input, and the masked PSNR where the 4x4 patches divide the image.
    """
    x, y = data.x_test[:examples], data.y_test[:examples]
    codes = stack.encoder.predict(x, batch_size=1024, verbose=0).reshape(len(x), -1)
    x_fit, y_fit = data.x_train[:probe_examples], data.y_train[:probe_examples]
    fit_codes = stack.encoder.predict(x_fit, batch_size=1024, verbose=0).reshape(len(x_fit), -1)
    autoencoder = stack.autoencoder()
    lo, hi = data.value_range
    rng = np.random.default_rng(seed)
    noisy = np.clip(x + DENOISING_NOISE * rng.standard_normal(x.shape).astype(np.float32),
                    lo, hi)
    recon = autoencoder.predict(x, batch_size=1024, verbose=0)
    denoised = autoencoder.predict(noisy, batch_size=1024, verbose=0)
    masked = {}
    if x.shape[1] % MASKED_PATCH == 0 and x.shape[2] % MASKED_PATCH == 0:
        filled, hidden = masked_psnr(stack, x, seed)
        masked = {"psnr_masked_db": filled, "psnr_masked_input_db": hidden,
                  "masking": f"{MASKED_RATIO:g} of the {MASKED_PATCH}x{MASKED_PATCH} patches "
                             "hidden, visible patches kept"}
    return {
        "examples": len(x),
        "kmeans_accuracy": kmeans_accuracy(codes, y, data.num_classes, seed),
        "linear_probe_accuracy": probe.linear_probe_accuracy(fit_codes, y_fit, codes, y),
        "probe_examples": len(x_fit),
        "psnr_reconstruction_db": float(np.mean(psnr(x, recon, hi - lo))),
        "psnr_denoised_db": float(np.mean(psnr(x, denoised, hi - lo))),
        "psnr_noisy_input_db": float(np.mean(psnr(x, noisy, hi - lo))),
        "denoising_noise": f"gaussian {DENOISING_NOISE}, clipped",
        **masked,
    }
