"""The docs cannot rot: the site builds in strict mode (broken links, anchors and API
references fail it), the model cards match the manifests, the README stays the short front
door and its links resolve."""

import os
import re
import subprocess
import sys

import pytest

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
    assert "from_preset" in api and "model_from_record" in api  # the docstrings made it in


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


def _chromium():
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium: .ci/run installs the "
                    "distribution's package (apt-get install chromium)")
def test_the_built_site_renders_in_a_real_browser(tmp_path):
    """Headless Chromium opens the home page and one API page of the built site, served over
    HTTP: each renders its title, the navigation and a code block, and its screenshot is not a
    blank page."""
    import functools
    import http.server
    import threading

    import numpy as np
    from PIL import Image

    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "--site-dir", str(site)],
                   cwd=REPO, env=env, check=True, capture_output=True, timeout=300)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for page, title in [("", "sdae_tf"), ("api/models/", "sdae_tf.models")]:
            url = f"http://127.0.0.1:{server.server_port}/{page}"
            common = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                      "--window-size=1280,900", "--virtual-time-budget=5000"]
            dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True,
                                 timeout=120).stdout
            assert f"<title>{title}" in dom or title in dom.split("</title>")[0], page
            assert 'class="md-nav' in dom and "<pre" in dom and "<code" in dom, page
            shot = tmp_path / f"{page.strip('/').replace('/', '_') or 'home'}.png"
            subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True,
                           timeout=120, check=True)
            pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
            assert pixels.shape == (900, 1280) and pixels.std() > 10, (page, pixels.std())
    finally:
        server.shutdown()


def test_every_public_module_has_an_api_page():
    """Each module of the package (the CLIs are documented by their flags) is on an API
    reference page, itself or through its package (`sdae_tf.models` re-exports its three)."""
    import pkgutil

    import sdae_tf

    shown = set()
    for page in (REPO / "docs" / "api").glob("*.md"):
        shown |= set(re.findall(r"^::: (\S+)$", page.read_text(), re.M))
    missing = [info.name for info in pkgutil.walk_packages(sdae_tf.__path__, "sdae_tf.")
               if not info.ispkg and ".cli" not in info.name
               and info.name not in shown and info.name.rsplit(".", 1)[0] not in shown]
    assert not missing, missing


def test_every_public_function_and_class_has_a_summary_line():
    """The API reference's source: every public function and class of every public module (the
    CLIs are documented by their flags) opens its docstring with a one-line summary."""
    import importlib
    import inspect
    import pkgutil

    import sdae_tf

    bare = []
    for info in pkgutil.walk_packages(sdae_tf.__path__, "sdae_tf."):
        if ".cli" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                doc = inspect.getdoc(obj) or ""
                if not doc.strip() or not doc.splitlines()[0].strip():
                    bare.append(f"{module.__name__}.{name}")
    assert not bare, bare


def test_the_cli_reference_is_the_tools_flags():
    """docs/cli-reference.md is what scripts/cli_reference.py makes of the flags the tools
    define (rerun it after changing a flag)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cli_reference",
                                                  REPO / "scripts" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.render()
    assert (REPO / "docs" / "cli-reference.md").read_text() == text
    for flag in ("--task", "--cluster_max_batches", "--backend", "--max_trials", "--top",
                 "--tuner_seed", "--cells", "--pool_dir"):
        assert f"| `{flag}` |" in text, flag


def test_the_float16_packs_largest_difference_is_the_docs():
    """docs/exported-models.md's "at most" is the largest `packed.max_abs_diff` the packs'
    manifests record (re-packing changes it; the page follows)."""
    import json

    largest = max(v for p in (REPO / "packed_models").glob("*/manifest.json")
                  for v in json.loads(p.read_text())["packed"]["max_abs_diff"].values())
    text = (REPO / "docs" / "exported-models.md").read_text()
    assert f"moves an output by at most {largest:.4f}" in " ".join(text.split())


def test_the_zoo_tables_are_the_registrys():
    """README, docs/zoo.md and docs/index.md carry the one zoo table scripts/zoo_table.py makes
    from the registry (rerun it after registering a name)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("zoo_table", REPO / "scripts" / "zoo_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = module.table()
    from sdae_tf import zoo

    assert len(lines) == 2 + len(list(zoo.REGISTRY))
    for page in module.PAGES:
        text = (REPO / page).read_text()
        assert module.rewrite(text, lines) == text, f"{page}: run python scripts/zoo_table.py"
