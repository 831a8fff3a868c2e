"""What the zoo's models (families and tasks) share about compiling: the default optimiser
their `compile()` uses for `"auto"`, and recompiling a loaded model from its saved settings."""

from keras.src.saving import serialization_lib

# The learning rate of "auto": Adam at 1e-3 (the families' and tasks' default).
DEFAULT_LEARNING_RATE = 1e-3


def default_optimizer(learning_rate=DEFAULT_LEARNING_RATE):
    """The optimiser `compile(optimizer="auto")` builds: Adam at a constant `learning_rate`
    (TensorFlow's fused update where it runs; `sdae_tf.train.stages.make_optimizer`).

    Args:
        learning_rate: the rate, > 0.

    Returns:
        A Keras optimizer.
    """
    from sdae_tf.train import stages

    return stages.make_optimizer(learning_rate, "constant", 0)


class RecompiledOnLoad:
    """A mixin for `keras.Model` subclasses whose `compile` is overridden (Keras' loader then
    skips recompiling them): a loaded model is recompiled with its saved settings and its
    optimizer built, so training resumes where it was saved."""

    def compile_from_config(self, config):
        self.compile(**serialization_lib.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)
