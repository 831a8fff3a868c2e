"""The round trips every custom layer gets (shared by the layer tests): its config through
`from_config` and through Keras' registered-name (de)serialization, and a `.keras` file
saved and loaded back in safe mode."""

import keras
import numpy as np


def assert_config_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is type(layer) and restored.get_config() == config
    return config


def assert_keras_file_round_trip(model, x, path, layer_type, atol=1e-6):
    """Saves `model`, loads it in safe mode, checks its outputs on `x` (inference) and the
    configs of its `layer_type` layers; returns the loaded model."""
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=atol)
    want = [ly.get_config() for ly in model.layers if isinstance(ly, layer_type)]
    got = [ly.get_config() for ly in loaded.layers if isinstance(ly, layer_type)]
    assert want and got == want
    return loaded
