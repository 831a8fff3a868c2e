"""Supervised heads attached to a (pretrained) encoder for fine-tuning."""

import keras


def dense_head(num_classes, units=1000, name="head"):
    """The report's fresh two-layer head: Dense(units, ReLU) -> Dense(num_classes) logits.
    Spatial (conv) codes are flattened first."""
    return keras.Sequential(
        [
            keras.layers.Flatten(name=f"{name}_flatten"),
            keras.layers.Dense(units, activation="relu", name=f"{name}_hidden"),
            keras.layers.Dense(num_classes, name=f"{name}_logits"),
        ],
        name=name,
    )


def classifier(encoder, num_classes, units=1000, name="classifier"):
    """`encoder` followed by a fresh `dense_head`: a functional model from inputs to logits."""
    inputs = keras.Input(encoder.input_shape[1:], name="images")
    logits = dense_head(num_classes, units)(encoder(inputs))
    return keras.Model(inputs, logits, name=name)
