"""Files of version 0.2.0 (the generic `ZooModel` wrapper) load into the family classes that
replaced it, with the same outputs: `.keras` saves made by that version (`tests/legacy/`,
written then with seed 3 and untrained weights, their outputs on fixed images recorded in
`expected.json`) and the shipped exports' manifests (0.1.0's record the run configuration,
0.2.0's the wrapper's config as `zoo_model`)."""

import json
import pathlib

import keras
import numpy as np
import pytest

from sdae_tf import zoo
from sdae_tf.hub import export as export_lib
from sdae_tf.zoo import records

LEGACY = pathlib.Path(__file__).parent / "legacy"
EXPECTED = json.loads((LEGACY / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_keras_file_of_0_2_0_loads_into_its_family_class(name):
    images = np.load(LEGACY / "images.npy", allow_pickle=False)
    model = keras.saving.load_model(LEGACY / f"{name}.keras", safe_mode=True)
    assert type(model) is zoo.REGISTRY.get(name).build and model.name == name
    np.testing.assert_allclose(model.predict(images, verbose=0).sum(),
                               EXPECTED[name]["reconstruction_sum"], rtol=1e-6)
    np.testing.assert_allclose(model.encoder.predict(images, verbose=0).sum(),
                               EXPECTED[name]["code_sum"], rtol=1e-5)
    # Its config is now the family's constructor arguments, and round-trips as such.
    config = model.get_config()
    assert "hparams" not in config and config["seed"] == 3
    assert type(model).from_config(config).get_config() == config


def test_every_shipped_manifest_rebuilds_its_model():
    from sdae_tf.hub import pretrained

    names = pretrained.list_models()
    assert names
    for name in names:
        manifest = export_lib.load_manifest(pretrained.resolve(name))
        model = records.model_from_manifest(manifest)
        assert model.name == name == manifest["model"]
        assert model.describe()["noise"] == manifest["architecture"]["noise"], name


def test_a_family_class_loads_its_own_presets_and_refuses_another_familys():
    model = zoo.DenseStack.from_preset("sdae_mnist")
    assert type(model) is zoo.DenseStack and model.name == "sdae_mnist"
    assert type(zoo.Family.from_preset("cdae_mnist")) is zoo.ConvAutoencoder
    with pytest.raises(ValueError, match="cdae_mnist is a ConvAutoencoder preset, not a "
                                         "DenseStack one"):
        zoo.DenseStack.from_preset("cdae_mnist")
