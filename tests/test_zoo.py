"""Zoo: registry behaviour and the dense stack's blocks, shared weights and shapes."""

import re

import keras
import numpy as np
import pytest

from sdae_tf import zoo
from sdae_tf.layers import GaussianNoise
from sdae_tf.zoo import REGISTRY, DenseStack, Registry, ZooEntry


def test_registry_names_and_errors():
    assert {"sdae_mnist", "sae_mnist", "nopretrain_mnist"} <= set(REGISTRY.names())
    with pytest.raises(ValueError, match="Unknown zoo model 'sdae_mnsit'. Available: .*sdae_mnist"):
        REGISTRY.get("sdae_mnsit")
    registry = Registry()
    registry.register(ZooEntry("a", DenseStack, "digits"))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ZooEntry("a", DenseStack, "digits"))


def test_entries_match_the_report():
    sdae = zoo.build("sdae_mnist", (28, 28, 1))
    assert sdae.hidden_units == (1000, 1000) and sdae.activation == "sigmoid"
    assert (sdae.noise_type, sdae.noise_level) == ("gaussian", 0.4)
    assert zoo.build("sae_mnist", (28, 28, 1)).noise_type == "none"
    assert not REGISTRY.get("nopretrain_mnist").layerwise_pretraining
    assert REGISTRY.get("sdae_mnist").layerwise_pretraining
    assert sdae.encoder.output_shape == (None, 1000)
    assert [ly.name for ly in sdae.encoder.layers[1:]] == ["flatten", "encoder_1", "encoder_2"]
    override = zoo.build("sdae_mnist", (8, 8, 1), hidden_units=(16,), noise_level=None)
    assert override.hidden_units == (16,) and override.noise_level == 0.4


def test_block_models_shapes_and_noise():
    stack = DenseStack((8, 8, 1), hidden_units=(32, 16), noise_type="gaussian", noise_level=0.3,
                       seed=1)
    first, second = stack.pretrain_model(0), stack.pretrain_model(1)
    assert first.input_shape == (None, 8, 8, 1) and first.output_shape == (None, 8, 8, 1)
    assert second.input_shape == (None, 32) and second.output_shape == (None, 32)
    assert isinstance(first.layers[1], GaussianNoise) and first.layers[1].seed == 1
    assert second.layers[1].seed == 2
    assert stack.features_before(0) is None
    assert stack.features_before(1).output_shape == (None, 32)
    assert stack.autoencoder().output_shape == (None, 8, 8, 1)
    assert stack.embedding_size == 16


def test_no_noise_block_has_no_noise_layer():
    stack = DenseStack((8, 8, 1), hidden_units=(8,), noise_type="none", noise_level=0.0)
    assert not any(isinstance(ly, GaussianNoise) for ly in stack.pretrain_model(0).layers)


def test_pretraining_a_block_trains_the_encoder_in_place(digits):
    stack = DenseStack(digits.input_shape, hidden_units=(32, 16), seed=0)
    before = [w.copy() for w in stack.encoder.get_weights()]
    block = stack.pretrain_model(0)
    block.compile(optimizer="adam", loss=stack.block_loss(0))
    block.fit(digits.x_train, digits.x_train, epochs=1, batch_size=64, verbose=0)
    after = stack.encoder.get_weights()
    assert not np.allclose(before[0], after[0])  # encoder_1 moved
    np.testing.assert_array_equal(before[2], after[2])  # encoder_2 untouched


def test_bad_hidden_units():
    with pytest.raises(ValueError, match="hidden_units"):
        DenseStack((4,), hidden_units=())
    with pytest.raises(ValueError, match="stddev=-1"):
        DenseStack((4,), noise_type="gaussian", noise_level=-1)


def test_classifier_head(digits):
    stack = DenseStack(digits.input_shape, hidden_units=(32,))
    model = zoo.classifier(stack.encoder, 10, units=20)
    assert model.output_shape == (None, 10)
    assert keras.ops.convert_to_numpy(model(digits.x_val[:3])).shape == (3, 10)


def test_each_family_has_one_name_in_its_folder_class_and_manifest():
    """One name per family: its folder (`sdae_tf/zoo/<name>/`), its module, its presets module,
    its class in snake case and the manifests' `architecture.family` agree."""
    import pathlib

    families = {entry.build for entry in zoo.REGISTRY}
    for cls in families:
        name = cls.family_name()
        folder, module = cls.__module__.split(".")[2:4]
        assert folder == module == name, (cls, cls.__module__)
        presets = pathlib.Path(zoo.__file__).parent / name / f"{name}_presets.py"
        assert presets.is_file(), presets
    first = {}
    for entry in zoo.REGISTRY:  # one mnist model of each family
        if entry.dataset == "mnist":
            first.setdefault(entry.build, entry.name)
    assert set(first) == families
    for name in first.values():
        model = zoo.build(name, (28, 28, 1))
        assert model.describe()["family"] == type(model).family_name(), name


def test_the_spatial_families_refuse_an_image_they_cannot_halve():
    """One rule (`zoo.spatial.check_halvings`), one message, in every family that halves."""
    for name, argument in (("cdae_mnist", "2**downsample=4"), ("resdae_mnist", "2**len(widths)=4"),
                           ("scdae_mnist", "2**len(blocks)=4")):
        with pytest.raises(ValueError, match=re.escape(
                f"divisible by {argument}. Received: input_shape=(30, 30, 1)")):
            zoo.build(name, (30, 30, 1))


def test_dec_keras_autoencoder_is_built_as_dec_keras_builds_it():
    """ae_deckeras_mnist: DEC-keras's initialisation (uniform within sqrt(1 / fan_in)) on every
    Dense layer and a linear output layer; both are constructor arguments that survive
    `get_config`, and an initializer Keras does not know is refused by name."""
    keras.utils.set_random_seed(0)
    model = zoo.build("ae_deckeras_mnist", (28, 28, 1), seed=0)
    dense = [*model.encoder_layers, *model.decoder_layers]
    for layer in dense:
        limit = (1 / layer.kernel.shape[0]) ** 0.5
        kernel = np.abs(np.asarray(layer.kernel))
        assert kernel.max() <= limit and kernel.max() > 0.95 * limit, layer.name
    assert model.decoder_layers[0].activation is keras.activations.linear
    assert model.decoder_layers[1].activation is keras.activations.relu
    again = DenseStack.from_config(model.get_config())
    assert again.get_config() == model.get_config()
    assert np.abs(np.asarray(again.encoder_layers[0].kernel)).max() <= (1 / 784) ** 0.5
    plain = zoo.build("ae_dec_mnist", (28, 28, 1), seed=0)  # Keras' default Glorot, ReLU out
    assert np.abs(np.asarray(plain.encoder_layers[0].kernel)).max() > (1 / 784) ** 0.5
    assert plain.decoder_layers[0].activation is keras.activations.relu
    with pytest.raises(ValueError, match="`kernel_initializer`: .*nope"):
        zoo.build("ae_dec_mnist", (28, 28, 1), kernel_initializer="nope")


def test_a_task_holds_its_family_weights_shared_files_unchanged(digits, tmp_path):
    """`classifier()`, `segmenter()` and `clusterer()` return tasks whose `family` is the model
    they were built on, its encoder's weights shared; the family is held outside Keras'
    tracking: the task's weights and weights file are those of the same task without it, and a
    task loaded from a `.keras` file (encoder and head only) has no family."""
    import h5py

    stack = DenseStack(digits.input_shape, hidden_units=(32,), seed=0)
    clf = stack.classifier(10, head_units=16, compile=False)
    assert clf.family is stack and stack.clusterer(3).family is stack
    assert zoo.build("cdae_mnist", (28, 28, 1)).segmenter().family is not None
    assert any(w is stack.encoder.weights[0] for w in clf.weights)
    bare = zoo.classifier(stack.encoder, 10, units=16, name=clf.name)
    assert bare.family is None
    assert [w.path for w in clf.weights] == [w.path for w in bare.weights]
    clf.save_weights(tmp_path / "with.weights.h5")
    bare.save_weights(tmp_path / "without.weights.h5")

    def keys(path):
        with h5py.File(path, "r") as f:
            out = []
            f.visit(out.append)
            return out

    assert keys(tmp_path / "with.weights.h5") == keys(tmp_path / "without.weights.h5")
    clf.save(tmp_path / "clf.keras")
    loaded = keras.saving.load_model(tmp_path / "clf.keras", safe_mode=True)
    assert loaded.family is None
    np.testing.assert_allclose(loaded.predict(digits.x_val[:4], verbose=0),
                               clf.predict(digits.x_val[:4], verbose=0), atol=1e-6)
    with pytest.raises(AttributeError, match="no attribute 'famly'"):
        clf.famly  # noqa: B018
