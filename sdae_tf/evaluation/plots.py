"""Pictures (PNG): image grids, filter grids, labelled scatter plots, side-by-side panels.
Arrays in, files out; no training logic here (`sdae_tf.evaluation.figures` computes what to
draw)."""

import pathlib

import numpy as np

from sdae_tf.utils import storage


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    plt = _pyplot()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with storage.atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return path


def _as_rows(rows):
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim == 5 and rows.shape[-1] == 1:
        rows = rows[..., 0]
    if rows.ndim not in (4, 5):
        raise ValueError(f"`rows` must be (R, C, H, W[, 1 or 3]). Received shape {rows.shape}")
    return rows


def save_image_grid(rows, path, title=None, row_labels=None, col_labels=None):
    """Saves `rows` `(R, C, H, W[, 1 or 3])` images in [0, 1] as a grid PNG (one subplot each:
    for small grids with labels).

    Args:
        rows: images (R, C, H, W[, 1 or 3]) in [0, 1].
        path: the PNG's path.
        title: the figure's title.
        row_labels, col_labels: labels of the rows and columns.
    """
    plt = _pyplot()
    rows = _as_rows(rows)
    r, c = rows.shape[:2]
    fig, axes = plt.subplots(r, c, figsize=(1.1 * c, 1.1 * r + (0.4 if title else 0)),
                             squeeze=False)
    for i in range(r):
        for j in range(c):
            ax = axes[i, j]
            ax.imshow(np.clip(rows[i, j], 0, 1), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0 and col_labels is not None:
                ax.set_title(col_labels[j], fontsize=7)
            if j == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[i], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def mosaic(tiles, columns, pad=1, background=1.0):
    """`(N, H, W[, C])` tiles in [0, 1] -> one `(rows*(H+pad)-pad, columns*(W+pad)-pad[, C])`
    image, row-major, padded with `background`.

    Args:
        tiles: images (N, H, W[, C]) in [0, 1].
        columns: tiles per row.
        pad: pixels between tiles.
        background: the padding's value.

    Returns:
        The mosaic, a float32 array.
    """
    tiles = np.asarray(tiles, dtype=np.float32)
    n, h, w = tiles.shape[:3]
    rows = -(-n // columns)
    shape = (rows * (h + pad) - pad, columns * (w + pad) - pad, *tiles.shape[3:])
    out = np.full(shape, background, np.float32)
    for i, tile in enumerate(tiles):
        y, x = divmod(i, columns)
        out[y * (h + pad):y * (h + pad) + h, x * (w + pad):x * (w + pad) + w] = tile
    return out


def save_mosaic(tiles, columns, path, title=None, xlabel=None, ylabel=None):
    """Many small tiles (filters, decoded grids) as one image: `mosaic` drawn in one axes.

    Args:
        tiles: images (N, H, W[, C]) in [0, 1].
        columns: tiles per row.
        path: the PNG's path.
        title, xlabel, ylabel: the axes' text.
    """
    plt = _pyplot()
    image = mosaic(tiles, columns)
    height = 6.0 * image.shape[0] / max(image.shape[1], 1)
    fig, ax = plt.subplots(figsize=(6.0, max(height, 1.0) + (0.5 if title else 0)))
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def save_scatter(points, labels, path, title=None, label_names=None):
    """2-D `points` coloured by integer `labels`, with a legend (one entry per label).

    Args:
        points: (N, 2) coordinates.
        labels: (N,) integer labels.
        path: the PNG's path.
        title: the figure's title.
        label_names: the legend's names by label, or None (the labels themselves).

    Raises:
        ValueError: points that are not (N, 2) or labels of another length.
    """
    plt = _pyplot()
    points, labels = np.asarray(points), np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(f"`points` must be (N, 2) with N labels. Received {points.shape} "
                         f"and {labels.shape}")
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    cmap = plt.get_cmap("tab10")
    for i, value in enumerate(np.unique(labels)):
        sel = labels == value
        name = label_names[int(value)] if label_names is not None else str(int(value))
        ax.scatter(points[sel, 0], points[sel, 1], s=4, color=cmap(i % 10), label=name)
    ax.legend(markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5),
              title="class")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def save_panels(paths, out_path, titles=None, title=None):
    """PNG files side by side in one PNG (an experiment's AE vs DAE figure), each titled.

    Args:
        paths: the PNG files, left to right.
        out_path: the PNG written.
        titles: each panel's title.
        title: the figure's title.
    """
    plt = _pyplot()
    images = [plt.imread(str(p)) for p in paths]
    fig, axes = plt.subplots(1, len(images), figsize=(5.0 * len(images), 5.2), squeeze=False)
    for i, (ax, image) in enumerate(zip(axes[0], images, strict=True)):
        ax.imshow(image)
        ax.axis("off")
        if titles is not None:
            ax.set_title(titles[i], fontsize=11)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return _save(fig, out_path)
