"""Aligned plain-text tables for the terminal: the one renderer every CLI report uses.

`touchline query`, `touchline report cadences|variation` and the bench summary all print
columns padded to their widest cell, two spaces apart, with no trailing spaces.
"""

from __future__ import annotations

from collections.abc import Sequence


def align(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None, *,
          rule: bool = False) -> list[str]:
    """The lines of an aligned table.

    Args:
        rows: the cells, already text; every row has as many cells as the header.
        header: column names, printed first when given.
        rule: draw a line of dashes under the header.

    Returns:
        One string per line (header, rule, then rows), without trailing spaces.
    """
    table = [list(header)] if header is not None else []
    table += [list(r) for r in rows]
    if not table:
        return []
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(table[0])] if header is not None else []
    if header is not None and rule:
        out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in table[1 if header is not None else 0:]]
    return out
