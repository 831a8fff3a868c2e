"""Linear probes and reconstruction scores of an encoder: how the tuner compares trials and how
a shipped encoder's manifest states the floor its test checks.

The probe is a ridge-regression classifier (`sklearn.linear_model.RidgeClassifier`, one-hot
least squares with an L2 penalty, solved in closed form) fitted on the frozen embeddings of a
fixed slice of the training split and scored on another split: deterministic, no learning rate,
seconds on a CPU.
"""

import numpy as np
from sklearn.linear_model import RidgeClassifier

PROBE_ALPHA = 1.0
# The floor an export's manifest states: the probe's accuracy less this margin.
PROBE_MARGIN = 0.01


def embed(encoder, x, batch_size=1024):
    """Embeddings of `x` (numpy) through any callable encoder (Keras model, TFSMLayer), one
    row per example.

    Args:
        encoder: a callable images -> codes.
        x: images, a numpy array.
        batch_size: images per call.

    Returns:
        A float array (len(x), code size), codes flattened.

    Example:

    ```python
    from sdae_tf.evaluation import probe
    codes = probe.embed(sdae_tf.feature_extractor("sdae_mnist"), images)  # (8, 1000)
    ```
    """
    if len(x) == 0:
        raise ValueError("Cannot embed an empty array")
    chunks = [np.asarray(encoder(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
    codes = np.concatenate(chunks)
    return codes.reshape(len(x), -1)


def linear_probe_accuracy(train_codes, train_labels, eval_codes, eval_labels, alpha=PROBE_ALPHA):
    """Accuracy on (eval_codes, eval_labels) of a ridge classifier fitted on the train codes.

    Args:
        train_codes, train_labels: what the probe is fitted on.
        eval_codes, eval_labels: what it is scored on.
        alpha: the ridge penalty.

    Returns:
        The accuracy, a float in [0, 1].

    Example:

    ```python
    from sdae_tf.evaluation import probe
    rng = np.random.default_rng(0)
    codes, labels = rng.normal(size=(100, 4)), np.arange(100) % 2
    codes[:, 0] += 3 * labels  # separable along one axis
    probe.linear_probe_accuracy(codes[:50], labels[:50], codes[50:], labels[50:])  # ~1.0
    ```
    """
    probe = RidgeClassifier(alpha=alpha)
    probe.fit(np.asarray(train_codes, np.float64), np.asarray(train_labels))
    return float(probe.score(np.asarray(eval_codes, np.float64), np.asarray(eval_labels)))


def encoder_probe_accuracy(encoder, x_train, y_train, x_eval, y_eval, alpha=PROBE_ALPHA):
    """Embeds both sets with `encoder`, then `linear_probe_accuracy`.

    Args:
        encoder: a callable images -> codes.
        x_train, y_train: images and labels the probe is fitted on.
        x_eval, y_eval: images and labels it is scored on.
        alpha: the ridge penalty.

    Returns:
        The accuracy, a float in [0, 1].
    """
    return linear_probe_accuracy(embed(encoder, x_train), y_train, embed(encoder, x_eval), y_eval,
                                 alpha=alpha)


def manifest_record(encoder, x_train, y_train, x_test, y_test, margin=PROBE_MARGIN):
    """What an export's manifest records of the probe (`encoder_probe_accuracy` of `encoder` in
    inference mode, fitted on the training slice, scored on the test slice) and the floor its
    tests hold the export to: the accuracy less `margin`.

    Args:
        encoder: the Keras encoder exported.
        x_train, y_train: the training slice the probe is fitted on.
        x_test, y_test: the test slice it is scored on.
        margin: how far below the measured accuracy the floor lies.

    Returns:
        A JSON-ready dict: accuracy, floor, slices, ridge penalty.
    """
    acc = encoder_probe_accuracy(lambda x: encoder(x, training=False), x_train, y_train,
                                 x_test, y_test)
    return {
        "kind": f"ridge classifier (alpha {PROBE_ALPHA}) on frozen embeddings",
        "train": f"first {len(x_train)} examples of the training split",
        "test": f"first {len(x_test)} examples of the test set",
        "train_examples": len(x_train),
        "test_examples": len(x_test),
        "accuracy": acc,
        "floor": round(acc - margin, 4),
    }


def reconstruction_loss(autoencoder, x, batch_size=1024):
    """Mean per-component binary cross-entropy of the clean reconstruction of `x` (values in
    [0, 1]), the scale of the dense and conv blocks' training loss.

    Args:
        autoencoder: a Keras model images -> reconstructed images.
        x: images in [0, 1].
        batch_size: images per call.

    Returns:
        The loss, a float.
    """
    total = 0.0
    for i in range(0, len(x), batch_size):
        batch = np.asarray(x[i:i + batch_size], np.float64)
        recon = np.clip(np.asarray(autoencoder(batch, training=False), np.float64), 1e-7,
                        1 - 1e-7).reshape(batch.shape)
        bce = -(batch * np.log(recon) + (1 - batch) * np.log(1 - recon))
        total += float(bce.reshape(len(batch), -1).mean(axis=1).sum())
    return total / len(x)
