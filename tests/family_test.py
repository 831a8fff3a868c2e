"""The test every zoo family runs (as KerasHub's `run_backbone_test`): `run_family_test(model,
data)` checks a zoo model (an instance of its family's class) end to end on real images:

- per-block shapes: block k's autoencoder maps the clean code below it to itself, and the
  encoder's output is the declared embedding;
- layer-wise pretraining lowers every block's reconstruction loss (a History per block);
- the declared capability matches behaviour: `fit(x)` trains end to end (and lowers the loss)
  when `can_train_end_to_end()`, else it is refused;
- the classifier shares the encoder's weights and, fine-tuned briefly, beats chance by a floor;
- config and `.keras` round trips (safe mode) give the same outputs;
- the export round trip: `from_preset(export)` rebuilds the model with the same outputs, and
  the SavedModel's `reconstruct` endpoint equals the model.
"""

import inspect

import keras
import numpy as np
import pytest

from sdae_tf import models
from sdae_tf.hub import export as export_lib


def run_family_test(model, data, tmp_path, pretrain_epochs=2, finetune_epochs=5,
                    accuracy_floor=0.7, finetune_learning_rate=3e-3):
    x, y, x_test, y_test = data
    # Per-block shapes.
    for k in range(model.num_blocks):
        block = model.pretrain_model(k)
        block = getattr(block, "autoencoder", block)  # the learned-sigma block wraps its own
        features = model.features_before(k)
        below = model.image_shape if features is None else tuple(features.output_shape[1:])
        assert tuple(block.input_shape[1:]) == below
        assert tuple(block.output_shape[1:]) == below
    assert int(np.prod(model.encoder.output_shape[1:])) == model.embedding_size
    code = model.code_model()  # what the decoder reads (the encoder but for the MAE's tokens)
    assert tuple(model.decoder.input_shape[1:]) == tuple(code.output_shape[1:])
    assert {id(v) for v in model.encoder.variables} <= {id(v) for v in model.variables}
    assert tuple(model.output_shape[1:]) == model.image_shape

    # Layer-wise pretraining: every block's loss falls.
    if model.num_blocks:
        histories = model.pretrain(x, epochs=pretrain_epochs, batch_size=64, verbose=0,
                                   validation_data=x_test)
        assert len(histories) == model.num_blocks
        for h in histories:
            assert h.history["loss"][-1] < h.history["loss"][0]
            assert len(h.history["val_loss"]) == pretrain_epochs

    # End-to-end training as declared.
    if model.can_train_end_to_end():
        model.compile()
        h = model.fit(x, epochs=2, batch_size=64, verbose=0)
        assert np.isfinite(h.history["loss"]).all() and h.history["loss"][1] < h.history["loss"][0]
    else:
        with pytest.raises(ValueError, match="block by block"):
            model.fit(x, epochs=1, verbose=0)

    # The classifier: the encoder's very weights under a fresh head, above a floor.
    classifier = model.classifier(10, head_units=64, learning_rate=finetune_learning_rate)
    encoder_ids = {id(v) for v in model.encoder.variables}
    assert encoder_ids <= {id(v) for v in classifier.variables}
    classifier.fit(x, y, epochs=finetune_epochs, batch_size=32, verbose=0)
    _, accuracy = classifier.evaluate(x_test, y_test, verbose=0)
    assert accuracy > accuracy_floor, accuracy
    print(f"{model.name}: test accuracy {accuracy:.3f} after {finetune_epochs} epochs")
    sample = x_test[:16]

    # Config and `.keras` round trips.
    config = model.get_config()
    assert type(model).from_config(config).get_config() == config
    assert set(config) == {*inspect.signature(type(model)).parameters} - {"kwargs"} | {"trainable"}
    if model.can_train_end_to_end():  # saved compiled: loaded compiled, optimizer included
        assert model.compiled
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert type(loaded) is type(model) and loaded.get_config() == config
    assert loaded.compiled == model.compiled
    np.testing.assert_allclose(loaded.predict(sample, verbose=0), model.predict(sample, verbose=0),
                               atol=1e-6)
    np.testing.assert_allclose(loaded.encoder.predict(sample, verbose=0),
                               model.encoder.predict(sample, verbose=0), atol=1e-6)

    # The export round trip: TensorFlow's SavedModel, written from any backend (on JAX by a
    # TensorFlow subprocess), read by TensorFlow alone, equal to this model's outputs.
    path = model.export(tmp_path / "export", check_sample=sample)
    manifest = export_lib.load_manifest(path)
    assert manifest["zoo_model"] == models.model_record(model)
    assert manifest["export_check"]["reconstruct_max_abs_diff"] <= 1e-4
    assert type(models.from_preset(path)) is type(model)
    preset = models.from_preset(path)
    np.testing.assert_allclose(preset.predict(sample, verbose=0), model.predict(sample, verbose=0),
                               atol=1e-5)
    if keras.backend.backend() == "tensorflow":
        reconstruct = export_lib.load_reconstructor(path)
    else:
        import tensorflow as tf

        reloaded = tf.saved_model.load(str(path))  # (kept: its functions need it alive)
        reconstruct = reloaded.reconstruct
    np.testing.assert_allclose(np.asarray(reconstruct(sample)), model.predict(sample, verbose=0),
                               atol=1e-5)
    return accuracy
    path = model.export(tmp_path / "export", check_sample=sample)
    manifest = export_lib.load_manifest(path)
    assert manifest["zoo_model"] == models.model_record(model)
    assert type(models.from_preset(path)) is type(model)
    preset = models.from_preset(path)
    np.testing.assert_allclose(preset.predict(sample, verbose=0), model.predict(sample, verbose=0),
                               atol=1e-5)
    reconstruct = export_lib.load_reconstructor(path)
    np.testing.assert_allclose(np.asarray(reconstruct(sample)), model.predict(sample, verbose=0),
                               atol=1e-5)
    return accuracy
