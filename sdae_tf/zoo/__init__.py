"""The model zoo: named models in a registry. `REGISTRY.get(name).build(input_shape)`."""

from sdae_tf.zoo.dense import DenseStack
from sdae_tf.zoo.heads import classifier, dense_head
from sdae_tf.zoo.registry import Registry, ZooEntry

REGISTRY = Registry()

_MNIST_DENSE = {"hidden_units": (1000, 1000), "activation": "sigmoid"}

REGISTRY.register(ZooEntry(
    "sdae_mnist", DenseStack, "mnist",
    {**_MNIST_DENSE, "noise_type": "gaussian", "noise_level": 0.4},
    description="stacked denoising autoencoder 784-1000-1000, Gaussian noise 0.4, "
                "greedy layer-wise pretraining (report Table 1)",
))
REGISTRY.register(ZooEntry(
    "sae_mnist", DenseStack, "mnist",
    {**_MNIST_DENSE, "noise_type": "none", "noise_level": 0.0},
    description="stacked autoencoder 784-1000-1000 without noise, layer-wise pretraining "
                "(report Table 1)",
))
REGISTRY.register(ZooEntry(
    "nopretrain_mnist", DenseStack, "mnist",
    {**_MNIST_DENSE, "noise_type": "none", "noise_level": 0.0},
    layerwise_pretraining=False,
    description="the same 784-1000-1000 network trained from random initialisation "
                "(report Table 1's no-pretraining baseline)",
))


def build(name, input_shape, **overrides):
    """Builds a zoo model by name; `overrides` replace the entry's default hyperparameters."""
    entry = REGISTRY.get(name)
    hparams = {**entry.hparams, **{k: v for k, v in overrides.items() if v is not None}}
    return entry.build(input_shape, name=name, **hparams)


__all__ = ["REGISTRY", "DenseStack", "Registry", "ZooEntry", "build", "classifier", "dense_head"]
