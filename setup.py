"""Build step that puts the shipped models and the recipes into the wheel.

The repository keeps them at its root (`exported_models/` and their packs, `packed_models/`;
`flags/`); a wheel (`pip wheel .`, `pip install .`) carries the packs (each weight once, in
float16, unpacked to the full export on first use: `sdae_tf.hub.packing`) as
`sdae_tf/shipped/models` and the recipes as `sdae_tf/shipped/recipes`, where
`sdae_tf.hub.resources` finds them after install. An editable install reads the repository's folders
directly, so nothing is copied for it. Everything else is in setup.cfg.
"""

import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent
# Repository folder -> (folder inside the package, files to take).
SHIPPED = {"packed_models": ("sdae_tf/shipped/models", "*/**/*"),
           "flags": ("sdae_tf/shipped/recipes", "**/*.flags")}


def _shipped_files(folder, pattern):
    """The files of `folder` to ship: no hidden entries (staging folders of an interrupted
    export), no caches."""
    base = ROOT / folder
    for path in sorted(base.glob(pattern)):
        parts = path.relative_to(base).parts
        if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in parts):
            yield path


class BuildWithShipped(build_py):
    """`build_py` plus the copies of `SHIPPED` in the build tree (not for editable installs)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for folder, (target, pattern) in SHIPPED.items():
            shutil.rmtree(pathlib.Path(self.build_lib) / target, ignore_errors=True)  # stale
            for path in _shipped_files(folder, pattern):
                dest = pathlib.Path(self.build_lib) / target / path.relative_to(ROOT / folder)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)


setup(cmdclass={"build_py": BuildWithShipped})
