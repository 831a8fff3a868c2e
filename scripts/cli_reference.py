"""Writes docs/cli-reference.md: every command-line tool's flags (name, default, allowed values,
help), read from the flags the tools define, and every recipe (the flagfiles `--recipe=NAME`
runs, with the summary `sdae-models` prints), so the page cannot drift from the code
(tests/test_docs.py regenerates it and compares).

    python scripts/cli_reference.py
"""

import importlib
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "cli-reference.md"
# Each tool: its module, and the modules whose flags it adds to the training flags (or, for
# the tools without them, its whole set).
TOOLS = {
    "sdae-train": ("train", "Train one zoo model from flags or a flagfile."),
    "sdae-experiment": ("experiment", "Run an experiment flagfile's cells through the run "
                                      "pool; takes every sdae-train flag too."),
    "sdae-tune": ("tune", "A keras-tuner search; takes every sdae-train flag too."),
    "sdae-models": ("models", "List the shipped models and recipes."),
    "sdae-report": ("report", "Gather finished experiments into the report's tables."),
}
TRAINING = ("sdae_tf.runner.config_flags", "sdae_tf.cli.flags")


def _cell(text):
    text = " ".join(str(text).split())
    if text.startswith("<") and ">: " in text:  # absl's "<a|b>: " before an enum's help
        text = text.split(">: ", 1)[1]
    return text.replace("|", "\\|")


def _rows(flag_list):
    rows = []
    for flag in sorted(flag_list, key=lambda f: f.name):
        allowed = getattr(flag.parser, "enum_values", None)
        default = flag.default
        if isinstance(default, list):
            default = ",".join(map(str, default))
        rows.append(f"| `--{flag.name}` | {'-' if default is None else f'`{default}`'} | "
                    f"{', '.join(allowed) if allowed else '-'} | {_cell(flag.help)} |")
    return rows


def render():
    """The page's text."""
    from absl import flags

    for module, _ in TOOLS.values():
        importlib.import_module(f"sdae_tf.cli.{module}")
    by_module = flags.FLAGS.flags_by_module_dict()
    training = [f for m in TRAINING for f in by_module.get(m, [])]
    backend = flags.FLAGS["backend"]
    lines = ["# Command-line reference", "",
             "Every flag of every tool, generated from the flags the tools define "
             "(`python scripts/cli_reference.py`; a test keeps this page current). A tool's "
             "`--help` prints the same; `--helpfull` adds absl's own flags. A flagfile "
             "(`--flagfile=...`) or a recipe (`--recipe=NAME`) holds any of them.", ""]
    header = ["| flag | default | allowed | what |", "|---|---|---|---|"]
    for tool, (module, what) in TOOLS.items():
        lines += [f"## {tool}", "", what, ""]
        own = [f for f in by_module.get(f"sdae_tf.cli.{module}", [])]
        if module == "train":
            own = training
        elif module in ("models", "report") and backend not in own:
            own = [*own, backend]
        lines += header + _rows(own) + [""]
    from sdae_tf.cli.models import recipe_table
    from sdae_tf.hub import resources

    lines += ["## Recipes", "",
              "Every flagfile of `flags/`, by name (`--recipe=NAME`, or "
              "`--flagfile=flags/.../NAME.flags` from a checkout), as `sdae-models` lists them; "
              "each file's header says what it runs and what it costs.", "",
              recipe_table(resources.list_recipes()), ""]
    return "\n".join(lines)


def main():
    sys.path.insert(0, str(REPO))
    OUT.write_text(render())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
