"""sdae_tf: stacked denoising autoencoders in Keras 3 / TensorFlow with exportable encoders."""

from sdae_tf.package import version as _version

# Importing sdae_tf as a library changes no TensorFlow process setting; the command-line tools
# and benchmarks make their own choices (`sdae_tf.cli`).
__version__ = _version()


def feature_extractor(name_or_path, trainable=False, check_range=True, name=None):
    """An exported encoder (shipped name such as "sdae_mnist", or a path) as a Keras layer.

    Args:
        name_or_path: a shipped model's name (`sdae_tf.list_models()`) or an export folder.
        trainable: False (default): the frozen SavedModel; True: the `.keras` copy, whose
            weights fine-tune with the model above it.
        check_range: check that inputs lie in the contract's value range.
        name: the layer's name.

    Returns:
        A `sdae_tf.hub.pretrained.PretrainedEncoder` layer, images -> embedding; its input
        contract is `layer.contract`.

    Raises:
        FileNotFoundError: no such model. ValueError: a damaged or altered export.

    Example:

    ```python
    encoder = sdae_tf.feature_extractor("sdae_mnist")
    codes = encoder(images)  # (batch, 28, 28, 1) in [0, 1] -> (batch, 1000)
    ```
    """
    from sdae_tf.hub import pretrained

    return pretrained.feature_extractor(name_or_path, trainable=trainable,
                                        check_range=check_range, name=name)


def denoiser(name_or_path, check_range=True, name=None):
    """An export's whole autoencoder (shipped name or path) as a frozen Keras layer, images ->
    reconstruction.

    Args:
        name_or_path: a shipped model's name or an export folder.
        check_range: check that inputs lie in the contract's value range.
        name: the layer's name.

    Returns:
        A `sdae_tf.hub.pretrained.PretrainedDenoiser` layer; `layer.noise` is the noise it was
        trained to remove.

    Raises:
        FileNotFoundError: no such model. ValueError: an export without a decoder, or a
            damaged one.

    Example:

    ```python
    clean = sdae_tf.denoiser("cdae_mnist")(images)  # (batch, 28, 28, 1), same shape out
    ```
    """
    from sdae_tf.hub import pretrained

    return pretrained.denoiser(name_or_path, check_range=check_range, name=name)


def inpainter(name_or_path, check_range=True, name=None):
    """A masked autoencoder's export (shipped name or path) as a frozen Keras layer,
    `[images, hidden]` -> images with the hidden patches filled in.

    Args:
        name_or_path: a shipped model's name or an export folder of a family with the
            `inpaint` endpoint (the masked autoencoder).
        check_range: check that images lie in the contract's value range.
        name: the layer's name.

    Returns:
        A `sdae_tf.hub.pretrained.PretrainedInpainter` layer; `hidden` is (batch,
        `layer.patches`), 1 where a patch is hidden, the same number per example.

    Raises:
        FileNotFoundError: no such model. ValueError: an export without `inpaint`.

    Example:

    ```python
    inpaint = sdae_tf.inpainter("mae_mnist")
    hidden = np.zeros((len(images), inpaint.patches), "float32")
    hidden[:, :21] = 1.0  # the top three rows of 4x4 patches hidden
    filled = inpaint([images, hidden])  # (batch, 28, 28, 1)
    ```
    """
    from sdae_tf.hub import pretrained

    return pretrained.inpainter(name_or_path, check_range=check_range, name=name)


def list_models(root=None):
    """Manifests of the shipped exported models by name.

    Args:
        root: a folder of exports to list instead of the shipped ones.

    Returns:
        A dict name -> manifest (a dict: model, dataset, input, metrics, probe, ...), each with
        `path` (its folder) and `size_mb` added.

    Example:

    ```python
    models = sdae_tf.list_models()
    print(sorted(models))  # ['cdae_mnist', 'dvae_mnist', ...]
    print(models["sdae_mnist"]["metrics"]["test_accuracy"])
    ```
    """
    from sdae_tf.hub import pretrained

    return pretrained.list_models(root)
