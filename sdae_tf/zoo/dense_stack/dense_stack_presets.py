"""The zoo's named dense stacks: name -> class, default arguments, dataset, description."""

from sdae_tf.zoo.dense_stack.dense_stack import DenseStack
from sdae_tf.zoo.registry import CLEAN, GAUSSIAN, REGISTRY, ZooEntry

DENSE = {"hidden_units": (1000, 1000), "activation": "sigmoid"}
# DEC's stack (Xie et al. 2016; pt-sdae's and DEC-keras'): 784-500-500-2000-10.
DEC_STACK = {"hidden_units": (500, 500, 2000, 10), "activation": "relu",
             "code_activation": "linear", "loss": "mean_squared_error"}
# What DEC-keras's own MNIST autoencoder adds: linear output, VarianceScaling(1/3, fan_in,
# uniform) kernels.
DEC_KERAS = {"output_activation": "linear",
             "kernel_initializer": {"class_name": "VarianceScaling",
                                    "config": {"scale": 1 / 3, "mode": "fan_in",
                                               "distribution": "uniform"}}}

for _entry in [
    ZooEntry("sdae_mnist", DenseStack, "mnist", {**DENSE, **GAUSSIAN},
             description="stacked denoising autoencoder 784-1000-1000, Gaussian noise 0.4, "
                         "greedy layer-wise pretraining (Table 1)"),
    ZooEntry("sae_mnist", DenseStack, "mnist", {**DENSE, **CLEAN},
             description="stacked autoencoder 784-1000-1000 without noise, layer-wise "
                         "pretraining (Table 1)"),
    ZooEntry("nopretrain_mnist", DenseStack, "mnist", {**DENSE, **CLEAN},
             layerwise_pretraining=False,
             description="the 784-1000-1000 network trained from random initialisation "
                         "(Table 1's no-pretraining baseline)"),
    ZooEntry("ae_dec_mnist", DenseStack, "mnist", {**DEC_STACK, **CLEAN},
             description="the DEC stack without noise: 784-500-500-2000-10, ReLU, linear 10-d "
                         "code, squared error (the plain autoencoder DEC-keras pretrains; deep "
                         "clustering, beyond the report)"),
    ZooEntry("ae_deckeras_mnist", DenseStack, "mnist", {**DEC_STACK, **CLEAN, **DEC_KERAS},
             description="DEC-keras's MNIST autoencoder as it builds it: the DEC stack with "
                         "a linear output layer and weights drawn uniformly within "
                         "sqrt(1 / fan_in) (deep clustering, beyond the report)"),
    ZooEntry("sdae_dec_mnist", DenseStack, "mnist",
             {**DEC_STACK, "noise_type": "dropout", "noise_level": 0.2},
             description="the DEC stack of the PyTorch peer pt-sdae: 784-500-500-2000-10, ReLU, "
                         "linear 10-d code, dropout 0.2 corruption, squared error (k-means "
                         "comparison, beyond the report)"),
]:
    REGISTRY.register(_entry)
