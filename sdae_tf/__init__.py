"""sdae_tf: stacked denoising autoencoders in Keras 3 / TensorFlow with exportable encoders."""

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
