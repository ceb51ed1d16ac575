"""Tables that never cut a number or a verdict, at any width.

Rich shrinks a table that is wider than the terminal by cutting cells (``1.19e…``, ``mism…``).
Here every column is at least as wide as its longest number (with its unit) or verdict, so
cells wrap between words and a number is never split or cut (a long name may fold inside its
column); when that does not fit, columns that say nothing (every cell ``-`` or ``0``) are left
out, and when even that does not fit, the table is printed stacked (each row as a block of
``header: value`` lines). On a pipe with no COLUMNS set, a table gets the width it
needs: a file is not a terminal.
"""

from __future__ import annotations

import os
import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Per column: a border and one space of padding on each side.
_COLUMN_OVERHEAD = 3
_NOTHING = frozenset({"", "-", "0"})


def _plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return str(cell)


# What must stay whole: a number with its unit, a verdict. Other words (paths, node names) may
# fold inside a column once they are longer than FOLDABLE.
# A verdict is words: "within tolerance" may wrap between them, never inside one.
_WHOLE = re.compile(r"\(?[-+]?[\d.,]+(?:e[-+]?\d+)?(?: ?(?:KB|MB|GB|B|ms|s|px|%))?\)?|"
                    r"tolerance|mismatch|degraded|unverified|match")
FOLDABLE = 16  # in a cell; a header's words fold past HEADER_FOLDABLE
HEADER_FOLDABLE = 10


def _min_width(text: str, foldable: int = FOLDABLE) -> int:
    whole = max((len(m.group()) for m in _WHOLE.finditer(text)), default=0)
    words = max((min(len(w), foldable) for w in text.split()), default=1)
    return max(whole, words, 1)


def _widths(table: Table) -> tuple[list[int], list[int]]:
    """Per column: the least width that cuts no number or verdict (a column that must not
    wrap: its longest line), and the longest line."""
    mins, lines = [], []
    for column in table.columns:
        texts = [_plain(column.header), *(_plain(c) for c in column.cells)]
        longest = max((len(line) for t in texts for line in t.splitlines() or [""]),
                      default=1)
        mins.append(longest if column.no_wrap else max(
            _min_width(texts[0], HEADER_FOLDABLE), *(_min_width(t) for t in texts[1:])))
        lines.append(longest)
    return mins, lines


def _width_for(console: Console) -> int | None:
    """The width to lay out in: the terminal's, COLUMNS, or None (a pipe: no limit)."""
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console.width
    return None


def show(console: Console, table: Table) -> None:
    """Print ``table`` without cutting any word: wrapped between words, or stacked."""
    words, lines = _widths(table)
    width = _width_for(console)
    if width is None:  # Console.print caps any width at the console's own
        saved = console.width
        console.width = max(sum(lines) + _overhead(len(lines)), saved)
        try:
            console.print(table, crop=False)
        finally:
            console.width = saved
        return
    if sum(words) + _overhead(len(words)) > width:
        kept = [i for i, column in enumerate(table.columns) if not i or not all(
            _plain(c).strip() in _NOTHING for c in column.cells)]
        if sum(words[i] for i in kept) + _overhead(len(kept)) > width:
            _stacked(console, table)
            return
        table = _without(table, kept)
        words, lines = [words[i] for i in kept], [lines[i] for i in kept]
    for column, size in zip(table.columns, _allocate(words, lines, width - _overhead(
            len(words))), strict=True):
        column.width = size  # rich's own shrinking would cut cells or drop columns
        column.overflow = "fold"
    console.print(table)


def _overhead(columns: int) -> int:
    return _COLUMN_OVERHEAD * columns + 1


def _allocate(words: list[int], lines: list[int], room: int) -> list[int]:
    """Column widths within ``room``: each its longest word at least, its longest line at
    most, the space left shared in proportion to what each column would still use."""
    widths = list(words)
    spare = room - sum(widths)
    wants = [max(0, line - word) for word, line in zip(words, lines, strict=True)]
    total = sum(wants)
    if total and spare > 0:
        widths = [w + min(want, spare * want // total) for w, want in
                  zip(widths, wants, strict=True)]
        left = room - sum(widths)
        for i in sorted(range(len(widths)), key=lambda i: wants[i] - (widths[i] - words[i]),
                        reverse=True):
            if left <= 0:
                break
            extra = min(left, lines[i] - widths[i])
            if extra > 0:
                widths[i] += extra
                left -= extra
    return widths


def _without(table: Table, keep: list[int]) -> Table:
    """A copy of ``table`` with only the columns ``keep`` (cells, headers, styles kept)."""
    copy = Table(title=table.title, title_justify=table.title_justify)
    kept = [table.columns[i] for i in keep]
    for column in kept:
        copy.add_column(column.header, justify=column.justify, style=column.style)
    for row in zip(*(list(c.cells) for c in kept), strict=True):
        copy.add_row(*row)
    return copy


def _stacked(console: Console, table: Table) -> None:
    """One block per row: the first cell as its heading, then ``header: value`` lines."""
    if table.title:
        console.print(table.title, markup=False)
    headers = [_plain(c.header) for c in table.columns]
    cells = [[_plain(c) for c in column.cells] for column in table.columns]
    for row in range(table.row_count):
        console.print(cells[0][row] or "-", markup=False)
        for header, column in zip(headers[1:], cells[1:], strict=True):
            if column[row]:
                console.print(f"  {header}: {column[row]}", markup=False)
