"""The docs cannot rot: the site builds in strict mode (broken links, anchors and API
references fail it), the model cards match the manifests, the README stays the short front
door and its links resolve."""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


def _script(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    text = _script("cli_reference").render()
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
    module = _script("zoo_table")
    lines = module.table()
    from sdae_tf import zoo

    assert len(lines) == 2 + len(list(zoo.REGISTRY))
    for page in module.PAGES:
        text = (REPO / page).read_text()
        assert module.rewrite(text, lines) == text, f"{page}: run python scripts/zoo_table.py"
    families = module.family_table()
    assert len(families) == 2 + len({entry.build for entry in zoo.REGISTRY})
    text = (REPO / module.FAMILY_PAGE).read_text()
    assert module.rewrite(text, families, module.FAMILY_BEGIN, module.FAMILY_END) == text, \
        f"{module.FAMILY_PAGE}: run python scripts/zoo_table.py"


def _pages():
    """README.md and every hand-written docs page (the API pages are generated)."""
    return [REPO / "README.md", *sorted(p for p in (REPO / "docs").rglob("*.md")
                                        if "api" not in p.relative_to(REPO / "docs").parts)]


def test_the_results_tables_are_their_sources():
    """Every `<!-- results: FILE#HEADING -->` block of README and docs is the table it names
    (rerun python scripts/docs_results.py after a benchmark rewrites its results)."""
    module = _script("docs_results")
    assert module.stale() == []
    blocks = sum(len(module.BEGIN.findall(p.read_text())) for p in module.pages())
    assert blocks >= 15  # beyond.md's questions, reproducing.md's main job, the README's rows


def test_a_results_block_follows_its_source(tmp_path, monkeypatch):
    module = _script("docs_results")
    monkeypatch.setattr(module, "REPO", tmp_path)
    (tmp_path / "r.md").write_text("### a\n\n| x | y |\n|---|---|\n| 1 | 0.5 |\n| 2 | 0.7 |\n\n"
                                   "### b\n\n| x |\n|---|\n| 3 |\n")
    page = "<!-- results: r.md#a rows=2 -->\nold\n<!-- end results -->\ntext\n"
    assert module.render(page) == ("<!-- results: r.md#a rows=2 -->\n| x | y |\n|---|---|\n"
                                   "| 2 | 0.7 |\n<!-- end results -->\ntext\n")
    with pytest.raises(SystemExit, match="no row '9'"):
        module.render(page.replace("rows=2", "rows=9"))
    with pytest.raises(SystemExit, match="no heading"):
        module.render(page.replace("#a", "#c"))


def _figures_on_record():
    """Every decimal number in the committed results (benchmarks/results, the shipped models'
    manifests) and the report's own numbers (sdae_tf/reproduce/report.py), as written and as
    its 2-4 digit roundings."""
    import json

    found = set()

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, float):
            found.update(f"{value:.{digits}f}" for digits in (2, 3, 4))

    files = [*(REPO / "benchmarks" / "results").iterdir(), *REPO.glob("*_models/*/*.json"),
             REPO / "sdae_tf" / "reproduce" / "report.py"]
    for path in files:
        text = path.read_text()
        found.update(re.findall(r"\d+\.\d+", text))
        if path.suffix == ".json":
            walk(json.loads(text))
        elif path.suffix == ".jsonl":
            for line in text.splitlines():
                walk(json.loads(line))
    return found


def test_every_accuracy_in_the_docs_is_on_record():
    """A figure of the form 0.xxx or 0.xxxx in README or a docs page (accuracies, IoUs, scores)
    is one that a committed results file, a shipped manifest or the report records: a typo or a
    figure typed from a run that was never recorded fails here. The lab notes (docs/notes/),
    the history of the measurements, mark figures whose runs left no record with †."""
    on_record = _figures_on_record()
    missing = {}
    for page in _pages():
        text = page.read_text()
        if "notes" not in page.parts:  # the lab notes mark the figures of lost runs with †
            assert "†" not in text, f"{page}: † (no record) belongs in the lab notes only"
        for figure in re.findall(r"(?<![\d.])0\.\d{3,4}(?![\d†])", text):
            if figure not in on_record:
                missing.setdefault(page.relative_to(REPO).as_posix(), []).append(figure)
    assert not missing, missing


def test_every_repository_path_in_the_docs_exists():
    """A path the pages name in backquotes (`flags/...`, `benchmarks/...`, `sdae_tf/...`,
    `docs/...`, `scripts/...`, `tests/...`) is in the repository."""
    roots = ("flags/", "benchmarks/", "sdae_tf/", "docs/", "scripts/", "tests/")
    missing = []
    for page in _pages():
        for path in re.findall(r"`([\w./-]+)`", page.read_text()):
            path = path.split("::")[0].rstrip(".")
            wheel_only = path.startswith("sdae_tf/shipped/")  # setup.py builds it into the wheel
            if (path.startswith(roots) and "*" not in path and not wheel_only
                    and not (REPO / path).exists()):
                missing.append(f"{page.relative_to(REPO)}: {path}")
    assert not missing, missing


def test_the_headline_claims_what_the_results_table_shows():
    """The README's headline says every cell it could run is passed: every row of the results
    table at a glance has a bold (at or above the report) figure, and Table 5 is said not run."""
    text = (REPO / "docs" / "reproducing.md").read_text()
    rows = _script("docs_results").first_table(text, "Every cell at a glance")[2:]
    assert len(rows) >= 20
    assert all("**" in row for row in rows), [r for r in rows if "**" not in r]
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "passes it in every cell it could run (Table 5" in readme
