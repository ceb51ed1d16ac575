"""The one progress type: long work reports each step as a short line; the CLI shows it."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def silent(_message: str) -> None:
    """The progress of callers that show none."""


def or_silent(progress: Progress | None) -> Progress:
    return progress or silent
