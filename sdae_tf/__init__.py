"""sdae_tf: stacked denoising autoencoders in Keras 3 / TensorFlow with exportable encoders."""

from sdae_tf.package import version as _version

# Importing sdae_tf as a library changes no TensorFlow process setting; the command-line tools
# and benchmarks make their own choices (`sdae_tf.cli`).
__version__ = _version()


def feature_extractor(name_or_path, trainable=False, check_range=True, name=None):
    """An exported encoder (shipped name such as "sdae_mnist", or a path) as a Keras layer;
    see `sdae_tf.hub.pretrained.feature_extractor`."""
    from sdae_tf.hub import pretrained

    return pretrained.feature_extractor(name_or_path, trainable=trainable,
                                        check_range=check_range, name=name)


def denoiser(name_or_path, check_range=True, name=None):
    """An export's whole autoencoder (shipped name or path) as a frozen Keras layer, images ->
    reconstruction; see `sdae_tf.hub.pretrained.denoiser`."""
    from sdae_tf.hub import pretrained

    return pretrained.denoiser(name_or_path, check_range=check_range, name=name)


def inpainter(name_or_path, check_range=True, name=None):
    """A masked autoencoder's export (shipped name or path) as a frozen Keras layer,
    `[images, hidden]` -> images with the hidden patches filled in; see
    `sdae_tf.hub.pretrained.inpainter`."""
    from sdae_tf.hub import pretrained

    return pretrained.inpainter(name_or_path, check_range=check_range, name=name)


def list_models(root=None):
    """Manifests of the shipped exported encoders by name; see `sdae_tf.hub.pretrained`."""
    from sdae_tf.hub import pretrained

    return pretrained.list_models(root)
