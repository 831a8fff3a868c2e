"""The zoo's named variational stacks: name -> class, default arguments, dataset, description."""

from sdae_tf.zoo.registry import CLEAN, GAUSSIAN, REGISTRY, ZooEntry
from sdae_tf.zoo.variational_stack.variational_stack import VariationalStack

for _entry in [
    ZooEntry("vae_mnist", VariationalStack, "mnist",
             {"hidden_units": (400,), "latent_units": (20,), **CLEAN},
             description="VAE 784-400-20 (ReLU), latent mean as features (Table 2)"),
    ZooEntry("dvae_mnist", VariationalStack, "mnist",
             {"hidden_units": (400,), "latent_units": (20,), **GAUSSIAN},
             description="denoising VAE: the VAE with Gaussian 0.4 input noise, clean target "
                         "(Table 2)"),
    ZooEntry("sdvae_mnist", VariationalStack, "mnist",
             {"hidden_units": (400, 200), "latent_units": (100, 20), **GAUSSIAN},
             description="stacked DVAE: 784-400-100 then 100-200-20, trained layer-wise on the "
                         "previous block's mean (Table 2)"),
]:
    REGISTRY.register(_entry)
