"""The package's name and version, and its Keras-internals module."""

import importlib.metadata
import os

import keras
import pytest

import sdae_tf
from sdae_tf import package
from sdae_tf.utils import keras_compat


def test_version_comes_from_the_installed_metadata():
    assert package.NAME == "sdae_tf"
    assert sdae_tf.__version__ == package.version() == importlib.metadata.version("sdae_tf")


def test_version_of_an_uninstalled_tree(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert package.version() == "0+unknown"


def test_keras_is_a_tested_version_and_internals_resolve():
    assert keras_compat.keras_version() in keras_compat.TESTED
    keras_compat.check_version("a test")
    tree, trainer = keras_compat.tensorflow_trainer_internals()
    assert hasattr(trainer, "TensorFlowTrainer") and hasattr(tree, "map_structure")
    layer = keras.layers.Dense(2)
    variable = keras.Variable(1.0, trainable=False)
    keras_compat.track_variable(layer, variable)
    assert any(w is variable for w in layer.non_trainable_weights)


def test_untested_keras_is_named(monkeypatch):
    monkeypatch.setattr(keras, "__version__", "9.9.0")
    with pytest.raises(RuntimeError, match="tested with Keras 3.15; found 9.9.0"):
        keras_compat.check_version("The multi-worker patch")


# The package's floors, bottom up (README, "The package, floor by floor"): a module imports only
# from its own folder and the floors below it, at module level or inside a function.
FLOORS = [("package", "utils"), ("layers", "data", "optimizers"), ("hub", "evaluation"), ("train",),
          ("zoo",), ("models",), ("runner",), ("integrations",), ("reproduce",), ("cli",)]


def _imports(path):
    import ast

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "sdae_tf" else \
                [f"sdae_tf.{a.name}" for a in node.names]
            yield from (n for n in names if n.startswith("sdae_tf."))
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("sdae_tf."))


def test_no_import_runs_upward():
    import pathlib

    floor = {part: i for i, parts in enumerate(FLOORS) for part in parts}
    root = pathlib.Path(sdae_tf.__file__).parent
    folders = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders | {"package"} == set(floor), "a folder is missing from FLOORS and the README"
    upward = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts == ("__init__.py",):
            continue  # the package's front door: its lazy shortcuts reach any floor
        here = rel.parts[0].removesuffix(".py")
        for name in _imports(path):
            there = name.split(".")[1]
            if there != here and floor[there] >= floor[here]:
                upward.append(f"{rel} imports {name}")
    assert not upward, upward


def test_importing_the_library_or_sdae_tf_cli_changes_no_process_setting():
    import subprocess
    import sys

    code = ("import os, sys\n"
            "import sdae_tf, sdae_tf.cli, sdae_tf.models\n"
            "assert 'TF_ENABLE_ONEDNN_OPTS' not in os.environ, 'set by an import'\n"
            "from sdae_tf.utils import process\n"
            "process.setup()\n"
            "assert os.environ['TF_ENABLE_ONEDNN_OPTS'] == '1'\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_docs_folder_map_matches_the_tree():
    import pathlib
    import re

    root = pathlib.Path(sdae_tf.__file__).parent
    folders = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    text = (root.parent / "docs" / "extending.md").read_text()
    table = text[text.index("| folder | what it holds |"):].split("\n\n")[0]
    mapped = set(re.findall(r"`sdae_tf/(\w+)/`", table))
    assert mapped == folders


def test_license_and_changelog_match_the_package():
    """LICENSE is the Apache License 2.0 that the package's metadata declares, and the
    changelog has a section for the installed version (and one for unreleased changes)."""
    import pathlib
    import re

    repo = pathlib.Path(__file__).resolve().parents[1]
    license_text = (repo / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert importlib.metadata.metadata("sdae_tf")["License"] == "Apache-2.0"
    sections = re.findall(r"^## (.+)$", (repo / "CHANGELOG.md").read_text(), re.M)
    assert sections[0] == "Unreleased"
    assert sdae_tf.__version__ in sections, sections
