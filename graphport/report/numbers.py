"""Number formatting and row limits shared by the report tables."""

from __future__ import annotations


def optional(value: float | None, spec: str = ".3g") -> str:
    """A metric that may be missing (no values compared, not a classifier): '-' then."""
    return "-" if value is None else format(value, spec)


def kb(n: int | None) -> str:
    """A size in KB as every report writes it; '-' when unknown."""
    return "-" if n is None else f"{n / 1024:,.1f} KB"


# How each parity verdict is shown: a failing one in bold.
VERDICT_STYLE = {"match": "green", "within tolerance": "green", "degraded": "bold yellow",
                 "unverified": "bold yellow", "mismatch": "bold red"}

# Human views show this many rows of a long table or list; --json has them all. A 300k-node
# graph would otherwise print a 300k-row table (and cost rich far more time than the analysis).
ROW_LIMIT = 40
TEXT_LIMIT = 2000


def more_note(total: int, limit: int = ROW_LIMIT) -> str | None:
    """The line that stands for the rows a view left out, or None when it showed them all."""
    return f"… {total - limit} more (use --json)" if total > limit else None


def cut_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """A long line (a command naming thousands of outputs) cut for people."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} … {len(text) - limit} more characters (use --json)"
