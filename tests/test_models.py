"""`sdae_tf.models`: every family through the shared family test (`family_test.py`) on real
MNIST digits, `get`'s errors, and presets loaded as trainable models."""

import keras
import numpy as np
import pytest

from sdae_tf import models
from sdae_tf.data import load_mnist
from tests.family_test import run_family_test

# One model of each family, small enough for the default run (real digits, a few epochs).
FAMILIES = {
    "sdae_mnist": {"hidden_units": (128, 64)},
    "cdae_mnist": {},
    "scdae_mnist": {},
    "vae_mnist": {"hidden_units": (128,), "latent_units": (16,)},
    "sdvae_mnist": {"hidden_units": (128, 64), "latent_units": (32, 16)},
    "sdae_learned_sigma_mnist": {"hidden_units": (128, 64)},
    "pixels_mnist": {},
    "mae_mnist": {"width": 64, "depth": 2, "decoder_width": 32, "decoder_depth": 1},
    "dvqvae_mnist": {},
    "resdae_mnist": {"blocks_per_stage": 1, "widths": (16, 32)},
    "kpdae_mnist": {},
}
# The report's conv stack fine-tunes at Adam 1e-3 (at 3e-3 its sigmoid codes stall near chance);
# its 8 epochs on 1024 digits reach 0.646 at the test's global seed 0 (0.887-0.895 under three
# unseeded orders): its floor is 0.6.
# The ViT of the masked autoencoder, data-hungry as ViTs are, fine-tunes on 1024 digits to 0.57
# here (8 epochs at 1e-3, after the family test's pretraining and end-to-end epochs; 0.51 after
# 5 at 3e-3): its floor is 0.5 (chance 0.1).
FINETUNE = {"scdae_mnist": {"finetune_epochs": 8, "finetune_learning_rate": 1e-3,
                            "accuracy_floor": 0.6},
            "mae_mnist": {"finetune_epochs": 8, "finetune_learning_rate": 1e-3,
                          "accuracy_floor": 0.5}}


@pytest.fixture(scope="module")
def mnist_small():
    data = load_mnist("mnist", validation_size=1000, seed=0)
    return data.x_train[:1024], data.y_train[:1024], data.x_test[:512], data.y_test[:512]


# The modern families' shared family test runs in the slow run (67, 46 and 24 s here: the
# ViT and the 32-layer residual network); the default run trains, exports and reloads them
# through their flagfiles' smoke runs and tests their layers.
SLOW_FAMILIES = {"mae_mnist", "resdae_mnist", "dvqvae_mnist", "kpdae_mnist"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_FAMILIES
                                  else n for n in sorted(FAMILIES)])
def test_every_family_passes_the_family_test(name, mnist_small, tmp_path):
    # Keras' own `fit` shuffles from the global seed: fixed here, or the test's numbers hang
    # on which tests ran before it in the worker (a two-epoch loss once failed to fall).
    keras.utils.set_random_seed(0)
    model = models.get(name, seed=0, **FAMILIES[name])
    run_family_test(model, mnist_small, tmp_path, **FINETUNE.get(name, {}))


def test_an_override_the_family_does_not_take_is_one_line_listing_those_it_does():
    with pytest.raises(ValueError, match=r"cdae_mnist .* does not take hidden_units\. "
                                         r"It takes: .*filters"):
        models.get("cdae_mnist", hidden_units=(10,))
    with pytest.raises(ValueError, match="Unknown zoo model 'nope'"):
        models.get("nope")


def test_pretrain_refuses_images_of_another_shape(mnist_small):
    model = models.get("sdae_mnist", hidden_units=(8,))
    with pytest.raises(ValueError, match=r"images of shape \(28, 28, 1\).*\(4, 8, 8, 1\)"):
        model.pretrain(np.zeros((4, 8, 8, 1), "float32"), epochs=1)


def test_pretrain_takes_a_tf_data_dataset_as_an_array(mnist_small):
    import tensorflow as tf

    x = mnist_small[0][:256]
    a = models.get("sdae_mnist", hidden_units=(16,), seed=3)
    b = models.get("sdae_mnist", hidden_units=(16,), seed=3)
    b.set_weights(a.get_weights())
    ha = a.pretrain(x, epochs=1, verbose=0)
    hb = b.pretrain(tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(50),
                    epochs=1, verbose=0)
    assert ha[0].history == hb[0].history
    np.testing.assert_array_equal(a.predict(x[:8], verbose=0), b.predict(x[:8], verbose=0))


@pytest.mark.parametrize("name", ["sdae_mnist", "cdae_mnist", "dvae_mnist"])
def test_a_preset_is_the_shipped_autoencoder_as_a_trainable_model(name, mnist_small):
    import sdae_tf

    x = mnist_small[2][:64]
    model = models.from_preset(name)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(sdae_tf.denoiser(name)(x)),
                               atol=1e-6)
    tuned = models.from_preset(name, weights="finetuned")
    served = np.asarray(sdae_tf.feature_extractor(name)(x))
    np.testing.assert_allclose(tuned.encoder.predict(x, verbose=0).reshape(served.shape), served,
                               atol=1e-6)
    assert model.trainable_weights and all(v.trainable for v in model.encoder.trainable_weights)


def test_from_preset_refuses_unknown_weights_and_names():
    with pytest.raises(ValueError, match="`weights` must be one of pretrained, finetuned"):
        models.from_preset("sdae_mnist", weights="best")
    with pytest.raises(FileNotFoundError, match="No exported model 'nope'"):
        models.from_preset("nope")


def test_init_from_takes_a_preset_name_and_a_keras_file(tmp_path):
    from sdae_tf.runner import config as config_lib
    from sdae_tf.runner import training

    base = dict(model="sdae_mnist", quick=True, pretrain_epochs=1, finetune_epochs=1,
                verbose=0)
    preset = models.from_preset("sdae_mnist")
    metrics = training.run(config_lib.TrainConfig(**base, init_from="sdae_mnist",
                                                run_dir=str(tmp_path / "from_preset"),
                                                export_dir=str(tmp_path / "export")))
    assert metrics["init_from"].endswith("sdae_mnist") and "pretrain" in metrics
    # The export's denoiser is the preset's autoencoder, untouched by fine-tuning.
    x = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype("float32")
    again = models.from_preset(tmp_path / "export")
    np.testing.assert_allclose(again.predict(x, verbose=0), preset.predict(x, verbose=0),
                               atol=1e-6)
    small = models.get("sdae_mnist", hidden_units=(32,), seed=0)
    small.save(tmp_path / "small.keras")
    cfg = config_lib.TrainConfig(**base, model_config={"hidden_units": (32,)},
                               init_from=str(tmp_path / "small.keras"),
                               run_dir=str(tmp_path / "from_keras"))
    assert training.run(cfg)["init_from"].endswith("small.keras")
    with pytest.raises(ValueError, match="the weights do not fit sdae_mnist"):
        training.run(config_lib.TrainConfig(**base, init_from=str(tmp_path / "small.keras"),
                                          run_dir=str(tmp_path / "misfit")))
    with pytest.raises(FileNotFoundError, match="--init_from nope: not a run directory"):
        training.run(config_lib.TrainConfig(**base, init_from="nope"))


def test_layerwise_then_end_to_end_from_the_cli_config(tmp_path):
    from sdae_tf.runner import config as config_lib
    from sdae_tf.runner import training

    cfg = config_lib.TrainConfig(model="sdae_mnist", model_config={"hidden_units": (32, 16)},
                                 train_examples=512,
                               pretrain_epochs=1, finetune_epochs=0, verbose=0,
                               pretrain_mode="layerwise_then_end_to_end", end_to_end_epochs=2,
                               run_dir=str(tmp_path / "run"))
    metrics = training.run(cfg)
    blocks = [r["block"] for r in metrics["pretrain"]]
    assert blocks == [1, 2, "end_to_end"]
    assert len(metrics["pretrain"][-1]["history"]["loss"]) == 2
    with pytest.raises(ValueError, match="needs `end_to_end_epochs` >= 1"):
        training.run(config_lib.TrainConfig(pretrain_mode="layerwise_then_end_to_end"))
    with pytest.raises(ValueError, match="is for `pretrain_mode=layerwise_then_end_to_end`"):
        training.run(config_lib.TrainConfig(end_to_end_epochs=3))
    with pytest.raises(ValueError, match="sdvae_mnist .* has no end-to-end"):
        training.run(config_lib.TrainConfig(model="sdvae_mnist", end_to_end_epochs=3,
                                          pretrain_mode="layerwise_then_end_to_end"))


def test_segmenter_shares_the_encoder_and_learns_digit_masks(mnist_small):
    x, _, x_test, _ = mnist_small
    masks, masks_test = (x > 0.25).astype("float32"), (x_test > 0.25).astype("float32")
    model = models.get("cdae_mnist", seed=0)
    seg = model.segmenter(learning_rate=3e-3)
    assert seg.output_shape == (None, 28, 28, 1)
    assert {id(v) for v in model.encoder.variables} <= {id(v) for v in seg.variables}
    seg.fit(x, masks, epochs=3, batch_size=64, verbose=0)
    _, pixel_accuracy, iou = seg.evaluate(x_test, masks_test, verbose=0)
    assert iou > 0.6 and pixel_accuracy > 0.9, (iou, pixel_accuracy)
    before = [w.copy() for w in model.encoder.get_weights()]
    frozen = model.segmenter(train_encoder=False)
    frozen.fit(x[:128], masks[:128], epochs=1, verbose=0)
    for a, b in zip(before, model.encoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="Segmentation needs a spatial code.*sdae_mnist"):
        models.get("sdae_mnist", hidden_units=(8,)).segmenter()
