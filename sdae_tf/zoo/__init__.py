"""The model zoo: named models in a registry. `build(name, input_shape)` gives the model, an
instance of its family's `keras.Model` class (`sdae_tf.zoo.Family`).

Every family exposes what the one training loop (`sdae_tf.runner.training`) needs: `encoder` (the
Keras model that is fine-tuned and exported), `num_blocks`, `features_before(k)` (images ->
the clean input of block k, None for k = 0), `pretrain_model(k)` (block k's autoencoder, noise
inside), `block_loss(k)`, `block_summary(k)`, `embedding_size` and `describe()`.
"""

import inspect

from sdae_tf.utils import checks
from sdae_tf.zoo.conv_autoencoder import ConvAutoencoder
from sdae_tf.zoo.conv_stack import ConvStack
from sdae_tf.zoo.dense_stack import DenseStack
from sdae_tf.zoo.family import Family
from sdae_tf.zoo.heads import classifier, dense_head
from sdae_tf.zoo.kernel_prediction_autoencoder import KernelPredictionAutoencoder
from sdae_tf.zoo.learned_sigma_stack import LearnedSigmaBlock, LearnedSigmaStack
from sdae_tf.zoo.masked_autoencoder import MaskedAutoencoder
from sdae_tf.zoo.raw_pixels import RawPixels
from sdae_tf.zoo.registry import REGISTRY, Registry, ZooEntry
from sdae_tf.zoo.residual_autoencoder import ResidualAutoencoder
from sdae_tf.zoo.variational_stack import VariationalStack
from sdae_tf.zoo.vqvae import VQVAE

# Reconstruction losses a run may ask for (`recon_loss`); each family maps them to its own
# `loss` argument through its `RECON_LOSS_ARGS`.
RECON_LOSSES = ("bce", "mse")


def check_recon_loss(name, recon_loss):
    """Refuses a reconstruction loss that zoo model `name`'s family does not take.

    Args:
        name: a zoo model's name.
        recon_loss: "bce" or "mse".

    Returns:
        The family's own loss argument for it (e.g. "binary_crossentropy").

    Raises:
        ValueError: a loss the family does not take, naming the ones it does.

    Example:

    ```python
    sdae_tf.zoo.check_recon_loss("sdae_mnist", "mse")  # 'mean_squared_error'
    ```
    """
    entry = REGISTRY.get(name)
    supported = getattr(entry.build, "RECON_LOSS_ARGS", {})
    if recon_loss not in supported:
        raise ValueError(
            f"{name} ({entry.build.__name__}) cannot train with recon_loss={recon_loss!r}. It "
            f"takes: {', '.join(supported) or 'none'}")
    return supported[recon_loss]


def check_request(name, recon_loss=None, noise_type=None, noise_level=None, figures=(),
                  num_samples=0):
    """Refuses, with a one-line error, what zoo model `name`'s family cannot do (a
    reconstruction loss, a noise type, a figure) and a noise request that would train without
    noise (an explicit `noise_type` at level 0, or a level with no noise type).

    Args:
        name: a zoo model's name.
        recon_loss: "bce", "mse" or None (not asked).
        noise_type: a noise type, or None.
        noise_level: the noise's level, or None.
        figures: names of figures (`sdae_tf.evaluation.figures`) to be drawn.
        num_samples: samples a generative family is asked to draw.

    Raises:
        ValueError: one line naming what the family cannot do and what it can.

    Example:

    ```python
    sdae_tf.zoo.check_request("cdae_mnist", noise_type="gaussian", noise_level=0.4)
    ```
    """
    entry = REGISTRY.get(name)
    family = entry.build
    if recon_loss is not None:
        check_recon_loss(name, recon_loss)
    wanted = set(figures) | ({"samples"} if num_samples else set())
    unsupported = sorted(wanted - set(family.FIGURES))
    if unsupported:
        raise ValueError(f"{name} ({family.__name__}) cannot draw {', '.join(unsupported)}. "
                         f"It draws: {', '.join(sorted(family.FIGURES))}")
    if noise_type is not None and noise_type not in family.NOISE_TYPES:
        raise ValueError(f"{name} ({family.__name__}) cannot train with "
                         f"noise_type={noise_type!r}. It takes: {', '.join(family.NOISE_TYPES)}")
    if noise_type == "learned_gaussian" or "noise_level" not in entry.hparams \
            and "noise_type" not in entry.hparams:
        return  # learned noise: noise_level is the floor of sigma
    kind = noise_type if noise_type is not None else entry.hparams.get("noise_type")
    level = noise_level if noise_level is not None else entry.hparams.get("noise_level")
    if noise_type not in (None, "none") and not level:
        raise ValueError(f"noise_type={noise_type!r} at noise level {level or 0} trains "
                         f"without noise: give --noise_level (the Gaussian stddev or the "
                         f"corrupted fraction)")
    if noise_level and kind in (None, "none"):
        raise ValueError(f"noise_level={noise_level} with no noise type ({name} has none): give "
                         "--noise_type")


def check_arguments(name, arguments):
    """Refuses an argument zoo model `name`'s family does not take, in one line listing those
    it does (before anything is built or trained).

    Args:
        name: a zoo model's name.
        arguments: the constructor arguments asked for (names, or a dict).

    Returns:
        The family constructor's parameters, `{name: inspect.Parameter}`.

    Raises:
        ValueError: an argument the family does not take.

    Example:

    ```python
    sdae_tf.zoo.check_arguments("mae_mnist", {"width": 64})
    ```
    """
    entry = REGISTRY.get(name)
    accepted = {k: p for k, p in inspect.signature(entry.build).parameters.items()
                if p.kind is not p.VAR_KEYWORD}
    unknown = sorted(set(arguments) - set(accepted) - {"recon_loss"})
    if unknown:
        raise ValueError(
            f"{name} ({entry.build.__name__}) does not take {', '.join(unknown)}. "
            f"It takes: {', '.join(p for p in accepted if p not in ('input_shape', 'name'))}"
        )
    return accepted


def build(name, input_shape, recon_loss=None, **overrides):
    """Builds a zoo model by name: an instance of its family's `keras.Model` class, named
    `name` (`sdae_tf.models.get` is the same with the entry's dataset's input shape).

    Args:
        name: a zoo model's name (`sdae_tf.zoo.REGISTRY.names()`).
        input_shape: one example's shape, e.g. (28, 28, 1).
        recon_loss: "bce" or "mse": the reconstruction loss in the family's own terms.
        **overrides: hyperparameters replacing the entry's defaults (None values ignored).

    Returns:
        The model (a `sdae_tf.zoo.Family`), e.g. a `DenseStack`.

    Raises:
        ValueError: an unknown name, or a hyperparameter the family does not take (naming
            the ones it takes).

    Example:

    ```python
    family = sdae_tf.zoo.build("sdae_mnist", (28, 28, 1), hidden_units=(256, 64))
    print(family.embedding_size)  # 64
    ```
    """
    entry = REGISTRY.get(name)
    input_shape = checks.int_tuple(input_shape, "input_shape", example="(28, 28, 1)")
    given = {k: v for k, v in overrides.items() if v is not None}
    if recon_loss is not None:
        given["loss"] = check_recon_loss(name, recon_loss)
    check_arguments(name, given)
    for key, value in given.items():  # lists of widths parsed strictly ("48" is not (4, 8))
        default = entry.default(key)
        if isinstance(default, (tuple, list)) and all(isinstance(d, int) for d in default):
            given[key] = checks.int_tuple(value, key, allow_empty=not default)
    return entry.build(input_shape, name=name, **{**entry.hparams, **given})


__all__ = [
    "REGISTRY",
    "ConvAutoencoder",
    "ConvStack",
    "DenseStack",
    "LearnedSigmaBlock",
    "LearnedSigmaStack",
    "MaskedAutoencoder",
    "RawPixels",
    "ResidualAutoencoder",
    "Registry",
    "VariationalStack",
    "VQVAE",
    "ZooEntry",
    "RECON_LOSSES",
    "Family",
    "KernelPredictionAutoencoder",
    "build",
    "check_arguments",
    "check_recon_loss",
    "check_request",
    "classifier",
    "dense_head",
]
