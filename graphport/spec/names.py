"""The name grammar of the command line: comma-separated lists and ``NAME=VALUE`` pairs.
Plain string parsing, so the CLI can use it without loading numpy."""

from __future__ import annotations

import re

from graphport.errors import UserError


def split_names(text: str | None) -> list[str] | None:
    """``a,b`` -> ['a', 'b'], commas inside parentheses kept (``fold(a=1,b=2),x``);
    None or empty -> None (use the discovered ones)."""
    if not text:
        return None
    items, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [t.strip() for t in items if t.strip()] or None


def split_assignment(text: str, option: str, sep: str = "=", last: bool = False
                     ) -> tuple[str, str]:
    """``NAME=VALUE`` -> (NAME, VALUE), or a UserError naming the option; ``last``: split at
    the last separator (``X:0:1,784``)."""
    name, found, value = text.rpartition(sep) if last else text.partition(sep)
    if not found or not name.strip() or not value.strip():
        raise UserError(f"{option} {text!r}: expected NAME{sep}VALUE",
                        f"for example {option} min_size{sep}40" if sep == "=" else
                        f"for example {option} input{sep}1,224,224,3 or "
                        f"{option} input[1,224,224,3]")
    return name.strip(), value.strip()


_BRACKETED = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<dims>[^\[\]]*)\]$")


def split_shape(text: str, option: str = "--input-shapes") -> tuple[str, str]:
    """``X:1,784``, ``X:0:1,784`` (a tensor name) or ``X[1,784]`` (tf2onnx/onnx2tf style)
    -> (X, "1,784"). The shape follows the last colon, so tensor names keep their index."""
    bracketed = _BRACKETED.match(text.strip())
    if bracketed:
        name, dims = bracketed["name"].strip(), bracketed["dims"].strip()
        if name and dims:
            return name, dims
    return split_assignment(text, option, ":", last=True)
