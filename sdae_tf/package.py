"""The package's name (one place: Keras' serialization namespace, the installed distribution)
and its version, read from the installed metadata (`importlib.metadata`), not from
`sdae_tf/__init__`, so no module needs to import the package root."""

import importlib.metadata

NAME = "sdae_tf"


def version():
    """The installed distribution's version ("0+unknown" when run from an uninstalled tree)."""
    try:
        return importlib.metadata.version(NAME)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"
