"""sdae_tf: stacked denoising autoencoders in Keras 3 / TensorFlow with exportable encoders."""

import os

# TensorFlow's oneDNN CPU kernels (matmul, fused matmul + bias + activation). TensorFlow turns
# them on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX; on the AVX2 machines here they
# trained the SDAE block 1.02-1.11x and fine-tuning 1.06-1.16x faster (`perf.py threads`).
# Read once when TensorFlow starts: it applies when sdae_tf is imported first (the CLIs, the
# benchmarks); set TF_ENABLE_ONEDNN_OPTS=0 to keep TensorFlow's own choice.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"


def feature_extractor(name_or_path, trainable=False, check_range=True, name=None):
    """An exported encoder (shipped name such as "sdae_mnist", or a path) as a Keras layer;
    see `sdae_tf.pretrained.feature_extractor`."""
    from sdae_tf import pretrained

    return pretrained.feature_extractor(name_or_path, trainable=trainable,
                                        check_range=check_range, name=name)


def list_models(root=None):
    """Manifests of the shipped exported encoders by name; see `sdae_tf.pretrained`."""
    from sdae_tf import pretrained

    return pretrained.list_models(root)
