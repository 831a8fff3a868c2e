"""The one Markdown-table writer of the package (reports, tuning results, the model list,
benchmarks)."""


def table(header, rows):
    """`header` (column names) and `rows` (lists of cells, any type) as Markdown lines.

    Args:
        header: the column names.
        rows: lists of cells.

    Returns:
        A list of Markdown lines.

    Example:

    ```python
    from sdae_tf.utils import markdown
    markdown.table(["model", "accuracy"], [["sdae_mnist", 0.98]])
    ```
    """
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines
