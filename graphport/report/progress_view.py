"""Live progress of a batch on a terminal: models done / failed / remaining, and what each
running model is doing. Nothing on a pipe."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

BatchEvent = Callable[[str, Any, str], None]


@contextmanager
def batch_progress(console: Console, quiet: bool = False) -> Iterator[BatchEvent]:
    """An ``on_event(kind, entry, detail)`` callback drawing one status block."""
    if quiet or not console.is_terminal:
        yield lambda *_: None
        return
    started = time.monotonic()
    running: dict[str, str] = {}
    counts = {"queued": 0, "done": 0, "failed": 0}

    def view() -> Text:
        elapsed = time.monotonic() - started
        remaining = counts["queued"] - counts["done"] - counts["failed"]
        lines = [f"migrated {counts['done']}, failed {counts['failed']}, remaining "
                 f"{remaining} ({len(running)} running)  {elapsed:.0f} s"]
        lines += [f"  {model}: {stage}" for model, stage in running.items()]
        return Text("\n".join(lines))

    with Live(view(), console=console, refresh_per_second=4, transient=True) as live:
        def on_event(kind: str, entry: Any, detail: str) -> None:
            if kind == "queued":
                counts["queued"] += 1
            elif kind == "start":
                running[entry.model] = "starting"
            elif kind == "stage":
                running[entry.model] = detail
            elif kind == "done":
                running.pop(entry.model, None)
                counts["done" if detail == "migrated" else "failed"] += 1
            live.update(view())

        yield on_event
