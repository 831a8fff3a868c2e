"""Top-down Bernoulli sampling from a trained stacked autoencoder (Vincent et al. 2010, sec. 7)."""

import numpy as np
from keras import ops


def bernoulli_samples(stack, images, num_samples=8, seed=0):
    """Samples around real examples: each image is encoded deterministically to the top code;
    then, for each sample and from the top block down, a binary code is drawn from the
    (sigmoid) code probabilities and decoded one block down. The bottom decoder's output
    probabilities are the sample.

    Args:
        stack: a trained `DenseStack` (sigmoid codes, so each code unit is a probability).
        images: `(N, *input_shape)` real examples.
        num_samples: samples per example.
        seed: seeds the Bernoulli draws.

    Returns:
        `(N, num_samples, *input_shape)` float32 samples in [0, 1].
    """
    if stack.activation != "sigmoid":
        raise ValueError(
            "Bernoulli sampling needs sigmoid codes (probabilities). "
            f"Received: activation={stack.activation!r}"
        )
    rng = np.random.default_rng(seed)
    top = np.asarray(stack.encoder(images, training=False))
    codes = np.repeat(top[:, None], num_samples, axis=1).reshape(-1, top.shape[-1])
    h = codes
    for k in reversed(range(stack.num_blocks)):
        binary = (rng.random(h.shape) < h).astype(np.float32)
        h = np.asarray(ops.convert_to_numpy(stack.decoder_layers[k](binary)))
    return h.reshape(len(images), num_samples, *stack.image_shape).astype(np.float32)
