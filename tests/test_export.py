"""Export and reuse: SavedModel + .keras + manifest, reload through our loader and through
TensorFlow alone in a fresh process, atomic writes, overwrite rules, fine-tuning a reload."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from sdae_tf import zoo
from sdae_tf.hub import export as export_lib
from sdae_tf.zoo import DenseStack, classifier


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    keras.utils.set_random_seed(0)
    stack = DenseStack(digits.input_shape, hidden_units=(48, 24), seed=0)
    block = stack.pretrain_model(0)
    block.compile(optimizer="adam", loss=stack.block_loss(0))
    block.fit(digits.x_train, digits.x_train, epochs=1, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("exports") / "encoder"
    export_lib.export_encoder(stack.encoder, path, {"model": "tiny", "dataset": "digits"})
    return stack, path


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_loader_matches_the_encoder(trained, digits, batch):
    stack, path = trained
    x = digits.x_test[:batch]
    expected = np.asarray(stack.encoder(x, training=False))
    frozen = export_lib.load_encoder(path)
    np.testing.assert_allclose(np.asarray(frozen(x)), expected, atol=1e-6)
    trainable = export_lib.load_encoder(path, trainable=True)
    np.testing.assert_allclose(np.asarray(trainable(x, training=False)), expected, atol=1e-6)


def test_export_folder_and_manifest(trained):
    _, path = trained
    names = {p.name for p in path.iterdir()}
    assert {"saved_model.pb", "variables", "encoder.keras", "manifest.json"} <= names
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no leftovers
    manifest = export_lib.load_manifest(path)
    assert manifest["model"] == "tiny" and manifest["embedding_size"] == 24
    assert manifest["input"]["shape"] == [8, 8, 1]
    assert manifest["endpoints"]["serve"] == "tensor"


def test_tensorflow_alone_loads_every_family(trained, digits, tmp_path):
    """A fresh process where importing sdae_tf is impossible loads the SavedModel and the
    `.keras` file of a dense, a conv and a VAE encoder."""
    stack, dense_path = trained
    keras.utils.set_random_seed(1)
    encoders = {
        "dense": (stack.encoder, dense_path),
        "conv": (zoo.build("cdae_mnist", (8, 8, 1), filters=(4, 4, 4)).encoder, None),
        "vae": (zoo.build("dvae_mnist", (8, 8, 1), hidden_units=(16,), latent_units=(3,)).encoder,
                None),
    }
    for name, (encoder, path) in list(encoders.items()):
        if path is None:
            path = export_lib.export_encoder(encoder, tmp_path / name, {"model": name})
            encoders[name] = (encoder, path)
    x = digits.x_test[:5]
    np.save(tmp_path / "x.npy", x)
    paths = {name: str(path) for name, (_, path) in encoders.items()}
    script = textwrap.dedent(f"""
        import sys

        class Block:
            def find_spec(self, name, *args):
                if name.split(".")[0] == "sdae_tf":
                    raise ImportError("sdae_tf is blocked in this process")

        sys.meta_path.insert(0, Block())
        import numpy as np
        import tensorflow as tf
        import keras

        x = np.load({str(tmp_path / "x.npy")!r})
        out = {{}}
        for name, path in {paths!r}.items():
            loaded = tf.saved_model.load(path)
            out[name + "_serve"] = loaded.serve(tf.constant(x)).numpy()
            signature = loaded.signatures["serving_default"](images=tf.constant(x))
            out[name + "_signature"] = signature["embedding"].numpy()
            model = keras.saving.load_model(path + "/encoder.keras", safe_mode=True)
            out[name + "_keras"] = model(x).numpy()
        assert "sdae_tf" not in sys.modules
        np.savez({str(tmp_path / "out.npz")!r}, **out)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    out = np.load(tmp_path / "out.npz")
    for name, (encoder, _) in encoders.items():
        expected = np.asarray(encoder(x, training=False))
        for kind in ("serve", "signature", "keras"):
            np.testing.assert_allclose(out[f"{name}_{kind}"], expected, atol=1e-5,
                                       err_msg=f"{name} {kind}")


def test_frozen_layer_under_a_head_stays_frozen(trained, digits):
    _, path = trained
    encoder = export_lib.load_encoder(path)
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(10)(encoder(inputs)))
    before = np.asarray(encoder(digits.x_val[:16]))
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(digits.x_train[:128], digits.y_train[:128], epochs=1, verbose=0)
    np.testing.assert_array_equal(np.asarray(encoder(digits.x_val[:16])), before)


def test_trainable_reload_fine_tunes_with_adam(trained, digits):
    _, path = trained
    encoder = export_lib.load_encoder(path, trainable=True)
    model = classifier(encoder, 10, units=16)
    before = [w.copy() for w in encoder.get_weights()]
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(digits.x_train[:128], digits.y_train[:128], epochs=1, verbose=0)
    assert not np.allclose(before[0], encoder.get_weights()[0])


def test_existing_export_is_kept_unless_overwrite(trained, tmp_path):
    stack, _ = trained
    path = tmp_path / "enc"
    export_lib.export_encoder(stack.encoder, path, {"model": "first"})
    with pytest.raises(FileExistsError, match="already exists"):
        export_lib.export_encoder(stack.encoder, path, {"model": "second"})
    assert export_lib.load_manifest(path)["model"] == "first"
    export_lib.export_encoder(stack.encoder, path, {"model": "second"}, overwrite=True)
    assert export_lib.load_manifest(path)["model"] == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc"]


def test_failed_export_leaves_nothing_behind(trained, tmp_path, monkeypatch):
    stack, _ = trained
    path = tmp_path / "enc"
    export_lib.export_encoder(stack.encoder, path, {"model": "first"})

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(stack.encoder), "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export_lib.export_encoder(stack.encoder, tmp_path / "new", {})
    with pytest.raises(OSError, match="disk full"):
        export_lib.export_encoder(stack.encoder, path, {"model": "second"}, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc"]
    assert export_lib.load_manifest(path)["model"] == "first"


def test_reload_check_fails_the_export_and_keeps_the_old_one(trained, digits, tmp_path,
                                                            monkeypatch):
    stack, _ = trained
    path = tmp_path / "enc"
    export_lib.export_encoder(stack.encoder, path, {"model": "first"},
                              check_sample=digits.x_test[:32])
    check = export_lib.load_manifest(path)["export_check"]
    assert 0.0 <= check["reload_max_abs_diff"] <= export_lib.RELOAD_TOLERANCE
    assert check["examples"] == 32
    # A SavedModel that does not compute what the encoder computes is refused before it is
    # moved into place.
    monkeypatch.setattr(export_lib, "_difference", lambda *args: 0.5)
    with pytest.raises(export_lib.ExportMismatchError, match="'serve' differs from the model by "
                       "up to 0.5 on 32 examples .tolerance 0.0001.; nothing was exported"):
        export_lib.export_encoder(stack.encoder, path, {"model": "second"}, overwrite=True,
                                  check_sample=digits.x_test[:32])
    assert export_lib.load_manifest(path)["model"] == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc"]
    # The same for the autoencoder's `reconstruct` endpoint.
    monkeypatch.setattr(export_lib, "_difference",
                        lambda r, m, s, endpoint: 0.5 if endpoint == "reconstruct" else 0.0)
    with pytest.raises(export_lib.ExportMismatchError, match="'reconstruct' differs"):
        export_lib.export_encoder(stack.encoder, path, {"model": "third"}, overwrite=True,
                                  check_sample=digits.x_test[:32],
                                  autoencoder=stack.autoencoder())
    assert export_lib.load_manifest(path)["model"] == "first"


def test_export_with_autoencoder_has_a_checked_reconstruct_endpoint(trained, digits, tmp_path):
    stack, _ = trained
    path = export_lib.export_encoder(
        stack.encoder, tmp_path / "enc", {"model": "m"}, check_sample=digits.x_test[:32],
        autoencoder=stack.autoencoder(), denoiser={"noise": {"type": "gaussian", "level": 0.4}})
    manifest = export_lib.load_manifest(path)
    assert manifest["endpoints"]["reconstruct"] == "tensor"
    assert manifest["denoiser"]["noise"] == {"type": "gaussian", "level": 0.4}
    assert manifest["denoiser"]["output_shape"] == list(digits.input_shape)
    assert manifest["export_check"]["reconstruct_max_abs_diff"] <= export_lib.RELOAD_TOLERANCE
    x = digits.x_test[:8]
    np.testing.assert_allclose(np.asarray(export_lib.load_reconstructor(path)(x)),
                               np.asarray(stack.autoencoder()(x)), atol=1e-5)
    assert set(manifest["files_sha256"]) == set(export_lib.export_files(path))


def test_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SavedModel"):
        export_lib.load_encoder(tmp_path)
    with pytest.raises(FileNotFoundError, match="not an sdae_tf export"):
        export_lib.load_manifest(tmp_path)
    assert json.dumps(export_lib.library_versions())
