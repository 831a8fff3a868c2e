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
