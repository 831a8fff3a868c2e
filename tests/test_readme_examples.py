"""The README's Python examples marked `<!-- example: NAME -->` run as written, in order, in
one namespace (a later block uses what an earlier one made), in a scratch folder."""

import re

from tests.conftest import REPO


def readme_examples():
    text = (REPO / "README.md").read_text()
    return re.findall(r"<!-- example: ([\w-]+) -->\n```python\n(.*?)```", text, re.S)


def test_the_readme_python_examples_run(tmp_path, monkeypatch):
    examples = readme_examples()
    assert [name for name, _ in examples] == ["own-arrays", "preset", "save-load"]
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for name, code in examples:
        exec(compile(code, f"README.md:{name}", "exec"), namespace)
    # What the blocks promise.
    loss, accuracy = namespace["classifier"].evaluate(namespace["data"].x_test[:1000],
                                                      namespace["data"].y_test[:1000], verbose=0)
    assert accuracy > 0.85
    assert namespace["denoised"].shape == (8, 28, 28, 1)
    assert namespace["codes"].shape == (8, 1000)
    assert (tmp_path / "sdae.keras").is_file() and (tmp_path / "exported/my_sdae").is_dir()
