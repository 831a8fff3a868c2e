"""Packed presets (what the wheel ships): each weight once in float16, unpacked to a full export
in the cache on first use, checked, atomic, and loadable by every loader."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import sdae_tf
from sdae_tf.hub import export as export_lib
from sdae_tf.hub import packing, pretrained
from sdae_tf.utils import storage

from .conftest import REPO
from .test_lifecycle import _fill, _tmpfs

EXPORTS, PACKS = REPO / "exported_models", REPO / "packed_models"
SHIPPED = sorted(p.parent.name for p in EXPORTS.glob("*/manifest.json"))


@pytest.fixture(scope="module")
def mnist():
    from sdae_tf.data import load_dataset

    return load_dataset("mnist", seed=0)


def test_every_shipped_model_has_a_fresh_pack_of_less_than_half_its_size():
    sizes = {"pack": 0, "full": 0}
    for name in SHIPPED:
        manifest = export_lib.load_manifest(PACKS / name)
        source = export_lib.load_manifest(EXPORTS / name)
        assert manifest["packed"]["source_files_sha256"] == source["files_sha256"], (
            f"{name}: stale pack; run python scripts/pack_presets.py {name}")
        export_lib.verify_checksums(PACKS / name)
        for kind, folder in (("pack", PACKS), ("full", EXPORTS)):
            sizes[kind] += sum(f.stat().st_size for f in (folder / name).rglob("*")
                               if f.is_file())
        # The probe of the float32 export holds on what the pack unpacks to.
        assert manifest["packed"]["probe_accuracy"] >= source["probe"]["floor"]
        assert abs(manifest["packed"]["probe_accuracy"] - source["probe"]["accuracy"]) <= 0.005
    assert sizes["pack"] < sizes["full"] / 2, sizes


def test_unpacked_export_computes_what_the_float32_one_does(tmp_path, mnist):
    name = "cdae_mnist"
    unpacked = packing.unpack(PACKS / name, cache=tmp_path)
    assert unpacked.parent == tmp_path and (unpacked / "variables").is_dir()
    export_lib.verify_checksums(unpacked)
    manifest = export_lib.load_manifest(unpacked)
    assert manifest["probe"] == export_lib.load_manifest(EXPORTS / name)["probe"]
    assert manifest["unpacked_from"]["dtype"] == "float16"
    x = tf.constant(mnist.x_test[:64])
    full, again = tf.saved_model.load(str(EXPORTS / name)), tf.saved_model.load(str(unpacked))
    recorded = export_lib.load_manifest(PACKS / name)["packed"]["max_abs_diff"]
    for endpoint in ("serve", "reconstruct"):
        diff = np.max(np.abs(getattr(full, endpoint)(x) - getattr(again, endpoint)(x)))
        assert 0 < diff <= recorded[endpoint] * 1.5 + 1e-6, (endpoint, diff, recorded)
    # encoder.keras (trainable) is the SavedModel's encoder.
    tunable = sdae_tf.feature_extractor(unpacked, trainable=True)
    np.testing.assert_allclose(np.asarray(tunable(x)), again.serve(x).numpy(), atol=1e-5)
    # Found, not rewritten, the second time.
    stamp = (unpacked / export_lib.MANIFEST_FILE).stat().st_mtime_ns
    assert packing.unpack(PACKS / name, cache=tmp_path) == unpacked
    assert (unpacked / export_lib.MANIFEST_FILE).stat().st_mtime_ns == stamp


def test_a_pack_by_name_resolves_to_its_unpacked_export(tmp_path, monkeypatch, mnist):
    root = tmp_path / "models"
    shutil.copytree(PACKS / "cdae_mnist", root / "cdae_mnist")
    monkeypatch.setenv("SDAE_TF_MODELS", str(root))
    monkeypatch.setenv(packing.CACHE_ENV, str(tmp_path / "cache"))
    path = pretrained.resolve("cdae_mnist")
    assert path.parent == tmp_path / "cache" / "presets" and not packing.is_packed(path)
    model = sdae_tf.models.from_preset("cdae_mnist")
    out = model.predict(mnist.x_test[:8], verbose=0)
    loaded = tf.saved_model.load(str(path))
    np.testing.assert_allclose(out, loaded.reconstruct(tf.constant(mnist.x_test[:8])).numpy(),
                               atol=1e-5)


def test_pack_round_trip_and_refusals(tmp_path, mnist):
    # The masked autoencoder: an export with an extra endpoint (`inpaint`), checked after
    # unpacking on the inputs its family makes for it, beside `serve` and `reconstruct`.
    out = packing.pack(EXPORTS / "mae_mnist", tmp_path / "pack", check_sample=mnist.x_test[:32])
    differences = export_lib.load_manifest(out)["packed"]["max_abs_diff"]
    assert sorted(differences) == ["inpaint", "reconstruct", "serve"]
    assert 0 < max(differences.values()) < 0.02, differences  # float16 storage, no more
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*packing.GRAPH_FILES, packing.WEIGHTS_FILE, packing.KERAS_CONFIG_FILE, "manifest.json"])
    with np.load(out / packing.WEIGHTS_FILE, allow_pickle=False) as stored:
        assert {stored[k].dtype.name for k in stored.files} == {"float16", "uint8"}
    with pytest.raises(FileExistsError, match="already exists"):
        packing.pack(EXPORTS / "mae_mnist", out)
    with pytest.raises(ValueError, match="already a pack"):
        packing.pack(out, tmp_path / "again")
    with pytest.raises(ValueError, match="not a pack"):
        packing.unpack(EXPORTS / "cdae_mnist", cache=tmp_path / "c")
    # A damaged pack is refused before anything is unpacked.
    data = bytearray((out / packing.WEIGHTS_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (out / packing.WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum of weights.npz does not match"):
        packing.unpack(out, cache=tmp_path / "c")
    assert not list((tmp_path / "c").glob("*"))


def test_unpack_killed_before_placing_leaves_nothing_and_resumes(tmp_path):
    cache = tmp_path / "cache"
    script = ("from sdae_tf.hub import packing; import sys; "
              f"print(packing.unpack({str(PACKS / 'cdae_mnist')!r}, cache={str(cache)!r}))")
    env = {**os.environ, "SDAE_TF_FAULT": "kill:unpack:staged"}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert [p.name for p in cache.iterdir() if not p.name.startswith(".")] == []
    assert list(cache.glob(".*partial*"))  # the dead process's staging folder
    path = packing.unpack(PACKS / "cdae_mnist", cache=cache)
    export_lib.verify_checksums(path)
    assert not list(cache.glob(".*partial*"))  # removed by the next unpack


def test_full_cache_disk_is_one_line_and_nothing_half_written(tmp_path):
    mount = tmp_path / "disk"
    with _tmpfs(mount, "2m"):
        _fill(mount)
        with pytest.raises(storage.StorageError,
                           match="no space left on the device.*dvae_mnist was not unpacked.*"
                                 "nothing is left half-written.*SDAE_TF_CACHE"):
            packing.unpack(PACKS / "dvae_mnist", cache=mount)
        assert [p.name for p in mount.iterdir()] == ["filler"]
        (mount / "filler").unlink()
    bigger = tmp_path / "roomy"
    with _tmpfs(bigger, "16m"):
        path = packing.unpack(PACKS / "dvae_mnist", cache=bigger)
        assert json.loads((path / "manifest.json").read_text())["model"] == "dvae_mnist"
