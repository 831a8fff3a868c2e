"""The absl flags of a run's configuration: one flag per setting (`sdae_tf.runner.config`:
each `TrainConfig` training field, and each `ModelFlags` argument in place of its
`model_config`), defined from the setting's type, default, help and allowed values, and the
`TrainConfig` that parsed flags describe."""

import dataclasses

from sdae_tf.runner import config as config_lib
from sdae_tf.runner import config_values
from sdae_tf.utils.process import BACKENDS


def define_backend_flag(flag_values):
    """`--backend` alone (the `backend` field's flag), for the tools without the training
    flags; defined once per process, whichever tool's module comes first.

    Args:
        flag_values: an `absl.flags.FlagValues` (e.g. `flags.FLAGS`).
    """
    from absl import flags

    if "backend" not in flag_values:
        flags.DEFINE_enum("backend", None, list(BACKENDS),
                          config_lib.fields()["backend"].metadata["help"], flag_values=flag_values)


def define_flags(flag_values):
    """Defines one absl flag per setting on `flag_values` (all optional; None-default settings
    are unset until given).

    Args:
        flag_values: an `absl.flags.FlagValues` (e.g. `flags.FLAGS`).
    """
    from absl import flags

    for name, f in config_lib.keys().items():
        if name == "backend" and name in flag_values:  # another tool's module defined it
            continue
        base, is_tuple, _ = config_values.field_type(name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        meta, help_text = f.metadata, f.metadata["help"]
        choices = config_values.choices_of(name)
        if is_tuple:
            if choices:
                help_text += f" Any of: {', '.join(choices)}."
            flags.DEFINE_list(name, list(default) if default is not None else None, help_text,
                              flag_values=flag_values)
        elif base is bool:
            flags.DEFINE_bool(name, default, help_text, flag_values=flag_values)
        elif choices is not None:
            flags.DEFINE_enum(name, default, list(choices), help_text, flag_values=flag_values)
        elif base is int:
            flags.DEFINE_integer(name, default, help_text, lower_bound=meta["minimum"],
                                 flag_values=flag_values)
        elif base is float:
            flags.DEFINE_float(name, default, help_text, lower_bound=meta["minimum"],
                               flag_values=flag_values)
        else:
            flags.DEFINE_string(name, default, help_text, flag_values=flag_values)


def from_flags(flag_values):
    """The `TrainConfig` that parsed flags describe (list flags typed item by item; the
    model's arguments in its `model_config`).

    Args:
        flag_values: parsed `absl.flags.FlagValues` with the settings' flags.

    Returns:
        A `TrainConfig`.
    """
    values = {}
    for name in config_lib.keys():
        value = flag_values[name].value
        _, is_tuple, optional = config_values.field_type(name)
        if is_tuple:
            given = value or flag_values[name].present  # `--hidden_units=` is given, empty
            value = (config_values.parse_value(name, ",".join(value or ())) if given else
                     (None if optional else ()))
        values[name] = value
    training = {k: v for k, v in values.items() if k in config_lib.fields()}
    arguments = {k: v for k, v in values.items() if k in config_lib.model_flags()}
    return config_lib.replace(config_lib.TrainConfig(**training), **arguments)
