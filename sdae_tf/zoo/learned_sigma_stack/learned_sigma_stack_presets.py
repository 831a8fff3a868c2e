"""The zoo's named learned-sigma stacks: name -> class, default arguments, dataset, description."""

from sdae_tf.zoo.learned_sigma_stack.learned_sigma_stack import LearnedSigmaStack
from sdae_tf.zoo.registry import REGISTRY, ZooEntry

REGISTRY.register(ZooEntry(
    "sdae_learned_sigma_mnist", LearnedSigmaStack, "mnist",
    {"hidden_units": (1000, 1000), "activation": "sigmoid", "lambdas": (0.026, 0.016),
     "floor": 0.4},
    description="SDAE whose per-example Gaussian sigma is learned by a noise network "
                "(floor 0.4, lambda 0.026 / 0.016; Table 3)"))
