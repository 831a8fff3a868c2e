"""How well cluster ids match the true classes: accuracy under the Hungarian matching of
clusters to classes (DEC's and pt-sdae's), normalised mutual information (arithmetic-mean
normalisation, scikit-learn's default since 0.22) and the adjusted Rand index."""

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics

NMI_NORMALISATION = "arithmetic"


def cluster_accuracy(labels, clusters):
    """Accuracy of `clusters` as a labelling, each cluster mapped to one class by the Hungarian
    method (maximum matching of the contingency table).

    Args:
        labels: the true classes, ints.
        clusters: the cluster ids, ints.

    Returns:
        The accuracy, a float in [0, 1].

    Example:

    ```python
    from sdae_tf.evaluation.clustering import cluster_accuracy
    cluster_accuracy([0, 0, 1, 1], [1, 1, 0, 0])  # 1.0
    ```
    """
    labels, clusters = np.asarray(labels).astype(np.int64), np.asarray(clusters).astype(np.int64)
    if labels.shape != clusters.shape or labels.ndim != 1 or not len(labels):
        raise ValueError(f"`labels` and `clusters` must be two non-empty 1-d arrays of one "
                         f"length. Received shapes {labels.shape} and {clusters.shape}")
    size = int(max(labels.max(), clusters.max())) + 1
    table = np.zeros((size, size), np.int64)
    np.add.at(table, (clusters, labels), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / len(labels))


def scores(labels, clusters):
    """{"accuracy", "nmi", "ari"} of `clusters` against `labels` (see the module's note).

    Args:
        labels: the true classes, ints.
        clusters: the cluster ids, ints.

    Returns:
        A JSON-ready dict of three floats.
    """
    return {"accuracy": cluster_accuracy(labels, clusters),
            "nmi": float(metrics.normalized_mutual_info_score(
                labels, clusters, average_method=NMI_NORMALISATION)),
            "ari": float(metrics.adjusted_rand_score(labels, clusters))}
