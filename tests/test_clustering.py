"""Deep clustering as a task (DEC, IDEC): the clustering layer, the scores, the shared task
test of the `Clusterer` (shapes, round trips, same seed same numbers, resume, refusals) and
`--task=clustering` through the runner."""

import json

import keras
import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from sdae_tf import zoo
from sdae_tf.evaluation import clustering
from sdae_tf.layers import ClusteringLayer
from sdae_tf.runner import config as config_lib
from sdae_tf.runner import training
from sdae_tf.zoo import clusterer as clusterer_lib

from .layer_round_trip import assert_config_round_trip


def test_clustering_layer_is_students_t_soft_assignment():
    layer = ClusteringLayer(3, alpha=2.0)
    z = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    layer.build(z.shape)
    centres = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    layer.set_centres(centres)
    q = np.asarray(layer(z))
    d = ((z[:, None, :] - centres[None]) ** 2).sum(-1)
    want = (1 + d / 2.0) ** (-1.5)
    np.testing.assert_allclose(q, want / want.sum(1, keepdims=True), rtol=1e-5)
    assert q.shape == (5, 3) and np.allclose(q.sum(1), 1)
    assert (q.argmax(1) == d.argmin(1)).all()  # the nearest centre has the largest share
    assert assert_config_round_trip(layer)["alpha"] == 2.0
    for bad, match in (({"n_clusters": 1}, "n_clusters"), ({"n_clusters": 3, "alpha": 0},
                                                            "alpha")):
        with pytest.raises(ValueError, match=match):
            ClusteringLayer(**bad)


def test_target_distribution_sharpens_and_balances():
    q = np.array([[0.6, 0.4], [0.5, 0.5], [0.9, 0.1]])
    p = clusterer_lib.target_distribution(q)
    weight = q ** 2 / q.sum(0)
    np.testing.assert_allclose(p, weight / weight.sum(1, keepdims=True), rtol=1e-6)
    assert np.allclose(p.sum(1), 1) and p[2, 0] > q[2, 0]  # confident rows sharpened
    uniform = np.full((4, 2), 0.5)
    np.testing.assert_allclose(clusterer_lib.target_distribution(uniform), uniform)


def test_scores_are_invariant_to_renaming_the_clusters():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    renamed = np.array([2, 0, 3, 1])[labels]
    assert clustering.scores(labels, renamed) == {"accuracy": 1.0, "nmi": 1.0, "ari": 1.0}
    noisy = np.where(rng.random(200) < 0.3, rng.integers(0, 4, 200), renamed)
    got = clustering.scores(labels, noisy)
    assert got["nmi"] == pytest.approx(sk_metrics.normalized_mutual_info_score(
        labels, noisy, average_method="arithmetic"))
    assert got["ari"] == pytest.approx(sk_metrics.adjusted_rand_score(labels, noisy))
    assert 0.6 < got["accuracy"] < 1
    with pytest.raises(ValueError, match="one length"):
        clustering.cluster_accuracy([0, 1], [0])


@pytest.fixture(scope="module")
def pretrained(digits):
    """A small DEC-style stack (64-32-10, linear code) trained end to end on the digits."""
    keras.utils.set_random_seed(0)
    model = zoo.build("ae_dec_mnist", digits.input_shape, hidden_units=(64, 32, 10), seed=0)
    model.fit(digits.x_train, epochs=15, batch_size=64, verbose=0)
    return model, model.get_weights()


def _fresh(pretrained, **kwargs):
    model, weights = pretrained
    model.set_weights(weights)
    return model.clusterer(10, **kwargs)


FIT = dict(batch_size=64, max_batches=80, update_interval=20, tol=0.0, seed=0, verbose=0)


def test_dec_clusters_the_digits(pretrained, digits, tmp_path):
    x, y = digits.x_train, digits.y_train
    model = _fresh(pretrained)
    history = model.fit(x, y, validation_data=(digits.x_test, digits.y_test), **FIT)
    record = history.record
    ids, q = model.predict(x), model.predict_proba(x)
    assert ids.shape == (len(x),) and q.shape == (len(x), 10) and np.allclose(q.sum(1), 1)
    assert history.history["batch"] == list(range(0, 81, 20))
    assert record["batches"] == 80 and record["stopped"] == "budget"
    # k-means on the pretrained codes is far above chance, and DEC keeps it there
    assert record["kmeans"]["accuracy"] > 0.5 and record["val_kmeans"]["accuracy"] > 0.5
    assert record["final"]["accuracy"] > record["kmeans"]["accuracy"] - 0.05
    assert record["final"] == clustering.scores(y, ids)
    # same seed, same numbers
    again = _fresh(pretrained).fit(x, y, **FIT)
    assert again.history["accuracy"] == history.history["accuracy"]
    # a .keras round trip in safe mode: same class, same assignment, compiled
    path = tmp_path / "dec.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is clusterer_lib.Clusterer and loaded.optimizer is not None
    np.testing.assert_allclose(loaded.predict_proba(x[:50]), q[:50], atol=1e-6)
    assert json.dumps(loaded.get_config(), default=list) == \
        json.dumps(model.get_config(), default=list)


def test_idec_trains_the_reconstruction_too(pretrained, digits, tmp_path):
    x, y = digits.x_train, digits.y_train
    model = _fresh(pretrained, reconstruction_weight=10.0)
    out = model(x[:4])
    assert set(out) == {"clusters", "reconstruction"} and out["reconstruction"].shape == \
        (4, *digits.input_shape)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    history = model.fit(x, y, **FIT)
    assert history.record["final"]["accuracy"] > 0.5
    assert model.predict(x[:7]).shape == (7,)
    path = tmp_path / "idec.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict_proba(x[:50]), model.predict_proba(x[:50]),
                               atol=1e-6)


def test_an_interrupted_fit_resumes_to_the_same_numbers(pretrained, digits, tmp_path,
                                                        monkeypatch):
    x, y = digits.x_train, digits.y_train
    whole = _fresh(pretrained).fit(x, y, **FIT)
    model = _fresh(pretrained)
    real, calls = type(model).train_on_batch, []

    def stop_at_50(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 50:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "train_on_batch", stop_at_50)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, checkpoint_dir=tmp_path / "ckpt", **FIT)
    monkeypatch.undo()
    assert (tmp_path / "ckpt" / "state.json").exists()
    resumed = _fresh(pretrained).fit(x, y, checkpoint_dir=tmp_path / "ckpt", **FIT)
    assert resumed.history == whole.history
    assert resumed.record == whole.record
    assert not list((tmp_path / "ckpt").iterdir())  # a finished fit leaves no checkpoint


def test_clusterer_refusals(pretrained, digits):
    model = _fresh(pretrained)
    x = digits.x_train
    for kwargs, match in (({"tol": 1.5}, "tol"), ({"batch_size": 10 ** 6}, "larger than"),
                          ({"max_batches": -1}, "max_batches")):
        with pytest.raises(ValueError, match=match):
            model.fit(x, **kwargs)
    with pytest.raises(ValueError, match="images of shape"):
        model.fit(x[:, :4])
    with pytest.raises(ValueError, match="labels for"):
        model.fit(x, digits.y_train[:3])
    conv = zoo.build("cdae_mnist", (28, 28, 1))
    with pytest.raises(ValueError, match="projection='flatten'"):
        conv.clusterer(10)
    flat = conv.clusterer(10, projection="flatten")
    assert flat.clustering_layer.centres.shape == (10, conv.embedding_size)
    projected = conv.clusterer(10, projection=8)
    assert projected.clustering_layer.centres.shape == (10, 8)
    with pytest.raises(ValueError, match="projection"):
        conv.clusterer(10, projection="pool")


def test_clustering_task_through_the_runner(tmp_path):
    common = dict(model="ae_dec_mnist", dataset="digits", model_config={"hidden_units": (32, 10)},
                  pretrain_mode="end_to_end", pretrain_epochs=2, batch_size=64, task="clustering",
                  cluster_max_batches=40, cluster_update_interval=20, cluster_batch_size=64,
                  verbose="0")
    pooled = training.run(config_lib.TrainConfig(**common, protocol="all_images",
                                                 run_dir=str(tmp_path / "all")))
    record = pooled["clustering"]
    assert record["protocol"] == "all_images" and record["method"] == "DEC"
    assert record["scored"] == "all 1797 images clustered" and "fit_scores" not in record
    assert set(record["scores"]) == {"kmeans", "dec"} and record["batches"] == 40
    assert 0.3 < record["scores"]["dec"]["accuracy"] <= 1
    split = training.run(config_lib.TrainConfig(**common, cluster_reconstruction_weight=10,
                                                run_dir=str(tmp_path / "split")))["clustering"]
    assert split["method"] == "IDEC" and set(split["scores"]) == {"kmeans", "idec"}
    assert split["scored"].startswith("the 360 test images")
    assert set(split["fit_scores"]) == {"kmeans", "idec"}
    with pytest.raises(ValueError, match="all_images.*not fine-tuning on classification"):
        config_lib.TrainConfig(model="sdae_mnist", protocol="all_images").validate()
    with pytest.raises(ValueError, match="cluster_projection"):
        config_lib.TrainConfig(task="clustering", cluster_projection="pool").validate()


def test_the_docs_clustering_table_is_the_ledgers():
    """docs/modern.md's clustering table is what benchmarks/clustering.py makes of the
    committed ledger, and benchmarks/results/clustering.md is too (rerun it with --docs)."""
    import importlib.util
    import pathlib

    repo = pathlib.Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("clustering_benchmark",
                                                  repo / "benchmarks" / "clustering.py")
    import sys

    sys.path.insert(0, str(repo / "benchmarks"))
    try:
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(repo / "benchmarks"))
    lines = bench.table(bench.summarise(bench.records()))
    text = (repo / "docs" / "modern.md").read_text()
    block = text[text.index(bench.BEGIN) + len(bench.BEGIN):text.index(bench.END)]
    assert block.strip().splitlines() == lines
    assert (repo / "benchmarks" / "results" / "clustering.md").read_text().splitlines() == lines
    # one row per cell of the flagfile, its seeds pooled (run or pending)
    import re

    cells = {(re.sub(r"_s\d+$", "", n.split("/")[0]), n.split("/")[1])
             for n in bench.cell_names()}
    rows = lines[2:lines.index("")]
    assert sorted(tuple(r.split(" | ")[:2]) for r in rows) == sorted(
        (f"| {c}", r) for c, r in cells)
