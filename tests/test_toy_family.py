"""Adding a family is its module and one registry line: a family defined in the tests' own
folder (`tests/toy_family`), registered for the test, passes the shared family test and is
built, saved, exported and rebuilt by name like the package's own."""

import keras
import pytest

from sdae_tf import models, zoo
from tests.family_test import run_family_test
from tests.toy_family import ToyAutoencoder, register


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setattr(zoo.REGISTRY, "_entries", dict(zoo.REGISTRY._entries))
    register()
    yield
    assert "toy_mnist" in zoo.REGISTRY


def test_a_family_from_outside_the_package_passes_the_family_test(toy_registered, tmp_path):
    from sdae_tf.data import load_mnist

    data = load_mnist("mnist", validation_size=1000, seed=0)
    keras.utils.set_random_seed(0)
    model = models.get("toy_mnist", seed=0)
    assert type(model) is ToyAutoencoder and model.name == "toy_mnist"
    assert model.get_config()["units"] == 32
    run_family_test(model, (data.x_train[:1024], data.y_train[:1024], data.x_test[:512],
                            data.y_test[:512]), tmp_path, finetune_epochs=3)


def test_an_unregistered_class_in_a_record_is_refused():
    with pytest.raises(ValueError, match="no model family"):
        models.model_from_record({"class_name": "Dense", "registered_name": "keras>Dense",
                                  "config": {}})
