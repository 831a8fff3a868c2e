"""One optimizer made of several, each over its own variables (the learned-sigma blocks train
their autoencoder and their noise network with two)."""

import keras

from sdae_tf.package import NAME as PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class PartitionedOptimizer(keras.optimizers.Optimizer):
    """Applies each of several optimizers to its own variables, as one `model.optimizer`.

    Keras' trainers carry one optimizer's state from step to step (on JAX, only
    `model.optimizer.variables` are threaded through the compiled step), so a model that
    trains parts of itself with different optimizers gives the trainer this one: its
    `variables` are every inner optimizer's, and `apply` (hence `stateless_apply`) hands each
    inner optimizer the gradients of its variables. Each inner optimizer keeps its own
    learning rate, schedule and step count.

    Args:
        default: the optimizer of every variable no part claims.
        parts: `(optimizer, variables)` pairs, the variables each optimizer updates.
        name: the optimizer's name.

    Example:

    ```python
    from sdae_tf.optimizers import PartitionedOptimizer
    head = keras.layers.Dense(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), head])
    optimizer = PartitionedOptimizer(keras.optimizers.Adam(1e-3),  # the rest: Adam
                                     [(keras.optimizers.SGD(0.1), head.trainable_variables)])
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(np.ones((16, 4)), np.ones((16, 1)), epochs=1, verbose=0)
    ```
    """

    def __init__(self, default, parts=(), name="partitioned_optimizer", **kwargs):
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.default = keras.optimizers.get(default)
        # The parts' variables by identity: kept as variables, the optimizer would track them
        # as its own.
        self._part_optimizers = [optimizer for optimizer, _ in parts]
        self._owner = {id(v): i + 1 for i, (_, variables) in enumerate(parts) for v in variables}
        self._routes = None

    def _optimizers(self):
        return [self.default, *self._part_optimizers]

    def _split(self, items):
        groups = [[] for _ in self._optimizers()]
        for route, item in zip(self._routes, items, strict=True):
            groups[route].append(item)
        return groups

    def build(self, var_list):
        super().build(var_list)
        self._routes = [self._owner.get(id(v), 0) for v in var_list]
        for optimizer, group in zip(self._optimizers(), self._split(var_list), strict=True):
            if group and not optimizer.built:
                optimizer.build(group)

    @property
    def variables(self):
        return self._variables[:] + [v for o in self._optimizers() for v in o.variables]

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is not None and not self.built:
            self.build(list(trainable_variables))
            self.built = True
        variables = (self._trainable_variables if trainable_variables is None
                     else list(trainable_variables))
        if [id(v) for v in variables] != [id(v) for v in self._trainable_variables]:
            raise ValueError(f"{self.name} applies gradients to the variables it was built "
                             "with, in that order")
        for optimizer, g, v in zip(self._optimizers(), self._split(grads),
                                   self._split(variables), strict=True):
            if v:
                optimizer.apply(g, v)
        self._iterations.assign_add(1)

    def load_own_variables(self, store):
        # A checkpoint written before the parts shared one optimizer holds the default
        # optimizer's variables alone (the parts' optimizers saved their own).
        if len(store.keys()) == len(self.default.variables) != len(self.variables):
            self.default.load_own_variables(store)
        else:
            super().load_own_variables(store)

    def get_config(self):
        raise NotImplementedError(
            "A PartitionedOptimizer holds variables, not a config: rebuild it with its model")
