"""The one Markdown-table writer of the package (reports, tuning results, the model list,
benchmarks)."""


def table(header, rows):
    """`header` (column names) and `rows` (lists of cells, any type) as Markdown lines."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines
