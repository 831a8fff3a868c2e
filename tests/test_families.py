"""Every zoo family: one training step through the shared loop and an export round-trip per
registered name; family-specific behaviour (learned sigma, VAE terms, conv shapes)."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from sdae_tf import zoo
from sdae_tf.data import Splits
from sdae_tf.hub import export as export_lib
from sdae_tf.layers import LearnedGaussianNoise
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import training
from sdae_tf.train import stages as stages_lib
from sdae_tf.zoo import REGISTRY, ConvAutoencoder, ConvStack, LearnedSigmaStack, VariationalStack
from sdae_tf.zoo.losses import summed_binary_crossentropy

from .conftest import REPO
from .layer_round_trip import assert_config_round_trip, assert_keras_file_round_trip

SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3), "cub200": (128, 128, 3),
          "photos64": (64, 64, 3)}
# Photo-crop entries (64x64x3; the residual one is the zoo's costliest) are not trained here:
# flags/experiments/beyond_resolution.flags' smoke run trains both their families in the
# default run, and tests/test_config.py builds every entry at its dataset's shape.
SKIPPED_DATASETS = {"photos64"}
RECIPES = REPO / "flags" / "models"


def _random_splits(shape, n=16, classes=10, seed=0):
    rng = np.random.default_rng(seed)

    def x():
        return rng.uniform(size=(n, *shape)).astype("float32")

    def y():
        return rng.integers(0, classes, size=n).astype("int64")

    return Splits("random", x(), y(), x(), y(), x(), y(), num_classes=classes)


def _family_tested():
    from tests.test_models import FAMILIES

    return {(REGISTRY.get(n).build, REGISTRY.get(n).layerwise_pretraining, REGISTRY.get(n).dataset)
            for n in FAMILIES}


FAMILY_TESTED = _family_tested()


def _one_per_family(names):
    """The default run trains one entry of each (family, pretraining, dataset), a noisy one
    with the fewest hyperparameters if there is one; the entries that differ from it only in
    hyperparameters run in the slow tests."""
    def plainest_noisy_first(name):
        hparams = REGISTRY.get(name).hparams
        return hparams.get("noise_type") == "none", len(hparams), name

    # The MNIST entries of the families `tests/test_models.py` runs through the shared family
    # test on real digits (training, fine-tuning, export) need not run here again by default;
    # an entry with its own recipe (flags/models/NAME.flags) not at all: the default run's
    # `test_flagfile_smoke_run` trains, fine-tunes, exports and reloads it through this loop
    # at its own hyperparameters.
    seen, params = set(FAMILY_TESTED), []
    for name in sorted(names, key=plainest_noisy_first):
        entry = REGISTRY.get(name)
        if entry.dataset in SKIPPED_DATASETS:
            continue
        key = (entry.build, entry.layerwise_pretraining, entry.dataset)
        if key not in seen:
            params.append(name)
        elif not (RECIPES / f"{name}.flags").exists():
            params.append(pytest.param(name, marks=pytest.mark.slow))
        seen.add(key)
    return params


@pytest.mark.parametrize("name", _one_per_family(REGISTRY.names()))
def test_every_zoo_model_trains_and_exports(name, tmp_path):
    entry = REGISTRY.get(name)
    data = _random_splits(SHAPES[entry.dataset])
    keras.utils.set_random_seed(0)
    stack = zoo.build(name, data.input_shape, seed=0)
    cfg = config_lib.TrainConfig(model=name, pretrain_epochs=1, finetune_epochs=1, batch_size=8,
                               head_units=16, verbose=0)
    # Shapes and plumbing on random data (every entry, every dataset's shape); what each family
    # learns on real digits is `tests/family_test.py`'s (floors on MNIST).
    before = [np.array(w) for w in stack.encoder.get_weights()]
    if entry.layerwise_pretraining:
        records = stages_lib.pretrain_layerwise(stack, data, stages_lib.Stage.pretraining(cfg))
        assert [r["block"] for r in records] == list(range(1, stack.num_blocks + 1))
    _, record = stages_lib.finetune(stack, data, stages_lib.Stage.finetuning(cfg), head_units=16)
    assert len(record["history"]["loss"]) == 1
    after = stack.encoder.get_weights()
    assert all(b.shape == a.shape for b, a in zip(before, after, strict=True))
    assert not before or any(np.any(b != a) for b, a in zip(before, after, strict=True))
    path = export_lib.export_encoder(stack.encoder, tmp_path / name, {"model": name})
    x = data.x_test[:3]
    np.testing.assert_allclose(np.asarray(export_lib.load_encoder(path)(x)),
                               np.asarray(stack.encoder(x, training=False)), atol=1e-5)
    assert export_lib.load_manifest(path)["embedding_size"] == stack.embedding_size


def test_overrides_a_family_does_not_take_are_named():
    with pytest.raises(ValueError, match="cdae_mnist .* does not take hidden_units"):
        zoo.build("cdae_mnist", (28, 28, 1), hidden_units=(10,))
    with pytest.raises(ValueError, match="does not take lambdas"):
        zoo.build("sdae_mnist", (28, 28, 1), lambdas=(0.1, 0.1))


# Conv ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, shape, code",
    [("cdae_mnist", (28, 28, 1), (7, 7, 16)), ("cae_cifar10", (32, 32, 3), (8, 8, 16)),
     ("cdae_cub200", (128, 128, 3), (8, 8, 16))],
)
def test_conv_shapes(name, shape, code):
    model = zoo.build(name, shape)
    assert model.encoder.output_shape[1:] == code
    assert model.decoder.output_shape[1:] == shape
    assert model.autoencoder().output_shape[1:] == shape
    convs = [ly for m in (model.encoder, model.decoder) for ly in m.layers
             if isinstance(ly, keras.layers.Conv2D)]
    assert len(convs) == 8
    assert not any(isinstance(ly, keras.layers.Conv2DTranspose)
                   for ly in model.decoder.layers)
    assert model.embedding_size == code[0] * code[1] * code[2]


def test_conv_bad_shapes():
    with pytest.raises(ValueError, match="divisible by 2\\*\\*downsample=4"):
        ConvAutoencoder((30, 30, 1), downsample=2)
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        ConvAutoencoder((784,))


def test_conv_stack_shapes_and_shared_layers():
    stack = zoo.build("scdae_mnist", (28, 28, 1), seed=0)
    assert stack.num_blocks == 2
    assert stack.encoder.output_shape[1:] == (7, 7, 16) and stack.embedding_size == 784
    assert [stack.pretrain_model(k).input_shape[1:] for k in range(2)] == [(28, 28, 1),
                                                                          (14, 14, 16)]
    assert [stack.pretrain_model(k).output_shape[1:] for k in range(2)] == [(28, 28, 1),
                                                                           (14, 14, 16)]
    assert stack.features_before(1).output_shape[1:] == (14, 14, 16)
    assert stack.decoder.output_shape[1:] == (28, 28, 1)
    # Block 1's pretraining model trains the very layers the encoder is made of.
    encoder_ids = {id(w) for w in stack.encoder.weights}
    assert {id(w) for w in stack.encoder_blocks[0].weights} <= encoder_ids
    assert stack.describe()["code_shape"] == [7, 7, 16]


def test_conv_stack_bad_arguments():
    with pytest.raises(ValueError, match="divisible by 2\\*\\*len\\(blocks\\)=4"):
        ConvStack((30, 30, 1))
    with pytest.raises(ValueError, match="mid_filters, out_filters, kernel_size"):
        ConvStack((28, 28, 1), blocks=((8, 16),))
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        ConvStack((784,))


def test_conv_stack_learns_to_reconstruct_under_mse(digits):
    # The report's Table 4 recipe: mean squared error, Adam 5e-3. The stack's block (a
    # one-block stack here, for speed) must leave the mean image's error well behind
    # (ConvAutoencoder's single block stays there on MNIST).
    keras.utils.set_random_seed(0)
    stack = ConvStack(digits.input_shape, blocks=((8, 16, 7),), noise_type="none",
                      noise_level=0.0, loss="mean_squared_error", seed=0)
    cfg = config_lib.TrainConfig(model="scae_mnist", pretrain_epochs=6, batch_size=32,
                               pretrain_learning_rate=5e-3, verbose=0)
    (record,) = stages_lib.pretrain_layerwise(stack, digits, stages_lib.Stage.pretraining(cfg))
    x = digits.x_test
    mean_image_mse = float(np.mean((x - digits.x_train.mean(axis=0)) ** 2))
    recon_mse = float(np.mean((np.asarray(stack.autoencoder()(x)) - x) ** 2))
    assert recon_mse < 0.5 * mean_image_mse, (recon_mse, mean_image_mse)
    assert record["history"]["loss"][-1] < 0.5 * record["history"]["loss"][0]


def test_raw_pixels_is_the_head_alone(digits):
    pixels = zoo.build("pixels_mnist", digits.input_shape)
    x = digits.x_test[:4]
    np.testing.assert_array_equal(np.asarray(pixels.encoder(x)), x.reshape(4, -1))
    assert pixels.num_blocks == 0 and pixels.embedding_size == 64
    assert not pixels.encoder.weights  # every trained weight is the head's
    with pytest.raises(ValueError, match="no blocks to pretrain"):
        pixels.pretrain_model(0)
    with pytest.raises(ValueError, match="cannot train with noise_type='gaussian'"):
        zoo.check_request("pixels_mnist", noise_type="gaussian", noise_level=0.4)


def test_grayscale_is_for_colour_images_only():
    # The image families take the colorization pretext, on 3-channel images only; the
    # dense ones refuse it before anything is built.
    zoo.check_request("cdae_mnist", noise_type="grayscale", noise_level=1.0)
    with pytest.raises(ValueError, match=r"corrupts colour images; .* \(28, 28, 1\)"):
        zoo.build("cdae_mnist", (28, 28, 1), noise_type="grayscale", noise_level=1.0)
    family = zoo.build("cdae_mnist", (8, 8, 3), noise_type="grayscale", noise_level=1.0)
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 3)).astype("float32")
    noise = family.pretrain_model(0).get_layer("noise")
    grey = np.asarray(noise(x, training=True))
    np.testing.assert_allclose(grey[..., 0], grey[..., 1], atol=1e-6)
    with pytest.raises(ValueError, match="DenseStack.*cannot train with noise_type='grayscale'"):
        zoo.check_request("sdae_mnist", noise_type="grayscale", noise_level=1.0)


# VAE family ------------------------------------------------------------------------------

def _vae_terms(model, x):
    out = model(x, training=False)
    recon = float(np.mean(np.asarray(summed_binary_crossentropy(x, out))))
    return recon, float(sum(model.losses))


def test_vae_terms_are_finite_and_decrease(digits):
    keras.utils.set_random_seed(0)
    vae = VariationalStack(digits.input_shape, hidden_units=(64,), latent_units=(8,), seed=0)
    model = vae.pretrain_model(0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=vae.block_loss(0))
    before = _vae_terms(model, digits.x_val)
    model.fit(digits.x_train, digits.x_train, epochs=8, batch_size=64, verbose=0)
    after = _vae_terms(model, digits.x_val)
    assert all(np.isfinite(before + after))
    assert after[0] < before[0]  # reconstruction improves
    assert after[0] + after[1] < before[0] + before[1]  # so does the negative ELBO
    assert after[1] > 0
    assert vae.encoder.output_shape == (None, 8)
    assert vae.decoder.output_shape == (None, 8, 8, 1)


def test_sdvae_second_block_reads_first_means():
    sdvae = zoo.build("sdvae_mnist", (28, 28, 1))
    assert sdvae.num_blocks == 2 and sdvae.embedding_size == 20
    assert sdvae.features_before(1).output_shape == (None, 100)
    assert sdvae.pretrain_model(1).input_shape == (None, 100)
    dvae = zoo.build("dvae_mnist", (28, 28, 1))
    vae = zoo.build("vae_mnist", (28, 28, 1))
    assert dvae.block_loss(0) is vae.block_loss(0)  # the same reconstruction loss
    assert (dvae.noise_type, vae.noise_type) == ("gaussian", "none")


# Learned sigma ---------------------------------------------------------------------------

def _learned_block(digits, lam, ae_lr=1e-3, noise_lr=1e-2):
    keras.utils.set_random_seed(0)
    stack = LearnedSigmaStack(digits.input_shape, hidden_units=(32,), lambdas=(lam,),
                              floor=0.2, noise_learning_rate=noise_lr, seed=0)
    block = stack.pretrain_model(0)
    # Positional, as Keras' own `compile` is called (and benchmarks/perf.py calls it).
    block.compile(keras.optimizers.Adam(ae_lr), stack.block_loss(0))
    return block


def _snapshot(variables):
    return [np.array(v) for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, np.array(v)) for b, v in zip(before, variables, strict=True)]


@pytest.mark.parametrize("frozen", ["autoencoder", "noise"])
def test_learned_sigma_step_updates_only_what_each_loss_owns(digits, frozen):
    # With one optimizer's rate at 0, a step moves exactly the other loss's variables.
    block = _learned_block(digits, lam=0.05, ae_lr=0.0 if frozen == "autoencoder" else 1e-3,
                           noise_lr=0.0 if frozen == "noise" else 1e-2)
    ae, noise = block.autoencoder.trainable_variables, block.noise.trainable_variables
    assert ae and noise and not {id(v) for v in ae} & {id(v) for v in noise}
    ae_before, noise_before = _snapshot(ae), _snapshot(noise)
    block.fit(digits.x_train[:64], digits.x_train[:64], batch_size=64, epochs=1, verbose=0)
    if frozen == "autoencoder":
        assert not any(_changed(ae_before, ae)) and all(_changed(noise_before, noise))
    else:
        assert all(_changed(ae_before, ae)) and not any(_changed(noise_before, noise))


def test_learned_sigma_one_backward_pass_gives_each_loss_its_gradient(digits):
    # The step's single backward pass equals two separate ones: d(loss)/d(autoencoder) and
    # d(loss - lam * mean(sigma))/d(noise network), on the same noise draw.
    block = _learned_block(digits, lam=0.5)
    x = tf.constant(digits.x_train[:32])
    state = np.array(block.noise.seed_generator.state)
    grads, (loss, noise_loss, _) = block.gradients(x, x)
    by_variable = {id(v): g for v, g in zip(block.trainable_variables, grads, strict=True)}
    ae_grads = [by_variable[id(v)] for v in block.autoencoder.trainable_variables]
    noise_grads = [by_variable[id(v)] for v in block.noise.trainable_variables]
    block.noise.seed_generator.state.assign(state)  # the same eps again
    with tf.GradientTape(persistent=True) as tape:
        ref_loss, ref_noise_loss, _ = block._loss_terms(x, x, training=True)
    ref_ae = tape.gradient(ref_loss, block.autoencoder.trainable_variables)
    ref_noise = tape.gradient(ref_noise_loss, block.noise.trainable_variables)
    np.testing.assert_allclose(float(loss), float(ref_loss), rtol=1e-6)
    assert float(noise_loss) < float(loss)  # the reward is subtracted
    for got, want in zip([*ae_grads, *noise_grads], [*ref_ae, *ref_noise], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)
    loss_only = tape.gradient(ref_loss, block.noise.trainable_variables)  # without the reward
    assert not np.allclose(loss_only[-1], ref_noise[-1], rtol=1e-3)


def test_learned_sigma_follows_lambda(digits):
    # The reward pushes sigma up; without it the noise network lowers sigma to ease the task.
    sigmas = {}
    for lam in (0.0, 5.0):
        block = _learned_block(digits, lam)
        history = block.fit(digits.x_train, digits.x_train, batch_size=64, epochs=3,
                            validation_data=(digits.x_val, digits.x_val), verbose=0).history
        assert {"loss", "noise_loss", "sigma", "val_loss", "val_sigma"} <= set(history)
        sigmas[lam] = history["sigma"]
    assert sigmas[5.0][-1] > sigmas[5.0][0] and sigmas[0.0][-1] < sigmas[0.0][0]
    for values in sigmas.values():
        assert all(0.2 <= s <= 1.0 for s in values)
    metrics = block.evaluate(digits.x_val, digits.x_val, verbose=0, return_dict=True)
    assert np.isfinite(metrics["loss"]) and 0.2 <= metrics["sigma"] <= 1.0


def test_learned_noise_layer_bounds_and_serialization(tmp_path):
    layer = LearnedGaussianNoise(floor=0.4, seed=0)
    x = np.random.default_rng(0).normal(scale=50.0, size=(32, 20)).astype("float32")
    sigma = np.asarray(layer.sigma(x))
    assert sigma.shape == (32, 1) and (sigma >= 0.4).all() and (sigma <= 1.0).all()
    np.testing.assert_array_equal(layer(x), x)  # identity at inference
    noisy, s = layer(np.zeros((4000, 20), "float32"), training=True, return_sigma=True)
    assert abs(np.asarray(noisy).std() - float(np.mean(s))) < 0.02
    per = LearnedGaussianNoise(floor=0.1, per_component=True)
    assert np.asarray(per.sigma(x)).shape == (32, 20)
    assert_config_round_trip(layer)
    inputs = keras.Input((20,))
    model = keras.Model(inputs, keras.layers.Dense(3)(layer(inputs)))
    loaded = assert_keras_file_round_trip(model, x, tmp_path / "m.keras", LearnedGaussianNoise,
                                          atol=1e-5)
    np.testing.assert_allclose(loaded.layers[1].sigma(x), sigma, atol=1e-6)
    with pytest.raises(ValueError, match="floor=1.0"):
        LearnedGaussianNoise(floor=1.0)


def test_learned_sigma_through_the_loop(tmp_path):
    cfg = config_lib.replace(
        config_lib.TrainConfig(), model="sdae_learned_sigma_mnist", dataset="digits",
        hidden_units=(32, 16), pretrain_epochs=2, finetune_epochs=1, verbose=0,
        run_dir=str(tmp_path / "run"),
    )
    metrics = training.run(cfg)
    for block in metrics["pretrain"]:
        assert all(0.4 <= s <= 1.0 for s in block["history"]["sigma"])
        assert len(block["history"]["val_sigma"]) == 2
    assert metrics["architecture"]["noise"]["lambdas"] == [0.026, 0.016]
