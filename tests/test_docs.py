"""The docs cannot rot: the site builds in strict mode (broken links, anchors and API
references fail it), the model cards match the manifests, the README stays the short front
door and its links resolve."""

import os
import re
import subprocess
import sys

from tests.conftest import REPO


def test_the_docs_site_builds_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                             "--site-dir", str(tmp_path / "site")], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for page in ("index.html", "python-api/index.html", "api/models/index.html",
                 "models/sdae_mnist/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    api = (tmp_path / "site" / "api" / "models" / "index.html").read_text()
    assert "from_preset" in api and "ZooModel" in api  # the docstrings made it in


def test_the_model_cards_match_the_manifests():
    result = subprocess.run([sys.executable, "scripts/model_cards.py", "--check"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_the_readme_is_short_and_its_links_resolve():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not target.startswith("http"):
            assert (REPO / target).exists(), target
