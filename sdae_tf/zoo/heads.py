"""Supervised heads attached to a (pretrained) encoder for fine-tuning."""

import keras

from sdae_tf.layers import corrupt


def dense_head(num_classes, units=1000, name="head", hidden_layers=1):
    """The report's fresh head: `hidden_layers` x Dense(units, ReLU) -> Dense(num_classes)
    logits (one hidden layer: the two-layer head of Tables 1-4; two: Table 5's three-layer head
    on CUB-200). Spatial (conv) codes are flattened first."""
    if isinstance(hidden_layers, bool) or not isinstance(hidden_layers, int) or hidden_layers < 1:
        raise ValueError(f"`hidden_layers` must be an integer >= 1. Received: {hidden_layers!r}")
    hidden = [keras.layers.Dense(units, activation="relu",
                                 name=f"{name}_hidden" + (f"_{i + 1}" if i else ""))
              for i in range(hidden_layers)]
    return keras.Sequential(
        [
            keras.layers.Flatten(name=f"{name}_flatten"),
            *hidden,
            keras.layers.Dense(num_classes, name=f"{name}_logits"),
        ],
        name=name,
    )


def classifier(encoder, num_classes, units=1000, name="classifier", hidden_layers=1,
               input_noise=0.0, seed=None):
    """`encoder` followed by a fresh `dense_head`: a functional model from inputs to logits.
    `input_noise` > 0 corrupts the inputs with Gaussian noise of that stddev while training
    (a regulariser of fine-tuning; the encoder itself, and so its export, has no noise)."""
    inputs = keras.Input(encoder.input_shape[1:], name="images")
    h = corrupt(inputs, "gaussian", input_noise, seed=seed, name="finetune_noise")
    logits = dense_head(num_classes, units, hidden_layers=hidden_layers)(encoder(h))
    return keras.Model(inputs, logits, name=name)
