import keras
import numpy as np
import pytest
import tensorflow as tf

from sdae_tf.optimizers import FusedAdam


def _variables(seed=0):
    rng = np.random.default_rng(seed)
    return [keras.Variable(rng.normal(size=shape).astype("float32"))
            for shape in [(6, 5), (5,), (3, 4, 2)]]


def _grads(step):
    rng = np.random.default_rng(100 + step)
    return [tf.constant(rng.normal(size=shape).astype("float32"))
            for shape in [(6, 5), (5,), (3, 4, 2)]]


@pytest.mark.parametrize("amsgrad", [False, True])
def test_fused_adam_matches_keras_adam(amsgrad, monkeypatch):
    # Same arithmetic as keras.optimizers.Adam (weights and both slots), under a learning-rate
    # schedule, over several steps; AMSGrad falls back to Keras' own update.
    schedule = keras.optimizers.schedules.CosineDecay(0.05, 10)
    keras_update = keras.optimizers.Adam.update_step
    fallbacks = []

    def counted(self, *args):
        fallbacks.append(type(self))
        return keras_update(self, *args)

    monkeypatch.setattr(keras.optimizers.Adam, "update_step", counted)
    pair = []
    for cls in (FusedAdam, keras.optimizers.Adam):
        variables = _variables()
        opt = cls(learning_rate=schedule, amsgrad=amsgrad)
        for step in range(5):
            opt.apply(_grads(step), variables)
        pair.append((variables, opt))
    assert (FusedAdam in fallbacks) == amsgrad  # the fused kernel unless AMSGrad
    (fused, fused_opt), (ref, ref_opt) = pair
    assert int(fused_opt.iterations) == 5
    for got, want in zip(fused, ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for got, want in zip(fused_opt.variables, ref_opt.variables, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    moved = [np.abs(v.numpy() - w.numpy()).max() for v, w in zip(fused, _variables(), strict=True)]
    assert min(moved) > 1e-3  # the steps did move every variable


def test_fused_adam_trains_inside_fit_and_saves(tmp_path):
    x = np.random.default_rng(0).random((64, 8)).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="sigmoid")])
    model.compile(FusedAdam(1e-2, beta_1=0.8), "binary_crossentropy")
    before = model.evaluate(x, x, verbose=0)
    model.fit(x, x, epochs=5, batch_size=16, verbose=0)
    assert model.evaluate(x, x, verbose=0) < before
    config = model.optimizer.get_config()
    assert FusedAdam.from_config(config).get_config() == config
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded.optimizer) is FusedAdam and loaded.optimizer.beta_1 == 0.8
    for got, want in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(got, want)


def test_pretraining_can_use_dec_keras_sgd_and_fine_tuning_stays_adam():
    """--pretrain_optimizer=sgd: SGD with momentum 0.9 (DEC-keras's autoencoder pretraining),
    for pretraining only; an unknown kind or a weight decay with SGD is refused."""
    from sdae_tf.runner.config import TrainConfig
    from sdae_tf.train import stages

    sgd = stages.make_optimizer(1.0, "constant", 0, kind="sgd")
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == 0.9
    assert float(sgd.learning_rate) == 1.0
    cfg = TrainConfig(pretrain_optimizer="sgd", pretrain_learning_rate=1.0)
    assert stages.Stage.pretraining(cfg).optimizer == "sgd"
    assert stages.Stage.finetuning(cfg).optimizer == "adam"
    with pytest.raises(ValueError, match="Unknown optimizer 'rmsprop'"):
        stages.make_optimizer(1e-3, "constant", 0, kind="rmsprop")
    with pytest.raises(ValueError, match="SGD takes none"):
        stages.make_optimizer(1e-3, "constant", 0, weight_decay=1e-7, kind="sgd")
    with pytest.raises(ValueError, match="Unknown learning-rate schedule 'linear'"):
        stages.make_optimizer(1e-3, "linear", 10)
    # The flags offer what the stages take (one list, in a module without Keras).
    from sdae_tf.runner import config_values

    assert config_values.choices_of("pretrain_optimizer") == ("adam", "sgd")
    assert config_values.choices_of("lr_schedule") == ("constant", "cosine")


def test_partitioned_optimizer_applies_each_part_its_own_optimizer(tmp_path):
    """Each variable moves by its own optimizer's rule (Adam's first step is the rate; SGD's
    is rate x gradient), the state of both is the one optimizer's `variables`, and it survives
    a weights file."""
    from sdae_tf.optimizers import PartitionedOptimizer

    def build():
        keras.utils.set_random_seed(0)
        head = keras.layers.Dense(1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), head])
        optimizer = PartitionedOptimizer(keras.optimizers.Adam(1e-3),
                                         [(keras.optimizers.SGD(0.1), head.trainable_variables)])
        model.compile(optimizer=optimizer, loss="mse")
        return model, head

    model, head = build()
    x, y = np.random.default_rng(0).normal(size=(16, 4)), np.ones((16, 1))
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, model(x))
    head_grads = tape.gradient(loss, head.trainable_variables)
    before = [np.array(v) for v in model.trainable_variables]
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    moved = [np.array(v) - b for v, b in zip(model.trainable_variables, before, strict=True)]
    np.testing.assert_allclose(np.abs(moved[0]).max(), 1e-3, rtol=1e-3)  # Adam's first step
    np.testing.assert_allclose(moved[2], -0.1 * np.array(head_grads[0]), rtol=1e-4, atol=1e-7)
    optimizer = model.optimizer
    assert len(optimizer.variables) > len(optimizer.default.variables) + 2  # both parts' state
    model.save_weights(tmp_path / "m.weights.h5")
    again, _ = build()
    again.optimizer.build(again.trainable_variables)
    again.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(again.optimizer.variables, optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    with pytest.raises(ValueError, match="variables it was built with"):
        optimizer.apply(head_grads, head.trainable_variables)


def test_partitioned_optimizer_reads_a_checkpoint_of_its_default_optimizer_alone(tmp_path):
    """A learned-sigma checkpoint from before the parts shared one optimizer holds the
    autoencoder's Adam alone: loaded into a `PartitionedOptimizer`, that state becomes its
    default optimizer's (the part's optimizer starts fresh)."""
    from sdae_tf.optimizers import PartitionedOptimizer

    x, y = np.random.default_rng(0).normal(size=(16, 4)), np.ones((16, 1))

    def build(partitioned):
        keras.utils.set_random_seed(0)
        head = keras.layers.Dense(1)
        # Before: the model's optimizer saw the default part alone (the head trained apart).
        head.trainable = partitioned
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), head])
        optimizer = keras.optimizers.Adam(1e-3)
        if partitioned:
            optimizer = PartitionedOptimizer(
                optimizer, [(keras.optimizers.SGD(0.1), head.trainable_variables)])
        model.compile(optimizer=optimizer, loss="mse")
        return model

    old = build(partitioned=False)
    old.fit(x, y, batch_size=8, epochs=1, verbose=0)
    old.save_weights(tmp_path / "old.weights.h5")
    new = build(partitioned=True)
    new.optimizer.build(new.trainable_variables)
    new.load_weights(tmp_path / "old.weights.h5")
    assert int(new.optimizer.default.iterations) == 2
    for a, b in zip(new.optimizer.default.variables, old.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    for a, b in zip(new.weights, old.weights, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    new.fit(x, y, batch_size=8, epochs=1, verbose=0)  # and trains on from there
    assert int(new.optimizer.default.iterations) == 4
