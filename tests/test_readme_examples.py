"""The Python examples of the README and the docs pages, marked `<!-- example: NAME -->`, run
as written: a page's blocks in order, in one namespace (a later block uses what an earlier one
made), in a scratch folder."""

import re

import pytest

from tests.conftest import REPO

PAGES = ["README.md", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md"))]


def examples(page):
    text = (REPO / page).read_text()
    return re.findall(r"<!-- example: ([\w-]+) -->\n```python\n(.*?)```", text, re.S)


def test_every_python_block_is_an_example_or_says_why_not():
    for page in PAGES:
        text = (REPO / page).read_text()
        for before in re.findall(r"(.*)\n```python\n", text):
            assert re.match(r"<!-- (example: [\w-]+|not run: .{10,}) -->$", before), (
                f"{page}: a Python block after {before!r} is neither an example the tests run "
                "(`<!-- example: NAME -->`) nor marked `<!-- not run: REASON -->`")


def run_page(page, tmp_path, monkeypatch):
    import keras

    monkeypatch.chdir(tmp_path)
    # The examples name the shipped folders as a clone has them (TensorFlow alone reads paths).
    (tmp_path / "exported_models").symlink_to(REPO / "exported_models")
    # Keras draws unseeded initializers from the process's global random state: fixed here, so
    # a page's numbers do not depend on the tests that ran before it in this worker.
    keras.utils.set_random_seed(0)
    namespace = {}
    for name, code in examples(page):
        exec(compile(code, f"{page}:{name}", "exec"), namespace)
    return namespace


def test_the_readme_quick_starts_run(tmp_path, monkeypatch, capsys):
    assert [name for name, _ in examples("README.md")] == ["feature-extractor", "own-arrays",
                                                           "preset"]
    ns = run_page("README.md", tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert float(re.findall(r"test accuracy ([0-9.]+)", out)[-1]) > 0.9, out
    # the own-arrays example: pretraining with the Python API's defaults at least level with
    # a plain MLP of the same widths, both trained here for the same epochs
    pretrained, mlp = map(float, re.findall(r"pretrained SDAE ([0-9.]+), plain MLP ([0-9.]+)",
                                            out)[-1])
    assert pretrained > 0.85 and pretrained >= mlp - 0.005, out
    assert ns["clean"].shape == (8, 28, 28, 1) and ns["filled"].shape == (8, 28, 28, 1)
    loss, accuracy = ns["classifier"].evaluate(ns["data"].x_test[:1000], ns["data"].y_test[:1000],
                                               verbose=0)
    assert accuracy > 0.85
    assert ns["codes"].shape == (8, 1000)
    assert (tmp_path / "sdae.keras").is_file() and (tmp_path / "exported/my_sdae").is_dir()


@pytest.mark.slow  # the README's run in the default suite; the guides' (longer) with the slow tests
@pytest.mark.parametrize("page", [p for p in PAGES if p != "README.md" and examples(p)])
def test_the_docs_examples_run(page, tmp_path, monkeypatch):
    run_page(page, tmp_path, monkeypatch)
