"""Copies result tables into README.md and the docs, so a measured figure is typed once.

A page marks where a table goes and names its source, a heading of a Markdown file (a results
file under `benchmarks/results/`, or a docs page that holds a curated table):

    <!-- results: benchmarks/results/beyond_report.md#beyond_dropout -->
    (the table, rewritten by this script)
    <!-- end results -->

The block receives the first table under that heading (the whole file's first table when no
heading is given). `rows=A;B` after the source keeps the header and only the rows whose first
cell, or first two cells joined by a space, are A or B (e.g. `1 MNIST, SDAE`), in that order.
tests/test_docs.py fails when a block and its source differ.

    python scripts/docs_results.py            # rewrite every block
    python scripts/docs_results.py --check    # list the stale blocks, exit 1 if any
"""

import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
BEGIN = re.compile(r"<!-- results: (?P<source>[^ #]+)(?:#(?P<heading>[^>]*?))?"
                   r"(?: rows=(?P<rows>[^>]*?))? -->\n")
END = "<!-- end results -->"


def pages():
    """README.md and every docs page that may hold a block."""
    return [REPO / "README.md"] + sorted((REPO / "docs").rglob("*.md"))


def first_table(text, heading=None):
    """The lines of the first Markdown table under `heading` (any level) in `text`."""
    lines = text.splitlines()
    if heading:
        starts = [i for i, line in enumerate(lines)
                  if line.startswith("#") and line.lstrip("#").strip().startswith(heading)]
        if not starts:
            raise KeyError(f"no heading starting {heading!r}")
        lines = lines[starts[0] + 1:]
        ends = [i for i, line in enumerate(lines) if line.startswith("#")]
        lines = lines[:ends[0]] if ends else lines
    table = []
    for line in lines:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    if not table:
        raise KeyError(f"no table under {heading or 'the file start'}")
    return table


def _keys(row):
    cells = [c.strip() for c in row.strip("|").split("|")]
    return cells[0], " ".join(cells[:2])


def select(table, rows):
    """`table`'s header and rule, then the rows named in `rows` (';'-separated), in order."""
    by_key = {key: row for row in table[2:] for key in _keys(row)}
    missing = [r for r in rows.split(";") if r.strip() not in by_key]
    if missing:
        raise KeyError(f"no row {missing[0]!r}")
    return table[:2] + [by_key[r.strip()] for r in rows.split(";")]


def render(text):
    """`text` with every results block refilled from its source."""
    out, pos = [], 0
    for match in BEGIN.finditer(text):
        end = text.index(END, match.end())
        source = REPO / match["source"]
        try:
            table = first_table(source.read_text(), match["heading"])
            if match["rows"]:
                table = select(table, match["rows"])
        except (OSError, KeyError) as err:
            raise SystemExit(f"{match.group(0).strip()}: {err}") from None
        out += [text[pos:match.end()], "\n".join(table), "\n"]
        pos = end
    return "".join(out) + text[pos:]


def stale():
    """The pages (relative paths) whose blocks differ from their sources."""
    return [str(p.relative_to(REPO)) for p in pages() if render(p.read_text()) != p.read_text()]


def main(argv):
    if "--check" in argv:
        bad = stale()
        for page in bad:
            print(f"stale results table in {page}: run python scripts/docs_results.py")
        return 1 if bad else 0
    for page in pages():
        text = page.read_text()
        new = render(text)
        if new != text:
            page.write_text(new)
            print(f"rewrote the results tables of {page.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
