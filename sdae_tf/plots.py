"""Pictures written to a run directory (PNG): image grids of samples and reconstructions.
No training logic here."""

import pathlib

import numpy as np


def save_image_grid(rows, path, title=None, row_labels=None, col_labels=None):
    """Saves `rows` `(R, C, H, W[, 1])` images in [0, 1] as a grayscale grid PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = np.asarray(rows)
    if rows.ndim == 5 and rows.shape[-1] == 1:
        rows = rows[..., 0]
    if rows.ndim != 4:
        raise ValueError(f"`rows` must be (R, C, H, W[, 1]). Received shape {rows.shape}")
    r, c = rows.shape[:2]
    fig, axes = plt.subplots(r, c, figsize=(1.1 * c, 1.1 * r + (0.4 if title else 0)),
                             squeeze=False)
    for i in range(r):
        for j in range(c):
            ax = axes[i, j]
            ax.imshow(rows[i, j], cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0 and col_labels is not None:
                ax.set_title(col_labels[j], fontsize=7)
            if j == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[i], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
