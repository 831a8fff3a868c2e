"""The package's name and version, and its Keras-internals module."""

import importlib.metadata

import keras
import pytest

import sdae_tf
from sdae_tf import keras_compat, package


def test_version_comes_from_the_installed_metadata():
    assert package.NAME == "sdae_tf"
    assert sdae_tf.__version__ == package.version() == importlib.metadata.version("sdae_tf")


def test_version_of_an_uninstalled_tree(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert package.version() == "0+unknown"


def test_keras_is_a_tested_version_and_internals_resolve():
    assert keras_compat.keras_version() in keras_compat.TESTED
    keras_compat.check_version("a test")
    tree, trainer = keras_compat.tensorflow_trainer_internals()
    assert hasattr(trainer, "TensorFlowTrainer") and hasattr(tree, "map_structure")
    layer = keras.layers.Dense(2)
    variable = keras.Variable(1.0, trainable=False)
    keras_compat.track_variable(layer, variable)
    assert any(w is variable for w in layer.non_trainable_weights)


def test_untested_keras_is_named(monkeypatch):
    monkeypatch.setattr(keras, "__version__", "9.9.0")
    with pytest.raises(RuntimeError, match="tested with Keras 3.15; found 9.9.0"):
        keras_compat.check_version("The multi-worker patch")
