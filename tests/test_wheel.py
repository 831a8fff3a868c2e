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

SHIPPED = ["sdae_mnist", "sae_mnist", "cdae_mnist", "dvae_mnist", "sdae_learned_sigma_mnist"]


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
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
          "--target", str(site), str(wheel)], cwd=tmp_path, env=os.environ)
    env = {**{k: v for k, v in os.environ.items() if k != "SDAE_TF_MODELS"},
           "PYTHONPATH": str(site)}

    listing = _run([str(site / "bin" / "sdae-models"), "--json"], cwd=empty, env=env)
    listed = json.loads(listing.stdout[listing.stdout.index("{"):])
    assert sorted(listed["models"]) == sorted(SHIPPED)
    assert all(m["path"].startswith(str(site)) for m in listed["models"].values())
    assert listed["recipes"]["sdae_mnist"]["path"].startswith(str(site))

    script = textwrap.dedent(f"""
        import numpy as np, sdae_tf
        from sdae_tf.data import load_dataset
        assert sdae_tf.__file__.startswith({str(site)!r}), sdae_tf.__file__
        x = load_dataset("mnist", seed=0).x_test[:8]
        for name in {SHIPPED!r}:
            emb = sdae_tf.feature_extractor(name)(x)
            out = sdae_tf.denoiser(name)(x)
            assert out.shape == x.shape, (name, out.shape)
            print(name, tuple(emb.shape), float(np.mean((np.asarray(out) - x) ** 2)))
    """)
    loaded = _run([sys.executable, "-c", script], cwd=empty, env=env)
    assert len(loaded.stdout.strip().splitlines()) == len(SHIPPED), loaded.stdout

    train = _run([str(site / "bin" / "sdae-train"), "--recipe=sdae_mnist", "--quick"],
                 cwd=empty, env=env)
    assert "test accuracy" in train.stdout, train.stdout
    assert (empty / "runs" / "exported" / "sdae_mnist" / "manifest.json").exists()
    assert "InitializeLog" not in train.stderr
