"""The report's figures from a trained stack: what to compute (weights, codes, decodings,
t-SNE) and which picture to draw; `sdae_tf.evaluation.plots` draws. `--figures=a,b` on `sdae-train`
writes `<name>.png` into the run directory after pretraining.

- `filters`: first-layer weights as images (Figures 1-3).
- `reconstructions`: test images and their clean reconstructions.
- `samples`: top-down Bernoulli samples around test images (Figure 5; `--num_samples`).
- `traversal`: decoded latent grid over 2 dims of a VAE, the others fixed (Figure 6).
- `tsne`: t-SNE of test embeddings coloured by class (Figure 7).
- `manifold`: decoded grid over a 1-D or 2-D code (Figure 8).
- `interpolation`: decoded straight lines between the codes of two test digits, of the same
  class and of different classes (report section 8: is the latent space connected?), with a
  number: the share of decoded midpoints that a fixed classifier (logistic regression on the
  pixels of the training images) assigns to one of the two end classes.
- `kernels`: a kernel-prediction denoiser's per-pixel kernels on noisy test digits: the noisy
  input, the output, and the predicted kernel at a stroke pixel, an edge pixel beside the
  stroke and a far background pixel.
"""

import pathlib

import keras
import numpy as np

from sdae_tf.evaluation import plots, sampling
from sdae_tf.utils import faults

FIGURES = ("filters", "reconstructions", "samples", "traversal", "tsne", "manifold",
           "interpolation", "kernels")
INTERPOLATION_PAIRS = 300
INTERPOLATION_STEPS = 9
PIXEL_CLASSIFIER_EXAMPLES = 10000
TSNE_EXAMPLES = 2000
MAX_FILTERS = 120


def validate(names):
    """Refuses figure names not in `FIGURES` with a ValueError listing the known ones.

    Args:
        names: figure names.

    Raises:
        ValueError: an unknown name, listing the known ones.
    """
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        raise ValueError(f"Unknown figure(s) {', '.join(unknown)}. Available: "
                         f"{', '.join(FIGURES)}")


def _first_dense_kernel(stack):
    for layer in stack.encoder.layers:
        if isinstance(layer, keras.layers.Dense):
            return np.asarray(layer.kernel)
    return None


def filters(stack, data, run_dir, **_):
    """First-layer weights, one tile per hidden unit (up to 120), each scaled to [0, 1].

    Args:
        stack: the trained zoo family object.
        data: the run's `Splits`.
        run_dir: the folder the figure is written to.

    Returns:
        The figure's path.

    Raises:
        ValueError: a family that cannot draw it (the figure names what it needs).
    """
    kernel = _first_dense_kernel(stack)
    if kernel is None or kernel.shape[0] != int(np.prod(data.input_shape)):
        raise ValueError(f"{stack.name}: the filters figure needs a dense first layer on the "
                         "pixels")
    h, w, c = data.input_shape
    tiles = kernel.T[:MAX_FILTERS].reshape(-1, h, w, c)
    lo = tiles.min(axis=(1, 2, 3), keepdims=True)
    hi = tiles.max(axis=(1, 2, 3), keepdims=True)
    tiles = (tiles - lo) / np.maximum(hi - lo, 1e-8)
    if c == 1:
        tiles = tiles[..., 0]
    noise = stack.describe()["noise"]
    return plots.save_mosaic(
        tiles, columns=12, path=pathlib.Path(run_dir) / "filters.png",
        title=f"{stack.name}: first-layer filters ({kernel.shape[1]} units; noise "
              f"{noise['type']} {noise.get('level', '')})".replace(" )", ")"))


def reconstructions(stack, data, run_dir, rows=2, columns=8, **_):
    """Draws test images above their clean reconstructions (`reconstructions.png` in
    `run_dir`); returns the figure's path.

    Args:
        stack: the trained zoo family object.
        data: the run's `Splits`.
        run_dir: the folder the figure is written to.
        rows, columns: the grid of test images.

    Returns:
        The figure's path.

    Raises:
        ValueError: a family that cannot draw it (the figure names what it needs).
    """
    images = data.x_test[:rows * columns]
    recon = np.asarray(stack.autoencoder().predict(images, verbose=0))
    grid = np.stack([images, recon], axis=1).reshape(rows * 2, columns, *images.shape[1:])
    labels = [name for _ in range(rows) for name in ("input", "reconstruction")]
    return plots.save_image_grid(grid, pathlib.Path(run_dir) / "reconstructions.png",
                                 title=f"{stack.name}: test images and clean reconstructions",
                                 row_labels=labels)


def samples(stack, data, run_dir, num_samples=8, seed=0, rows=5, **_):
    """Top-down Bernoulli samples of the stack around the first `rows` test examples: the
    original first in each row, samples after.

    Args:
        stack: the trained zoo family object.
        data: the run's `Splits`.
        run_dir: the folder the figure is written to.
        num_samples: samples per row.
        seed: seeds the sampling.
        rows: test examples, one per row.

    Returns:
        The figure's path.

    Raises:
        ValueError: a family that cannot draw it (the figure names what it needs).
    """
    if "samples" not in stack.FIGURES:
        raise ValueError(f"{stack.name}: Bernoulli sampling needs a dense stack")
    num_samples = num_samples or 8
    originals = data.x_test[:rows]
    drawn = sampling.bernoulli_samples(stack, originals, num_samples, seed=seed)
    grid = np.concatenate([originals[:, None], drawn], axis=1)
    return plots.save_image_grid(
        grid, pathlib.Path(run_dir) / "samples.png",
        title=f"{stack.name}: top-down Bernoulli samples (original first)",
        col_labels=["original", *[f"sample {i + 1}" for i in range(num_samples)]],
    )


def traversal(stack, data, run_dir, seed=0, steps=9, span=2.5, dims=(0, 1), **_):
    """A VAE's decoder over a `steps` x `steps` grid of latent dims `dims` in [-span, span],
    the other dims fixed at one draw from the prior (the report's Figure 6).

    Args:
        stack: the trained zoo family object.
        data: the run's `Splits`.
        run_dir: the folder the figure is written to.
        seed: seeds the fixed draw of the other dims.
        steps: grid points per dim.
        span: the grid's half-width, in prior standard deviations.
        dims: the two latent dims traversed.

    Returns:
        The figure's path.

    Raises:
        ValueError: a family that cannot draw it (the figure names what it needs).
    """
    if "traversal" not in stack.FIGURES:
        raise ValueError(f"{stack.name}: the traversal figure needs a VAE")
    size = stack.embedding_size
    base = np.random.default_rng(seed).standard_normal(size).astype(np.float32)
    values = np.linspace(-span, span, steps, dtype=np.float32)
    codes = np.repeat(base[None], steps * steps, axis=0)
    codes[:, dims[0]] = np.repeat(values, steps)
    codes[:, dims[1]] = np.tile(values, steps)
    images = np.asarray(stack.decoder.predict(codes, verbose=0))
    return plots.save_mosaic(
        images[..., 0] if images.shape[-1] == 1 else images, columns=steps,
        path=pathlib.Path(run_dir) / "traversal.png",
        title=f"{stack.name}: latent dims {dims[0]} (down) and {dims[1]} (across) in "
              f"[-{span}, {span}], other {size - 2} fixed",
        xlabel=f"z[{dims[1]}]", ylabel=f"z[{dims[0]}]")


def tsne(stack, data, run_dir, seed=0, examples=TSNE_EXAMPLES, **_):
    """t-SNE (scikit-learn, PCA to 50 dims first) of the encoder's test embeddings.

    Args:
        stack: the trained zoo family object.
        data: the run's `Splits`.
        run_dir: the folder the figure is written to.
        seed: seeds t-SNE.
        examples: test examples embedded.

    Returns:
        The figure's path.

    Raises:
        ValueError: a family that cannot draw it (the figure names what it needs).
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n = min(examples, len(data.x_test))
    codes = np.asarray(stack.encoder.predict(data.x_test[:n], verbose=0)).reshape(n, -1)
    if codes.shape[1] > 50 and n > 50:
        codes = PCA(50, random_state=seed).fit_transform(codes)
    points = TSNE(2, init="pca", perplexity=min(30.0, (n - 1) / 3), random_state=seed,
                  ).fit_transform(codes)
    return plots.save_scatter(points, data.y_test[:n], pathlib.Path(run_dir) / "tsne.png",
                              title=f"{stack.name}: t-SNE of {n} test embeddings "
                                    f"({stack.embedding_size}-d)")


def _decode_codes(stack, codes):
    if "manifold" not in stack.FIGURES:
        raise ValueError(f"{stack.name}: the manifold figure needs a dense stack or a VAE")
    return np.asarray(stack.decoder.predict(codes, verbose=0))


def manifold(stack, data, run_dir, steps=8, **_):
    """Decodings of a grid over the code space spanned by the training codes: a line for a
    1-D code, a `steps` x `steps` grid for 2-D (the report's Figure 8).

    Args:
        stack: the trained zoo family object.
        data: the run's `Splits`.
        run_dir: the folder the figure is written to.
        steps: grid points per code dim.

    Returns:
        The figure's path.

    Raises:
        ValueError: a family that cannot draw it (the figure names what it needs).
    """
    size = stack.embedding_size
    if size not in (1, 2):
        raise ValueError(f"{stack.name}: the manifold figure needs a 1-D or 2-D code "
                         f"(--hidden_units=...,1 or ...,2). Received a {size}-d code")
    train_codes = np.asarray(stack.encoder.predict(data.x_train, verbose=0))
    lo, hi = train_codes.min(axis=0), train_codes.max(axis=0)
    if size == 1:
        n = steps * steps
        codes = np.linspace(lo, hi, n, dtype=np.float32).reshape(n, 1)
        xlabel, ylabel = "code, row by row from its min to its max", None
    else:
        a = np.linspace(lo[0], hi[0], steps, dtype=np.float32)
        b = np.linspace(lo[1], hi[1], steps, dtype=np.float32)
        codes = np.stack([np.repeat(a, steps), np.tile(b, steps)], axis=1)
        xlabel, ylabel = "code[1]", "code[0]"
    images = _decode_codes(stack, codes)
    return plots.save_mosaic(
        images[..., 0] if images.shape[-1] == 1 else images, columns=steps,
        path=pathlib.Path(run_dir) / "manifold.png",
        title=f"{stack.name}: decoded {size}-D code grid; training codes span "
              + ", ".join(f"[{a:.3g}, {b:.3g}]" for a, b in zip(lo, hi, strict=True)),
        xlabel=xlabel, ylabel=ylabel)


def pixel_classifier(data, examples=PIXEL_CLASSIFIER_EXAMPLES):
    """The fixed judge of decoded images: multinomial logistic regression on the raw pixels of
    the first `examples` training images (deterministic: lbfgs, no shuffling).

    Args:
        data: `Splits` whose training images train the judge.
        examples: training images it is fitted on.

    Returns:
        A fitted scikit-learn `LogisticRegression` on flattened pixels.
    """
    from sklearn.linear_model import LogisticRegression

    x = data.x_train[:examples].reshape(min(examples, len(data.x_train)), -1)
    return LogisticRegression(max_iter=300).fit(x, data.y_train[:len(x)])


def _pairs(labels, same, count, rng):
    """`count` index pairs (i, j), i != j, whose labels are equal (`same`) or differ."""
    out = []
    while len(out) < count:
        i, j = rng.integers(0, len(labels), 2)
        if i != j and (labels[i] == labels[j]) == same:
            out.append((i, j))
    return np.asarray(out)


def _share_in(judge, images, ends):
    """Share of `images` the classifier `judge` assigns to one of the two `ends` classes."""
    pred = judge.predict(images)
    return float(np.mean((pred == ends[0]) | (pred == ends[1])))


def interpolation(stack, data, run_dir, seed=0, pairs=INTERPOLATION_PAIRS,
                  steps=INTERPOLATION_STEPS, records=None, **_):
    """Decoded interpolations between test digits' codes (4 example rows in the figure) and,
    over `pairs` pairs of each kind, the share of decoded midpoints the pixel classifier puts
    in one of the two end classes; the same for the pixel-space midpoints as a reference.

    Args:
        stack: the trained zoo family object.
        data: the run's `Splits`.
        run_dir: the folder the figure is written to.
        seed: seeds the pairs.
        pairs: pairs of each kind (same class, different classes).
        steps: points along each interpolation.
        records: a dict the shares are written into, or None.

    Returns:
        The figure's path.

    Raises:
        ValueError: a family that cannot draw it (the figure names what it needs).
    """
    if "manifold" not in stack.FIGURES:
        raise ValueError(f"{stack.name}: the interpolation figure needs a dense stack or a VAE "
                         "(a decoder from the flat code)")
    rng = np.random.default_rng(seed)
    judge = pixel_classifier(data)
    x, y = data.x_test, data.y_test
    decoder = stack.decoder
    record, rows = {"pairs": int(pairs), "judge": "logistic regression on training pixels"}, []
    for kind, same in (("same_class", True), ("different_class", False)):
        idx = _pairs(y, same, pairs, rng)
        a = np.asarray(stack.encoder.predict(x[idx[:, 0]], verbose=0)).reshape(len(idx), -1)
        b = np.asarray(stack.encoder.predict(x[idx[:, 1]], verbose=0)).reshape(len(idx), -1)
        mid = np.asarray(decoder.predict(0.5 * (a + b), verbose=0)).reshape(len(idx), -1)
        pixel_mid = 0.5 * (x[idx[:, 0]] + x[idx[:, 1]]).reshape(len(idx), -1)
        ends = (y[idx[:, 0]], y[idx[:, 1]])
        record[kind] = {"decoded_midpoint_in_end_classes": _share_in(judge, mid, ends),
                        "pixel_midpoint_in_end_classes": _share_in(judge, pixel_mid, ends)}
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        for r in range(2):  # the figure's rows: the first two pairs, their codes above
            codes = (1 - t) * a[r:r + 1] + t * b[r:r + 1]
            rows.append(np.asarray(decoder.predict(codes, verbose=0)))
    if records is not None:
        records["interpolation"] = record
    images = np.concatenate(rows)
    s, d = record["same_class"], record["different_class"]
    return plots.save_mosaic(
        images[..., 0] if images.shape[-1] == 1 else images, columns=steps,
        path=pathlib.Path(run_dir) / "interpolation.png",
        title=f"{stack.name}: rows 1-2 same class, 3-4 different; midpoints in an end "
              f"class {s['decoded_midpoint_in_end_classes']:.2f} / "
              f"{d['decoded_midpoint_in_end_classes']:.2f}")


def _tile(kernel, shape):
    """A k x k kernel scaled to its maximum, enlarged (nearest) and centred in an image of
    `shape` (H, W, C)."""
    k = kernel.shape[0]
    scale = max(1, min(shape[0], shape[1]) // k)
    big = np.kron(kernel / max(float(kernel.max()), 1e-8), np.ones((scale, scale)))
    out = np.ones(shape[:2], np.float32)
    top, left = (shape[0] - big.shape[0]) // 2, (shape[1] - big.shape[1]) // 2
    out[top:top + big.shape[0], left:left + big.shape[1]] = big
    return np.repeat(out[..., None], shape[2], axis=-1)


def _kernel_pixels(clean):
    """(stroke, edge, background) pixel positions of a clean image (H, W, C): the brightest
    pixel, the darkest pixel next to a bright one, the darkest pixel farthest from the
    brightest."""
    gray = clean.mean(axis=-1)
    stroke = np.unravel_index(np.argmax(gray), gray.shape)
    bright = gray > 0.5
    near = np.zeros_like(bright)
    near[1:] |= bright[:-1]
    near[:-1] |= bright[1:]
    near[:, 1:] |= bright[:, :-1]
    near[:, :-1] |= bright[:, 1:]
    edge_score = np.where(near & ~bright, -gray, -np.inf)
    edge = np.unravel_index(np.argmax(edge_score), gray.shape) if np.isfinite(
        edge_score).any() else stroke
    ys, xs = np.indices(gray.shape)
    far = (ys - stroke[0])**2 + (xs - stroke[1])**2 - 100 * gray
    return stroke, edge, np.unravel_index(np.argmax(far), gray.shape)


def kernels(stack, data, run_dir, rows=3, seed=0, **_):
    """Draws noisy test images (the noise the stack trained with), its outputs and the
    predicted kernels at three pixels of each (`kernels.png`); returns the figure's path.

    Args:
        stack: the trained zoo family object.
        data: the run's `Splits`.
        run_dir: the folder the figure is written to.
        rows: test images drawn.
        seed: seeds their noise.

    Returns:
        The figure's path.

    Raises:
        ValueError: a family that cannot draw it (the figure names what it needs).
    """
    if "kernels" not in stack.FIGURES:
        raise ValueError(f"{stack.name}: the kernels figure needs a kernel-prediction model")
    from sdae_tf.layers import make_noise

    clean = data.x_test[:rows]
    noise = make_noise(stack.noise_type, stack.noise_level, seed=seed)
    noisy = clean if noise is None else np.asarray(noise(clean, training=True))
    out = np.asarray(stack.autoencoder().predict(noisy, verbose=0))
    predicted = stack.kernels(noisy)
    grid = []
    for i in range(rows):
        tiles = [_tile(predicted[i][y, x], clean.shape[1:]) for y, x in _kernel_pixels(clean[i])]
        grid.append([np.clip(noisy[i], 0, 1), out[i], *tiles])
    return plots.save_image_grid(
        np.asarray(grid), pathlib.Path(run_dir) / "kernels.png",
        title=f"{stack.name}: predicted {stack.kernel_size}x{stack.kernel_size} kernels",
        col_labels=["noisy input", "output", "stroke", "edge", "background"])


def write(names, stack, data, run_dir, num_samples=0, seed=0, records=None):
    """Writes the named figures into `run_dir`; returns {name: path}. Figures that measure
    something (`interpolation`) put their numbers in `records` under their name.

    Args:
        names: figure names (`FIGURES`).
        stack: the trained zoo family object.
        data: the run's `Splits`.
        run_dir: the folder the figures are written to.
        num_samples: samples per row of the samples figure.
        seed: seeds the figures' draws.
        records: a dict the measuring figures write into, or None.

    Returns:
        {name: path}.
    """
    validate(names)
    out = {}
    for name in names:
        fn = globals()[name]
        out[name] = str(fn(stack, data, run_dir, num_samples=num_samples, seed=seed,
                           records=records))
        faults.point(f"figure:{name}")
    return out
