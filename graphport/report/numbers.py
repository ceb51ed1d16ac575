"""Number formatting shared by the report tables."""

from __future__ import annotations


def optional(value: float | None, spec: str = ".3g") -> str:
    """A metric that may be missing (no values compared, not a classifier): '-' then."""
    return "-" if value is None else format(value, spec)
