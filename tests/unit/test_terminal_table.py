"""The one terminal table renderer: padding, rule, no trailing spaces."""

from __future__ import annotations

from touchline.terminal_table import align


def test_columns_are_padded_to_the_widest_cell_without_trailing_spaces():
    lines = align([["r-1", "3", ""], ["rep-long", "12", "x"]], ["rep", "touches", "flag"],
                  rule=True)
    assert lines == [
        "rep       touches  flag",
        "--------  -------  ----",
        "r-1       3",
        "rep-long  12       x",
    ]


def test_without_header_rows_alone():
    assert align([("a", "bb", "c"), ("ddd", "e", "ff")]) == ["a    bb  c", "ddd  e   ff"]


def test_a_header_without_rows_and_nothing_at_all():
    assert align([], ["x", "yy"], rule=True) == ["x  yy", "-  --"]
    assert align([]) == []
