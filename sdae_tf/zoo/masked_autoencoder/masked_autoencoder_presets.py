"""The zoo's named masked autoencoders: name -> class, default arguments, dataset, description."""

from sdae_tf.zoo.masked_autoencoder.masked_autoencoder import MaskedAutoencoder
from sdae_tf.zoo.registry import REGISTRY, ZooEntry

# He et al.'s masked autoencoder at MNIST's size: what `mae_mnist` built until 2026-12-07, and
# what its runs were identified by (the flagfiles and experiment cells name it).
HE_ET_AL = {"patch_size": 4, "width": 128, "depth": 4, "mask_unit": "patch", "mask_ratio": 0.75,
            "pooling": "mean"}

REGISTRY.register(ZooEntry(
    "mae_mnist", MaskedAutoencoder, "mnist",
    # The small-data recipe: on 3000 MNIST digits its classifier, pretrained then fine-tuned
    # 2 + 2 or 5 + 5 epochs, beats a plain MLP where He et al.'s setting (HE_ET_AL) stays under
    # it and gains nothing from pretraining (benchmarks/results/api_defaults_mae.json).
    {"patch_size": 7, "width": 64, "depth": 1, "mask_unit": "pixel", "mask_ratio": 0.25,
     "pooling": "flatten"},
    earlier_defaults=HE_ET_AL, named_before=frozenset({"mask_unit", "mask_ratio"}),
    description="masked autoencoder on MNIST's small budget: 7x7 patches (16 tokens), one ViT "
                "block of width 64, a quarter of the pixels masked (the 2008 masking noise), "
                "2-block decoder; features: the tokens, flattened. He et al.'s MAE: "
                "patch_size=4, width=128, depth=4, mask_unit=patch, mask_ratio=0.75, "
                "pooling=mean"))
