"""The scikit-learn interface: `SDAETransformer` in a Pipeline and a grid search, clone and
params, `from_pretrained`, and the scikit-learn estimator checks that apply."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sdae_tf.integrations.sklearn import SDAETransformer

TINY = dict(model="sdae_mnist", hidden_units=(64, 32), pretrain_epochs=10, batch_size=32,
            pretrain_learning_rate=1e-2)


@pytest.fixture(scope="module")
def digits_arrays(digits):
    return (digits.x_train[:800], digits.y_train[:800], digits.x_test[:300], digits.y_test[:300])


def test_pipeline_fits_and_scores_and_same_seed_same_embeddings(digits_arrays):
    x, y, xt, yt = digits_arrays
    pipe = Pipeline([("sdae", SDAETransformer(**TINY)),
                     ("clf", LogisticRegression(max_iter=2000))])
    score = pipe.fit(x, y).score(xt, yt)
    assert score > 0.8, score  # 8x8 digits, 32 pretrained features, linear classifier (0.90)
    emb = pipe[0].transform(xt)
    assert emb.shape == (300, 32) and emb.dtype == np.float32
    again = clone(pipe[0]).fit(x)
    np.testing.assert_allclose(again.transform(xt), emb, atol=1e-6)
    assert len(pipe[0].history_) == 2 and all("val_loss" in h for h in pipe[0].history_)
    assert pipe[0].model_.encoder is pipe[0].encoder_  # the public API's ZooModel
    with pytest.raises(ValueError, match="fitted on"):
        pipe[0].transform(xt[:, :4])  # images of another shape
    with pytest.raises(ValueError, match="expecting 64 features"):
        clone(pipe[0]).set_params(pretrain_epochs=1).fit(x.reshape(800, 64)).transform(
            xt.reshape(300, 64)[:, :10])  # flat rows of another width


def test_params_clone_and_grid_search_on_flat_rows(digits_arrays):
    x, y, _, _ = digits_arrays
    flat = x.reshape(len(x), -1)
    est = SDAETransformer(**{**TINY, "hidden_units": (16,), "pretrain_epochs": 1})
    assert est.get_params()["noise_level"] is None
    est.set_params(noise_level=0.3)
    assert clone(est).get_params() == est.get_params()
    search = GridSearchCV(Pipeline([("sdae", est), ("clf", LogisticRegression(max_iter=500))]),
                          {"sdae__noise_level": [0.2, 0.5]}, cv=2).fit(flat, y)
    assert search.best_params_["sdae__noise_level"] in (0.2, 0.5)
    assert search.best_estimator_[0].transform(flat[:3]).shape == (3, 16)


def test_bad_model_is_a_clear_error(digits_arrays):
    x = digits_arrays[0]
    with pytest.raises(ValueError, match="Unknown zoo model 'sdae_mnsit'"):
        SDAETransformer(model="sdae_mnsit").fit(x)
    with pytest.raises(ValueError, match="no unsupervised pretraining"):
        SDAETransformer(model="nopretrain_mnist", hidden_units=(8,)).fit(x)


def test_from_pretrained_wraps_a_shipped_encoder_without_training():
    from sdae_tf.data import load_dataset

    mnist = load_dataset("mnist", seed=0)
    est = SDAETransformer.from_pretrained("sdae_mnist")
    assert clone(est).get_params()["pretrained"] == "sdae_mnist"
    pipe = Pipeline([("sdae", est), ("clf", LogisticRegression(max_iter=1000))])
    score = pipe.fit(mnist.x_train[:2000], mnist.y_train[:2000]).score(
        mnist.x_test[:1000], mnist.y_test[:1000])
    assert score > 0.93, score
    with pytest.raises(ValueError, match="expects images of shape"):
        SDAETransformer.from_pretrained("sdae_mnist").fit(np.zeros((4, 8, 8, 1), "float32"))


# scikit-learn's checks that cannot apply, and why.
EXPECTED_FAILED = {
    "check_estimators_pickle": "no pickle in this project: fitted transformers hold Keras "
                               "models; save the encoder with Keras instead",
    "check_estimators_overwrite_params": "covered: fit changes no parameter (the check "
                                         "pickles to compare)",
    # Seen on a 2-core AMD EPYC with AVX2 + FMA only (passes with AVX-512): a float32 matmul
    # gives a row a ~1e-7 relative difference by its position in the batch, at the check's
    # rtol of 1e-7 (0.13446961 against 0.13446963).
    "check_methods_sample_order_invariance": "float32 encoder: rows agree to ~1e-7 relative "
                                             "whatever their order, not exactly",
}


@pytest.mark.slow
def test_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    est = SDAETransformer(model="sdae_mnist", hidden_units=(4,), pretrain_epochs=1,
                          recon_loss="mse", batch_size=16)
    results = check_estimator(est, expected_failed_checks=EXPECTED_FAILED, on_fail=None)
    failed = [r for r in results if r["status"] == "failed"]
    assert not failed, [(r["check_name"], str(r["exception"])[:300]) for r in failed]
    assert sum(r["status"] == "passed" for r in results) >= 30
