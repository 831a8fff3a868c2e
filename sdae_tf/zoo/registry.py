"""The zoo's registry: model name -> entry (builder, default dataset, defaults)."""

import dataclasses
import inspect
from collections.abc import Callable

# The input shape of each dataset's images, for `get` without `input_shape`.
DATASET_SHAPES = {
    "mnist": (28, 28, 1), "mnist_rot": (28, 28, 1), "mnist_bg_rand": (28, 28, 1),
    "mnist_bg_rand_rot": (28, 28, 1), "digits": (8, 8, 1), "cifar10": (32, 32, 3),
    "cub200": (128, 128, 3), "patches": (12, 12, 1), "toy_manifold": (32, 32, 1),
    "photos64": (64, 64, 3),
}


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """A named model of the zoo.

    Args:
        name: registry key, e.g. "sdae_mnist".
        build: `build(input_shape, **hparams)` -> a model family object (e.g. `DenseStack`).
        dataset: the dataset it is trained on by default.
        hparams: defaults passed to `build` (hidden sizes, noise, ...), overridable per run.
        layerwise_pretraining: whether training starts with greedy layer-wise pretraining.
        description: one line for the zoo table and `--helpfull`.
        earlier_defaults: arguments whose default changed after runs had been identified
            and recorded without them: name -> the value they had. A record that leaves one
            out means that value; a run's identity names it unless it has that value and is
            not in `named_before`, so a recorded run keeps its meaning and its key
            (`sdae_tf.runner.config.explicit` and `flat`).
        named_before: those of `earlier_defaults` that runs named at their earlier value too
            (experiment cells that set them), so their identity keeps naming them.

    Example:

    ```python
    entry = sdae_tf.zoo.REGISTRY.get("cdae_mnist")
    print(entry.build.__name__, entry.dataset, entry.hparams)
    ```
    """

    name: str
    build: Callable
    dataset: str
    hparams: dict = dataclasses.field(default_factory=dict)
    layerwise_pretraining: bool = True
    description: str = ""
    earlier_defaults: dict = dataclasses.field(default_factory=dict)
    named_before: frozenset = frozenset()

    def default(self, argument):
        """Today's default of a constructor argument: the entry's, else its class's."""
        if argument in self.hparams:
            return self.hparams[argument]
        return inspect.signature(self.build).parameters[argument].default

    def as_recorded(self, arguments):
        """`arguments` (a record's: a run's config, a manifest, a 0.2.0 `.keras` file) with
        each of `earlier_defaults` the record leaves out (or holds as None) at its earlier
        value, which is what the record means."""
        given = {k: v for k, v in arguments.items() if v is not None or k not in
                 self.earlier_defaults}
        return {**{k: v for k, v in self.earlier_defaults.items() if given.get(k) is None},
                **given}


class Registry:
    """Name -> `ZooEntry`; duplicate names are refused, unknown names list the known ones.

    Example:

    ```python
    print(sdae_tf.zoo.REGISTRY.names()[:3])
    print(sdae_tf.zoo.REGISTRY.with_spatial_code("mnist"))
    ```
    """

    def __init__(self):
        self._entries = {}

    def register(self, entry):
        if entry.name in self._entries:
            raise ValueError(f"Zoo model {entry.name!r} is already registered")
        self._entries[entry.name] = entry
        return entry

    def get(self, name):
        if name not in self._entries:
            raise ValueError(f"Unknown zoo model {name!r}. Available: {', '.join(self.names())}")
        return self._entries[name]

    def names(self):
        return sorted(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def with_spatial_code(self, dataset=None):
        """Names of the models whose family's code keeps a (height, width, channels) layout
        (`Family.SPATIAL_CODE`: the ones a segmentation head can read), on `dataset` if given."""
        return [e.name for e in self if getattr(e.build, "SPATIAL_CODE", False)
                and dataset in (None, e.dataset)]

    def __iter__(self):
        return iter(self._entries[n] for n in self.names())


# The zoo's one registry: each family's `*_presets.py` registers its names on import.
REGISTRY = Registry()
# The noise of the denoising presets (the report's Gaussian 0.4) and of the plain ones.
GAUSSIAN = {"noise_type": "gaussian", "noise_level": 0.4}
CLEAN = {"noise_type": "none", "noise_level": 0.0}
