"""All command-line flags of `sdae-train` (and the training flags of `sdae-tune` /
`sdae-experiment`): one per `TrainConfig` field, defined from the field's type, default, help
and allowed values (`sdae_tf.runner.config`). Flags left unset (None) take the zoo entry's
defaults."""

from absl import flags

from sdae_tf.runner import config_flags
from sdae_tf.runner.config import TrainConfig  # noqa: F401  (what config_from_flags returns)

config_flags.define_flags(flags.FLAGS)
flags.DEFINE_string(
    "recipe", None,
    "A recipe by name: a flagfile of the repository's flags/, also installed with the package "
    "(`sdae-models` lists them). Expands in place to its flags, so flags after it override.")


def config_from_flags(values=flags.FLAGS):
    """The `TrainConfig` that parsed flags describe."""
    return config_flags.from_flags(values)
