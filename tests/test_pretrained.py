"""The shipped encoders in exported_models/ and the feature-extractor API: every shipped encoder
loads by name and by path (and with TensorFlow alone in a fresh process), its manifest agrees
with its SavedModel signature and its weights' checksums, and a linear probe on a fixed MNIST
subset stays above the floor its manifest states. The README's example runs as written."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import sdae_tf
from sdae_tf.cli import models as models_cli
from sdae_tf.data import load_dataset
from sdae_tf.evaluation import probe
from sdae_tf.hub import export as export_lib
from sdae_tf.hub import pretrained

from .conftest import REPO

SHIPPED = ["sdae_mnist", "sae_mnist", "cdae_mnist", "dvae_mnist", "sdae_learned_sigma_mnist",
           "mae_mnist"]
SHIPPED_DIR = REPO / "exported_models"


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", seed=0)


def test_every_shipped_model_is_listed_and_small():
    models = sdae_tf.list_models()
    assert sorted(models) == sorted(SHIPPED)
    assert sum(m["size_mb"] for m in models.values()) < 100
    text = models_cli.table(models)
    for name in SHIPPED:
        assert name in text and f"{models[name]['metrics']['test_accuracy']:.4f}" in text


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_manifest_matches_signature_and_checksums(name):
    path = SHIPPED_DIR / name
    manifest = export_lib.load_manifest(path)
    checked = export_lib.verify_checksums(path)
    assert set(checked) == set(export_lib.export_files(path))  # every file is recorded
    assert manifest["model"] == name and manifest["config"]["model"] == name
    assert manifest["metrics"]["test_accuracy"] > 0.97  # measured on the MNIST test set
    assert {"seed", "versions", "probe", "config"} <= set(manifest)
    loaded = tf.saved_model.load(str(path))
    sig = loaded.signatures["serving_default"]
    (spec,) = sig.structured_input_signature[1].values()
    assert spec.dtype == tf.float32 and tuple(spec.shape) == (None, *manifest["input"]["shape"])
    out = sig.structured_outputs[export_lib.OUTPUT_NAME]
    assert tuple(out.shape) == (None, *manifest["output_shape"])
    assert int(np.prod(manifest["output_shape"])) == manifest["embedding_size"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_probe_stays_above_its_floor(name, mnist):
    manifest = export_lib.load_manifest(SHIPPED_DIR / name)
    cfg, spec = manifest["config"], manifest["probe"]
    data = load_dataset("mnist", seed=cfg["data_seed"],
                        validation_size=cfg["validation_size"]) if cfg["data_seed"] else mnist
    n_train, n_test = spec["train_examples"], spec["test_examples"]
    encoder = sdae_tf.feature_extractor(name)
    acc = probe.encoder_probe_accuracy(encoder, data.x_train[:n_train], data.y_train[:n_train],
                                       data.x_test[:n_test], data.y_test[:n_test])
    assert acc >= spec["floor"], (name, acc, spec)
    assert acc == pytest.approx(spec["accuracy"], abs=0.005)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_loads_by_name_and_path_frozen_and_trainable(name, mnist):
    x = mnist.x_test[:16]
    by_name = sdae_tf.feature_extractor(name)
    by_path = sdae_tf.feature_extractor(SHIPPED_DIR / name)
    assert by_name.contract == by_path.contract
    assert by_name.contract.shape == (28, 28, 1) and by_name.contract.value_range == (0.0, 1.0)
    assert not by_name.trainable_weights and by_name.non_trainable_weights
    np.testing.assert_array_equal(np.asarray(by_name(x)), np.asarray(by_path(x)))
    tunable = sdae_tf.feature_extractor(name, trainable=True)
    assert tunable.trainable_weights
    np.testing.assert_allclose(np.asarray(tunable(x)), np.asarray(by_name(x)), atol=1e-5)


def test_shipped_encoders_load_with_tensorflow_alone(tmp_path, mnist):
    """A fresh process with sdae_tf unimportable: plain tf.saved_model.load of every shipped
    encoder gives what the feature extractor gives."""
    x = mnist.x_test[:8]
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import sys, numpy as np
        sys.modules["sdae_tf"] = None  # any import of sdae_tf fails
        import tensorflow as tf
        x = np.load({str(tmp_path / 'x.npy')!r})
        for name in {SHIPPED!r}:
            m = tf.saved_model.load({str(SHIPPED_DIR)!r} + "/" + name)
            np.save({str(tmp_path)!r} + f"/{{name}}.npy", m.serve(tf.constant(x)).numpy())
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": ""}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in SHIPPED:
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.npy"),
                                   np.asarray(sdae_tf.feature_extractor(name)(x)), atol=1e-6)


def test_unknown_name_lists_the_shipped_ones():
    with pytest.raises(FileNotFoundError, match="shipped: .*sdae_mnist"):
        sdae_tf.feature_extractor("sdae_mnsit")


def test_misuse_gives_clear_errors(mnist):
    encoder = sdae_tf.feature_extractor("sdae_mnist")
    x = mnist.x_test[:4]
    with pytest.raises(ValueError, match=r"reshape to \(-1, 28, 28, 1\)"):
        encoder(x.reshape(4, 784))
    with pytest.raises(ValueError, match="expects images of shape"):
        encoder(x[:, :14])
    with pytest.raises(ValueError, match="expects images of shape"):
        keras.Sequential([keras.Input((32, 32, 3)), encoder])
    # Eager calls: one line naming the problem, the 1/255 hint only where it fits.
    with pytest.raises(ValueError, match=r"values in \[0, 1\]; received values in "
                                         r"\[0, 255\] \(scale 0-255 images by 1/255\)"):
        encoder(x * 255.0)
    nan = x.copy()
    nan[0, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="received 1 NaN or infinite values of 3136") as info:
        encoder(nan)
    assert "1/255" not in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ValueError, match=r"received values in \[-1, 1\]$"):
        encoder(x * 2 - 1)
    with pytest.raises(TypeError, match="received dtype bool"):
        encoder(x > 0.5)
    # Documented cast: float64 and integer inputs in range are cast to float32.
    np.testing.assert_allclose(np.asarray(encoder(x.astype("float64"))), np.asarray(encoder(x)),
                               atol=1e-6)
    zeros = np.zeros((2, 28, 28, 1), "uint8")
    assert encoder(zeros).shape == (2, 1000)
    # Inside a compiled model the range check still fires.
    model = keras.Sequential([keras.Input((28, 28, 1)), encoder, keras.layers.Dense(10)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="values in"):
        model.predict(x * 255.0, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="received NaN or inf"):
        model.predict(nan, verbose=0)


def test_pretrained_encoder_config_and_keras_file_round_trip(tmp_path, mnist):
    encoder = sdae_tf.feature_extractor("dvae_mnist")
    clone = pretrained.PretrainedEncoder.from_config(encoder.get_config())
    assert clone.export_path == encoder.export_path and clone.contract == encoder.contract
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(3)(encoder(inputs)))
    model.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = mnist.x_test[:5]
    np.testing.assert_allclose(np.asarray(back(x)), np.asarray(model(x)), atol=1e-6)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_denoiser_removes_the_noise_it_was_trained_on(name, mnist):
    """Every shipped model carries its pretrained autoencoder: the `reconstruct` endpoint maps
    test digits with clipped Gaussian noise 0.4 to images of the same shape that are closer to
    the clean digits than the noisy input (PSNR, 200 digits, fixed noise)."""
    manifest = export_lib.load_manifest(SHIPPED_DIR / name)
    clean = mnist.x_test[:200]
    if "inpaint" in manifest.get("extra_endpoints", {}):  # the masked autoencoder
        _inpainter_fills_the_hidden_patches(name, clean)
        return
    layer = sdae_tf.denoiser(name)
    assert layer.noise == manifest["denoiser"]["noise"] == manifest["noise"]
    noisy = np.clip(clean + 0.4 * np.random.default_rng(0).standard_normal(clean.shape), 0, 1)
    out = np.asarray(layer(noisy.astype("float32")))
    assert out.shape == clean.shape

    def psnr(x):
        return float(np.mean(10 * np.log10(1 / np.mean((x - clean) ** 2, axis=(1, 2, 3)))))

    assert psnr(out) > psnr(noisy) + 3.0, (name, psnr(out), psnr(noisy))
    with pytest.raises(ValueError, match="expects images of shape"):
        layer(clean.reshape(200, 784))


def _inpainter_fills_the_hidden_patches(name, clean):
    """A masked autoencoder's `inpaint` endpoint: 75% of the 4x4 patches of the test digits
    hidden (fixed), filled in from the visible ones much closer to the clean digits than the
    zeroed input (PSNR with the visible patches kept); its whole-image reconstruction, never
    scored in training, is refused as a denoiser."""
    from sdae_tf.evaluation import unsupervised

    with pytest.raises(ValueError, match="masked autoencoder.*sdae_tf.inpainter"):
        sdae_tf.denoiser(name)
    layer = sdae_tf.inpainter(name)
    hidden, pixels = unsupervised.patch_mask(clean.shape, 4, 0.75, np.random.default_rng(0))
    filled = np.asarray(layer([clean, hidden]))
    assert filled.shape == clean.shape
    filled = pixels * np.clip(filled, 0, 1) + (1 - pixels) * clean
    masked = clean * (1 - pixels)
    psnr = lambda x: float(np.mean(unsupervised.psnr(clean, x)))  # noqa: E731
    assert psnr(filled) > psnr(masked) + 3.0, (psnr(filled), psnr(masked))


def test_denoiser_config_round_trip_and_encoder_only_exports_refused(tmp_path, mnist):
    layer = sdae_tf.denoiser("cdae_mnist")
    clone = pretrained.PretrainedDenoiser.from_config(layer.get_config())
    x = mnist.x_test[:4]
    np.testing.assert_array_equal(np.asarray(clone(x)), np.asarray(layer(x)))
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "d.keras")
    back = keras.saving.load_model(tmp_path / "d.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(back(x)), np.asarray(model(x)), atol=1e-6)
    # An encoder-only export (no `reconstruct` endpoint in its manifest) is refused by name.
    import shutil

    old = tmp_path / "old"
    shutil.copytree(SHIPPED_DIR / "cdae_mnist", old)
    manifest = export_lib.load_manifest(old)
    del manifest["endpoints"]["reconstruct"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="no 'reconstruct' endpoint"):
        sdae_tf.denoiser(old)


def test_names_resolve_env_then_installed_then_repository(tmp_path, monkeypatch):
    """$SDAE_TF_MODELS comes before the shipped folders; an explicit path before any name."""
    import shutil

    from sdae_tf.hub import resources

    mine = tmp_path / "mine"
    shutil.copytree(SHIPPED_DIR / "cdae_mnist", mine / "sdae_mnist")  # a different model
    monkeypatch.setenv(resources.MODELS_ENV, str(mine))
    assert resources.model_roots()[0] == mine
    assert pretrained.resolve("sdae_mnist") == mine / "sdae_mnist"
    assert pretrained.resolve("dvae_mnist") == SHIPPED_DIR / "dvae_mnist"  # falls through
    assert sdae_tf.list_models()["sdae_mnist"]["model"] == "cdae_mnist"
    assert pretrained.resolve(SHIPPED_DIR / "sdae_mnist") == SHIPPED_DIR / "sdae_mnist"
    monkeypatch.delenv(resources.MODELS_ENV)
    assert pretrained.resolve("sdae_mnist") == SHIPPED_DIR / "sdae_mnist"
    # In a clone the installed copy is absent and the repository's folder is the last root.
    assert resources.model_roots()[-1] == SHIPPED_DIR
