"""The API reference's docstrings: every public function and class of the package (the CLIs
aside, documented by their flags) documents its arguments (`Args:`, or `Attributes:` for a
record), and every `Example:` of their docstrings runs as written (on eight MNIST test digits,
`images`, in a scratch folder)."""

import importlib
import inspect
import pkgutil
import re

import numpy as np
import pytest

import sdae_tf

from .conftest import REPO

# The package's top level and every module of its subpackages but the CLIs (documented by
# their flags).
SURFACE_PACKAGES = ["layers", "zoo", "models", "data", "hub", "integrations", "train",
                    "evaluation", "runner", "reproduce", "utils", "optimizers"]
EXAMPLE = re.compile(r"Example:\s*\n\s*```python\n(.*?)```", re.S)


def surface():
    modules = ["sdae_tf"]
    for package in SURFACE_PACKAGES:
        root = importlib.import_module(f"sdae_tf.{package}")
        modules += [root.__name__, *(i.name for i in pkgutil.walk_packages(
            root.__path__, f"{root.__name__}."))]
    out = {}
    for name in modules:
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None) or [
            n for n, o in vars(module).items()
            if not n.startswith("_") and getattr(o, "__module__", None) == name]
        for n in names:
            obj = getattr(module, n)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                out[f"{obj.__module__}.{obj.__name__}"] = obj
    return out


def _parameters(obj):
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return []
    return [p for p in params if p not in ("self", "args", "kwargs")]


def test_every_public_object_documents_its_arguments():
    objects = surface()
    assert len(objects) >= 50
    bare = [name for name, obj in objects.items() if _parameters(obj)
            and not re.search(r"^(Args|Attributes):$", inspect.getdoc(obj) or "", re.M)]
    assert not bare, f"no Args section: {bare}"


def docstring_examples():
    found = {}
    names = ["sdae_tf", *(i.name for i in pkgutil.walk_packages(sdae_tf.__path__, "sdae_tf."))]
    for module_name in names:
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__ or name.startswith("_"):
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                for i, code in enumerate(EXAMPLE.findall(inspect.getdoc(obj) or "")):
                    found[f"{module.__name__}.{name}" + (f"#{i}" if i else "")] = code
    return found


EXAMPLES = docstring_examples()


def test_the_surface_has_examples():
    names = {n.split("#")[0] for n in EXAMPLES}
    for required in ("sdae_tf.feature_extractor", "sdae_tf.denoiser", "sdae_tf.list_models",
                     "sdae_tf.zoo.build", "sdae_tf.data.load_mnist", "sdae_tf.layers.corrupt"):
        assert any(n.endswith(required.rsplit(".", 1)[1]) for n in names), required
    assert len(EXAMPLES) >= 30


@pytest.fixture(scope="module")
def images():
    from sdae_tf.data import load_mnist

    return np.array(load_mnist().x_test[:8])


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docstring_example_runs(name, images, tmp_path, monkeypatch):
    import keras
    import tensorflow as tf

    import sdae_tf.data
    import sdae_tf.hub.pretrained
    import sdae_tf.layers
    import sdae_tf.models
    import sdae_tf.zoo

    monkeypatch.chdir(tmp_path)
    (tmp_path / "exported_models").symlink_to(REPO / "exported_models")
    keras.utils.set_random_seed(0)
    namespace = {"np": np, "keras": keras, "tf": tf, "sdae_tf": sdae_tf, "images": images}
    exec(compile(EXAMPLES[name], f"<{name} docstring>", "exec"), namespace)
