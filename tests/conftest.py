"""Shared test setup: quiet TensorFlow, a private variant cache, small datasets."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402

import pytest  # noqa: E402

from sdae_tf.utils import process  # noqa: E402

process.setup()  # first, as the CLIs do: their TensorFlow settings apply

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    # Built MNIST variants go to a per-session folder, never the user's cache. Under
    # pytest-xdist the workers share it (the session's folder is the parent of each worker's),
    # so a variant is built once; files are written aside and moved into place.
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    monkeypatch.setenv("SDAE_TF_CACHE", str(base / "sdae_tf_cache"))


@pytest.fixture(scope="session")
def digits():
    from sdae_tf.data import load_digits

    return load_digits()
