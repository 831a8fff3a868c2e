"""`get(name)`: a zoo model by name, an instance of its family's `keras.Model` class."""

from sdae_tf import zoo
from sdae_tf.zoo.family import Family
from sdae_tf.zoo.registry import DATASET_SHAPES  # noqa: F401  (the public API's)

# The name of the base class before each family was its own `keras.Model` (version 0.2.0),
# kept so that code and isinstance checks written against it still work.
ZooModel = Family


def get(name, input_shape=None, seed=None, **overrides):
    """The untrained zoo model `name`: an instance of its family's class (e.g. `DenseStack`
    for "sdae_mnist"), named `name`, with the entry's hyperparameters.

    Args:
        name: a zoo name, e.g. "sdae_mnist", "cdae_cifar10", "vae_mnist"
            (`sdae_tf.zoo.REGISTRY.names()`).
        input_shape: shape of one image; default: the entry's dataset's.
        seed: seeds the noise layers and the training.
        **overrides: the family's hyperparameters (e.g. `hidden_units=(500, 250)`,
            `noise_type="masking"`, `noise_level=0.3`, `recon_loss="mse"`); one the family
            does not take is a `ValueError` listing those it does.

    Example:

    ```python
    model = sdae_tf.models.get("cdae_mnist", noise_level=0.3)
    model.summary()
    ```
    """
    entry = zoo.REGISTRY.get(name)
    if input_shape is None:
        input_shape = DATASET_SHAPES[entry.dataset]
    return zoo.build(name, input_shape, seed=seed, **overrides)
