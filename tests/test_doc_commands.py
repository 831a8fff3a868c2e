"""The shell blocks of the README and the docs pages cannot rot: each one is either run by a
named test (`<!-- run by: tests/FILE.py::TEST -->` above it, the test must exist) or marked
`<!-- not run: REASON -->`, and every `sdae-*` command in any block parses with that tool's own
absl flags (the flags exist and belong to the tool, their values are valid, the flagfiles are
there and open with the same tool)."""

import re
import shlex

import pytest
from absl import flags
from absl.testing import flagsaver

from sdae_tf.cli import experiment as experiment_cli
from sdae_tf.cli import flags as train_flags
from sdae_tf.cli import models as models_cli
from sdae_tf.cli import report as report_cli
from sdae_tf.cli import train as train_cli
from sdae_tf.cli import tune as tune_cli
from sdae_tf.runner import config_flags

from .conftest import REPO
from .test_readme_examples import PAGES

FLAGS = flags.FLAGS
SHELL_BLOCK = re.compile(r"(?:<!-- (run by|not run): ([^>]*?) -->\n)?```(?:bash|sh|shell)\n"
                         r"(.*?)```", re.S)
# The modules whose flags each tool reads (absl's own, such as --flagfile, are everyone's): the
# training flags are defined from `TrainConfig`'s fields (`sdae_tf.runner.config_flags`) and in
# `sdae_tf.cli.flags`.
TRAINING = {config_flags.__name__, train_flags.__name__}
TOOL_MODULES = {
    "sdae-train": TRAINING | {train_cli.__name__},
    "sdae-experiment": TRAINING | {experiment_cli.__name__},
    "sdae-tune": TRAINING | {tune_cli.__name__},
    "sdae-models": {models_cli.__name__},
    "sdae-report": {report_cli.__name__},
}


def shell_blocks(page):
    """(marker, reason or test, code) of every shell block of `page`."""
    return SHELL_BLOCK.findall((REPO / page).read_text())


def commands(code):
    """The command lines of a shell block: continuation lines joined, comments dropped, split
    at `&&`, `&`, `;` and `|`, leading environment assignments and `export` removed."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        current = []
        for word in [*words, "&&"]:
            if word in ("&&", "&", ";", "|", "||"):
                while current and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", current[0]):
                    current.pop(0)
                if current and current[0] != "export":
                    out.append(current)
                current = []
            else:
                current.append(word.rstrip(";&"))
    return out


def tool_flags(tool):
    """Names of the flags `tool` reads."""
    names = set()
    for module, defined in FLAGS.flags_by_module_dict().items():
        if module in TOOL_MODULES[tool] or module.startswith("absl."):
            names.update(f.name for f in defined)
    return names | {"flagfile", "helpfull", "help"}


BLOCKS = [(page, i, *block) for page in PAGES for i, block in enumerate(shell_blocks(page))]


def test_the_docs_have_shell_blocks_and_the_splitter_finds_their_commands():
    assert len(BLOCKS) >= 10
    assert commands("A=1 B=2 sdae-train --x=1 &  # comment\nexport C=3\nwait") == [
        ["sdae-train", "--x=1"], ["wait"]]
    line = 'python -m venv .venv && . .venv/bin/activate && pip install -e ".[cpu]"'
    assert commands(line) == [
        ["python", "-m", "venv", ".venv"], [".", ".venv/bin/activate"],
        ["pip", "install", "-e", ".[cpu]"]]


@pytest.mark.parametrize("page,index,marker,why,code", BLOCKS,
                         ids=[f"{b[0]}#{b[1]}" for b in BLOCKS])
def test_every_shell_block_is_run_or_says_why_not_and_its_commands_parse(
        page, index, marker, why, code, monkeypatch):
    assert marker, (f"{page}: shell block {index} ({code.splitlines()[0]!r}) needs "
                    "`<!-- run by: tests/FILE.py::TEST -->` or `<!-- not run: REASON -->` above it")
    if marker == "run by":
        target = why.split(" ")[0]
        if target != ".ci/run":
            path, _, test = target.partition("::")
            assert re.search(rf"^def {re.escape(test)}\(", (REPO / path).read_text(), re.M), (
                f"{page}: block {index} is run by {target}, which does not exist")
    else:
        assert len(why.strip()) >= 10, f"{page}: block {index} says too little why it is not run"
    monkeypatch.chdir(REPO)  # flagfiles nest with paths relative to the repository root
    for words in commands(code):
        tool, args = words[0], words[1:]
        if not tool.startswith("sdae-"):
            continue
        assert tool in TOOL_MODULES, f"{page}: {tool} is not one of the tools"
        known = tool_flags(tool)
        for arg in args:
            if arg.startswith("--"):
                name = arg[2:].split("=", 1)[0]
                name = name[2:] if name.startswith("no") and name[2:] in known else name
                assert name in known, f"{page}: {tool} has no flag --{name}"
            if arg.startswith("--flagfile="):
                path = REPO / arg.split("=", 1)[1]
                assert path.is_file(), f"{page}: {arg}: no such flagfile"
                first = path.read_text().splitlines()[0]
                assert first.startswith(f"# {tool} "), f"{page}: {arg} is not an {tool} flagfile"
        with flagsaver.flagsaver():
            FLAGS.unparse_flags()
            FLAGS([tool, *args])  # unknown flags and bad values raise here
            if tool == "sdae-train":
                train_flags.config_from_flags(FLAGS)
        FLAGS.unparse_flags()
