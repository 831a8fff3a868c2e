"""The one Markdown-table writer."""

from sdae_tf.utils import markdown


def test_table_header_rule_and_cells():
    lines = markdown.table(["a", "b"], [[1, 0.5], ["x", None]])
    assert lines == ["| a | b |", "|---|---|", "| 1 | 0.5 |", "| x | None |"]
    assert markdown.table(["only"], []) == ["| only |", "|---|"]
