"""A setting's value (`sdae_tf.runner.config`): its type (`field_type`) and allowed values
(`choices_of`), parsed from text as a flag or a `--run` cell gives it (`parse_value`), checked
(`check_field`), and the `--model_args` items (`model_args`, `model_arg_text`). One-line errors
naming the setting."""

import functools
import types
import typing

from sdae_tf.runner import config as config_lib

# Values a `--run` cell may write for a boolean (any case).
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@functools.cache
def _hints():
    # resolving them costs ~0.5 ms a call
    return {**typing.get_type_hints(config_lib.TrainConfig),
            **typing.get_type_hints(config_lib.ModelFlags)}


def field_type(name):
    """(base type, is a tuple, may be None) of a setting (`config.keys()`): e.g. (int, True,
    True) for `tuple[int, ...] | None`.

    Args:
        name: a setting's name.

    Returns:
        (base type, is a tuple, may be None).
    """
    hint = _hints()[name]
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], True, optional
    return hint, False, optional


def choices_of(name):
    """The allowed values of setting `name` (None: any).

    Args:
        name: a setting's name (`config.keys()`).

    Returns:
        A tuple of allowed values, or None.
    """
    choices = config_lib.keys()[name].metadata["choices"]
    return tuple(choices()) if callable(choices) else choices


def _scalar(name, base, text):
    text = text.strip()
    if base is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"`{name}`: expected true or false. Received: {text!r}")
    try:
        return base(text)
    except ValueError:
        raise ValueError(f"`{name}`: expected {'an integer' if base is int else 'a number'}. "
                         f"Received: {text!r}") from None


def parse_value(name, text):
    """A field's value from its text (a `--run` cell, a flag): typed, checked, one-line errors
    naming the field. "none" (any case) is None for fields that may be None.

    Args:
        name: a field's name.
        text: its value as text.

    Returns:
        The typed value.

    Raises:
        ValueError: an unknown field or a bad value, naming the field.

    Example:

    ```python
    from sdae_tf.runner import config_values
    config_values.parse_value("hidden_units", "500,250")  # (500, 250)
    ```
    """
    if name not in config_lib.keys():
        raise ValueError(f"Unknown setting {name!r}")
    base, is_tuple, optional = field_type(name)
    text = str(text)
    if optional and text.strip().lower() == "none":
        return None
    if is_tuple:
        value = tuple(_scalar(name, base, v) for v in text.split(",") if v.strip())
        if optional and not value:
            raise ValueError(f"`{name}` is empty: give a comma-separated list (e.g. "
                             f"{name}=500,250), or leave it out (or `none`) for the model's "
                             "default")
    elif base is str:
        value = text.strip()
    else:
        value = _scalar(name, base, text)
    check_field(name, value)
    return value


def check_field(name, value):
    """Checks one field's value against its type, choices and range (one-line errors).

    Args:
        name: a field's name.
        value: its value.

    Raises:
        ValueError: a value of the wrong type, outside the choices or the range.
    """
    meta = config_lib.keys()[name].metadata
    base, is_tuple, optional = field_type(name)
    if value is None:
        if optional:
            return
        raise ValueError(f"`{name}` may not be None")
    items = value if is_tuple else (value,)
    if is_tuple and not isinstance(value, (tuple, list)):
        raise ValueError(f"`{name}` must be a list of {base.__name__}. Received: {value!r}")
    for item in items:
        ok = (isinstance(item, bool) if base is bool else
              isinstance(item, (int, float)) and not isinstance(item, bool) if base is float else
              isinstance(item, int) and not isinstance(item, bool) if base is int else
              isinstance(item, base))
        if not ok:
            raise ValueError(f"`{name}` must be {base.__name__}. Received: {value!r}")
        choices = choices_of(name)
        if choices is not None and item not in choices:
            raise ValueError(f"`{name}` must be one of {', '.join(choices)}. "
                             f"Received: {item!r}")
        if meta["minimum"] is not None and item < meta["minimum"]:
            raise ValueError(f"`{name}` must be >= {meta['minimum']}. Received: {value!r}")
        if meta["positive"] and not item > 0:
            raise ValueError(f"`{name}` must be > 0. Received: {value!r}")


def model_args(items):
    """`--model_args` as keyword arguments: "name=value" items, each value an integer, a
    number, true / false / none, a list (items joined by ':') or else a string. An argument
    that has its own flag is refused (one way to set each).

    Args:
        items: the "name=value" strings, or None.

    Returns:
        A dict name -> typed value.

    Raises:
        ValueError: an item without "=", or an argument with its own flag.

    Example:

    ```python
    from sdae_tf.runner import config_values
    config_values.model_args(["width=64", "widths=16:32"])  # {'width': 64, 'widths': (16, 32)}
    ```
    """
    out = {}
    for item in items or ():
        name, sep, text = str(item).partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--model_args: {item!r} is not name=value (e.g. width=64)")
        own = name in config_lib.keys() and name != "model_args"
        if own or name in ("input_shape", "name", "seed"):
            raise ValueError(f"--model_args: {name} is set by its own flag"
                             + (f" (--{name})" if own else ""))
        parts = [_model_arg_scalar(v) for v in text.split(":")]
        out[name] = tuple(parts) if ":" in text else parts[0]
    return out


def _model_arg_scalar(text):
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def model_arg_text(value):
    """A constructor argument as a `--model_args` value (`model_args` reads it back).

    Args:
        value: the argument's value: a number, a bool, None, a string or a list of them.

    Returns:
        Its text, e.g. "16:32" for (16, 32).
    """
    if isinstance(value, (list, tuple)):
        return ":".join(model_arg_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)
