"""sdae_tf: stacked denoising autoencoders in Keras 3 / TensorFlow with exportable encoders."""

from sdae_tf.package import version as _version

# Importing sdae_tf as a library changes no TensorFlow process setting; the command-line tools
# and benchmarks make their own choices (`sdae_tf.cli`).
__version__ = _version()


# The exported models by name (`sdae_tf.hub.pretrained`), imported on first use so that
# `import sdae_tf` stays light (PEP 562): `sdae_tf.feature_extractor` is
# `sdae_tf.hub.pretrained.feature_extractor` itself, with its documentation.
_PRETRAINED = ("feature_extractor", "denoiser", "inpainter", "list_models")
__all__ = ["__version__", *_PRETRAINED]


def __getattr__(name):
    if name in _PRETRAINED:
        from sdae_tf.hub import pretrained

        return getattr(pretrained, name)
    raise AttributeError(f"module 'sdae_tf' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_PRETRAINED})
