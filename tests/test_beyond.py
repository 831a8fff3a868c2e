"""The training options of the "beyond the report" experiments (issue 16): end-to-end
pretraining, noise schedules, per-block noise, hidden dropout, the unsupervised metrics, the
interpolation figure and the DEC stack."""

import json

import keras
import numpy as np
import pytest

from sdae_tf import zoo
from sdae_tf.evaluation import clustering, unsupervised
from sdae_tf.layers import DropoutNoise, GaussianNoise, ZeroMaskingNoise
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import training
from sdae_tf.runner import validation as validation_lib
from sdae_tf.train import noise_schedule


def _cfg(tmp_path, **kw):
    base = dict(model="sdae_mnist", dataset="digits", hidden_units=(24, 12), pretrain_epochs=2,
                finetune_epochs=1, verbose=0, run_dir=str(tmp_path / "run"))
    return config_lib.replace(config_lib.TrainConfig(), **{**base, **kw})


def test_end_to_end_pretraining_trains_the_whole_stack_for_the_same_epochs(tmp_path):
    metrics = training.run(_cfg(tmp_path, pretrain_mode="end_to_end", unsupervised_metrics=True))
    (record,) = metrics["pretrain"]
    assert record["block"] == "end_to_end" and len(record["history"]["loss"]) == 2 * 2
    assert record["history"]["loss"][-1] < record["history"]["loss"][0]
    # Fine-tuned (1 epoch: a plumbing test; floors on real data are the family test's) and
    # scored on the whole test split, example by example.
    n_test = metrics["sizes"]["test"]
    assert abs(metrics["test_accuracy"] * n_test - round(metrics["test_accuracy"] * n_test)) < 1e-3
    assert len(metrics["finetune"]["history"]["loss"]) == 1
    with pytest.raises(ValueError, match="end_to_end: sdvae_mnist .* has no end-to-end"):
        training.run(config_lib.TrainConfig(model="sdvae_mnist", pretrain_mode="end_to_end",
                                            run_dir=str(tmp_path / "refused")))
    assert not (tmp_path / "refused").exists()


def test_end_to_end_model_has_one_noise_layer_and_every_dense_layer():
    stack = zoo.build("sdae_mnist", (8, 8, 1), hidden_units=(16, 8), seed=0)
    model = stack.end_to_end_model()
    noise = [ly for ly in model.layers if isinstance(ly, GaussianNoise)]
    dense = [ly for ly in model.layers if isinstance(ly, keras.layers.Dense)]
    assert len(noise) == 1 and len(dense) == 4
    assert model.output_shape == (None, 8, 8, 1)


def test_ramps_average_the_level_and_reverse_each_other():
    for schedule in ("ramp_up", "ramp_down"):
        levels = [noise_schedule.level_at(schedule, 0.4, e, 5) for e in range(5)]
        assert np.mean(levels) == pytest.approx(0.4)
    up = [noise_schedule.level_at("ramp_up", 0.4, e, 4) for e in range(4)]
    down = [noise_schedule.level_at("ramp_down", 0.4, e, 4) for e in range(4)]
    assert up == sorted(up) and down == up[::-1] and up[0] == pytest.approx(0.1)
    assert noise_schedule.level_at("constant", 0.4, 3, 4) == 0.4
    with pytest.raises(ValueError, match="Unknown noise schedule 'zigzag'"):
        noise_schedule.level_at("zigzag", 0.4, 0, 4)


def test_noise_schedule_callback_sets_each_epoch_and_restores_the_level():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((20,))
    noise = GaussianNoise(0.4, seed=0)
    model = keras.Model(inputs, keras.layers.Dense(20)(noise(inputs)))
    model.compile("adam", "mse")
    x = np.random.default_rng(0).random((64, 20)).astype("float32")
    callback = noise_schedule.NoiseSchedule("ramp_up", 3)
    losses = model.fit(x, x, epochs=3, batch_size=32, verbose=0,
                       callbacks=[callback]).history["loss"]
    applied = [levels[noise.name] for _, levels in callback.levels]
    np.testing.assert_allclose(applied, [0.8 / 6, 0.4, 0.8 * 5 / 6], rtol=1e-6)
    assert noise.stddev == 0.4  # the model keeps its configured level
    assert losses[0] < losses[2]  # far less noise in the first epoch than in the last


def test_per_block_noise_and_hidden_dropout_in_the_block_models():
    stack = zoo.build("sdae_mnist", (8, 8, 1), hidden_units=(16, 8), seed=0,
                      block_noise_types=("masking", "gaussian"), block_noise_levels=(0.25, 0.3),
                      hidden_dropout=0.2)
    first, second = stack.pretrain_model(0), stack.pretrain_model(1)
    assert [type(ly) for ly in first.layers if isinstance(ly, (ZeroMaskingNoise, GaussianNoise,
                                                               DropoutNoise))] \
        == [ZeroMaskingNoise, DropoutNoise]
    gauss = [ly for ly in second.layers if isinstance(ly, GaussianNoise)]
    assert len(gauss) == 1 and gauss[0].stddev == 0.3
    noise = stack.describe()["noise"]
    assert noise["per_block"][0] == {"type": "masking", "level": 0.25}
    assert noise["hidden_dropout"] == 0.2
    with pytest.raises(ValueError, match="block_noise_levels` needs one value per block"):
        zoo.build("sdae_mnist", (8, 8, 1), hidden_units=(16, 8), block_noise_levels=(0.1,))
    with pytest.raises(ValueError, match="does not take block_noise_types"):
        zoo.build("cdae_mnist", (28, 28, 1), block_noise_types=("gaussian",))


def test_cluster_accuracy_matches_clusters_to_classes():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    assert clustering.cluster_accuracy(labels, np.array([2, 2, 0, 0, 1, 1, 1])) == 1.0
    assert clustering.cluster_accuracy(labels, np.array([1, 1, 1, 1, 0, 0, 2])) \
        == pytest.approx(4 / 7)
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 10, (3, 5))
    y = rng.integers(0, 3, 300)
    codes = centers[y] + rng.normal(0, 0.1, (300, 5))
    assert unsupervised.kmeans_accuracy(codes, y, 3, seed=0) == 1.0


def test_unsupervised_metrics_of_a_run(tmp_path, digits):
    settings = dict(unsupervised_metrics=True, finetune_epochs=0, hidden_units=(64,),
                    pretrain_epochs=10, pretrain_learning_rate=1e-2, batch_size=32)
    metrics = training.run(_cfg(tmp_path, **settings))
    record = metrics["unsupervised"]
    assert record["dataset"] == "digits" and record["examples"] == len(digits.x_test)
    assert record["kmeans_accuracy"] > 0.5  # 10 classes: chance is about 0.1 (measured 0.70)
    # The frozen codes, linearly probed, beat their own clustering (measured 0.956 and 0.697).
    assert record["probe_examples"] == len(digits.x_train)
    assert record["linear_probe_accuracy"] > max(0.8, record["kmeans_accuracy"])
    # It denoises: Gaussian-0.4 inputs at 10.9 dB come out at 15.1 dB.
    assert record["psnr_denoised_db"] > record["psnr_noisy_input_db"] + 2.0
    assert record["psnr_reconstruction_db"] > record["psnr_denoised_db"]
    again = training.run(_cfg(tmp_path, **settings, run_dir=str(tmp_path / "run2")))
    assert again["unsupervised"] == record  # same seed, same numbers


def test_interpolation_figure_and_its_measure(tmp_path):
    metrics = training.run(_cfg(tmp_path, figures=("interpolation",), finetune_epochs=0))
    record = metrics["interpolation"]
    for kind in ("same_class", "different_class"):
        for key in ("decoded_midpoint_in_end_classes", "pixel_midpoint_in_end_classes"):
            assert 0.0 <= record[kind][key] <= 1.0
    # The judge: pixel midpoints of two images of one class stay in it more often than those
    # of two classes land in either.
    assert record["same_class"]["pixel_midpoint_in_end_classes"] > 0.5
    assert (tmp_path / "run" / "interpolation.png").stat().st_size > 5000
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["interpolation"] == record
    with pytest.raises(ValueError, match="cannot draw interpolation"):
        validation_lib.check_config(config_lib.TrainConfig(model="cdae_mnist",
                                                   figures=("interpolation",)))


def test_dec_stack_has_a_linear_code():
    stack = zoo.build("sdae_dec_mnist", (28, 28, 1), seed=0)
    assert stack.hidden_units == (500, 500, 2000, 10) and stack.embedding_size == 10
    assert stack.describe()["code_activation"] == "linear"
    assert stack.encoder.layers[-1].activation is keras.activations.linear
    codes = np.asarray(stack.encoder(np.random.default_rng(0).random((64, 28, 28, 1))))
    assert (codes < 0).any()  # unbounded, unlike the ReLU layers below it
