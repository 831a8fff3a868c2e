"""The installed package is the product: the wheel `pip wheel .` builds, installed on its own
(outside the repository, `--no-deps` on top of this environment's dependencies), works from an
empty folder: models by name as feature extractors and denoisers, recipes by name, listing."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from .conftest import REPO

SHIPPED = ["sdae_mnist", "sae_mnist", "cdae_mnist", "dvae_mnist", "sdae_learned_sigma_mnist",
           "mae_mnist"]


def _run(args, cwd, env, timeout=900):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-3000:])
    return result


@pytest.mark.slow
def test_wheel_install_works_from_an_empty_folder(tmp_path):
    wheels, site, empty = tmp_path / "wheels", tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    _run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w",
          str(wheels)], cwd=tmp_path, env=os.environ)
    (wheel,) = wheels.glob("sdae_tf-*.whl")
    # The shipped models travel as packs (each weight once, float16): room under PyPI's
    # 100 MB file limit for more presets.
    assert wheel.stat().st_size <= 60 * 2**20, wheel.stat().st_size / 2**20
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
          "--target", str(site), str(wheel)], cwd=tmp_path, env=os.environ)
    env = {**{k: v for k, v in os.environ.items() if k != "SDAE_TF_MODELS"},
           "PYTHONPATH": str(site), "SDAE_TF_CACHE": str(tmp_path / "cache")}

    listing = _run([str(site / "bin" / "sdae-models"), "--json"], cwd=empty, env=env)
    listed = json.loads(listing.stdout[listing.stdout.index("{"):])
    assert sorted(listed["models"]) == sorted(SHIPPED)
    assert all(m["path"].startswith(str(site)) for m in listed["models"].values())
    assert all(m["packed"]["dtype"] == "float16" for m in listed["models"].values())
    assert listed["recipes"]["sdae_mnist"]["path"].startswith(str(site))
    # TensorFlow alone, on the full export a pack unpacks to.
    unpacked = _run([str(site / "bin" / "sdae-models"), "--path=cdae_mnist"], cwd=empty,
                    env=env).stdout.strip().splitlines()[-1]
    assert unpacked.startswith(str(tmp_path / "cache")), unpacked
    alone = ("import numpy as np, tensorflow as tf, sys; "
             f"m = tf.saved_model.load({unpacked!r}); "
             "print(m.serve(tf.zeros((2, 28, 28, 1))).shape); "
             "assert 'sdae_tf' not in sys.modules")
    assert "(2, 7, 7, 16)" in _run([sys.executable, "-c", alone], cwd=empty, env=env).stdout

    script = textwrap.dedent(f"""
        import numpy as np, sdae_tf
        from sdae_tf.data import load_dataset
        assert sdae_tf.__file__.startswith({str(site)!r}), sdae_tf.__file__
        x = load_dataset("mnist", seed=0).x_test[:8]
        shipped = sdae_tf.list_models()
        for name in {SHIPPED!r}:
            emb = sdae_tf.feature_extractor(name)(x)
            if shipped[name]["denoiser"].get("use_instead"):  # the MAE fills in hidden patches
                out = sdae_tf.inpainter(name)([x, np.eye(8, 49, dtype="float32")])
            else:
                out = sdae_tf.denoiser(name)(x)
            assert out.shape == x.shape, (name, out.shape)
            print(name, tuple(emb.shape), float(np.mean((np.asarray(out) - x) ** 2)))
    """)
    loaded = _run([sys.executable, "-c", script], cwd=empty, env=env)
    assert len(loaded.stdout.strip().splitlines()) == len(SHIPPED), loaded.stdout

    # The Python API from the wheel, in an empty folder: a dense, a conv, a VAE and a
    # learned-sigma model (its own train_step) built, pretrained, trained end to end where it
    # can, fine-tuned, saved and loaded, exported and reloaded (every family does so in the
    # source tree's family tests); every shipped model as a trainable preset.
    api = textwrap.dedent(f"""
        import keras, numpy as np, sdae_tf, sdae_tf.models as models
        from sdae_tf.data import load_dataset
        assert models.__file__.startswith({str(site)!r}), models.__file__
        data = load_dataset("mnist", seed=0)
        x, y = data.x_train[:256], data.y_train[:256]
        small = {{"sdae_mnist": dict(hidden_units=(32, 16)), "vae_mnist": dict(hidden_units=(32,),
                 latent_units=(8,)), "sdvae_mnist": dict(hidden_units=(32, 16),
                 latent_units=(16, 8)), "sdae_learned_sigma_mnist": dict(hidden_units=(32, 16))}}
        for name in ["sdae_mnist", "cdae_mnist", "vae_mnist", "sdae_learned_sigma_mnist"]:
            model = models.get(name, seed=0, **small.get(name, {{}}))
            model.pretrain(x, epochs=1, verbose=0)
            if model.can_train_end_to_end():
                model.compile()
                model.fit(x, epochs=1, verbose=0)
            model.classifier(10, head_units=16).fit(x, y, epochs=1, verbose=0)
            model.save(f"{{name}}.keras")
            again = keras.saving.load_model(f"{{name}}.keras")
            np.testing.assert_allclose(again.predict(x[:4], verbose=0),
                                       model.predict(x[:4], verbose=0), atol=1e-6)
            path = model.export(f"exported/{{name}}")
            np.testing.assert_allclose(models.from_preset(path).predict(x[:4], verbose=0),
                                       model.predict(x[:4], verbose=0), atol=1e-5)
            print("api", name)
        for name in {SHIPPED!r}:
            preset = models.from_preset(name)
            if sdae_tf.list_models()[name]["denoiser"].get("use_instead"):  # its inpainting
                hidden = np.zeros((4, 49), "float32")
                hidden[:, ::2] = 1.0
                np.testing.assert_allclose(
                    preset.inpaint(x[:4], hidden),
                    np.asarray(sdae_tf.inpainter(name)([x[:4], hidden])), atol=1e-5)
            else:
                np.testing.assert_allclose(preset.predict(x[:4], verbose=0),
                                           np.asarray(sdae_tf.denoiser(name)(x[:4])),
                                           atol=1e-6)
            assert preset.name == name
            print("preset", name)
        # The packs unpacked once each, into the cache.
        import os
        assert len(os.listdir({str(tmp_path / "cache" / "presets")!r})) == {len(SHIPPED)}
    """)
    out = _run([sys.executable, "-c", api], cwd=empty, env=env).stdout
    assert out.count("api ") == 4 and out.count("preset ") == len(SHIPPED), out

    train = _run([str(site / "bin" / "sdae-train"), "--recipe=sdae_mnist", "--quick"],
                 cwd=empty, env=env)
    assert "test accuracy" in train.stdout, train.stdout
    assert (empty / "runs" / "exported" / "sdae_mnist" / "manifest.json").exists()
    assert "InitializeLog" not in train.stderr
