"""The view of a `graphport run`: each output with its values, or a summary when it is large."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console

from graphport.report.numbers import ROW_LIMIT, cut_text, more_note

PREVIEW = 64  # outputs with at most this many elements are printed whole


def _summary(summary: dict[str, Any]) -> str:
    if not summary:
        return ""
    parts = [f"min {summary['min']:.6g}", f"max {summary['max']:.6g}",
             f"mean {summary['mean']:.6g}"] if "min" in summary else []
    if summary.get("nonfinite"):
        parts.append(f"{summary['nonfinite']} NaN/Inf")
    return ", ".join(parts) or "all NaN/Inf"


def render_run(console: Console, result: Any) -> None:
    """Inputs fed and how they were read, then each output: a summary line, and its values
    when there are few of them (all of them with --json or -o)."""
    fed = ", ".join(f"{i['key']} {i['dtype']} {i['shape']}" for i in result.inputs)
    console.print(f"[bold]{result.kind}[/] {result.model}  ({result.seconds * 1000:.1f} ms)")
    console.print(cut_text(f"inputs: {fed}"), markup=False)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    for output in result.outputs[:ROW_LIMIT]:
        line = f"{output.key}  {output.dtype} {output.shape}  {_summary(output.summary())}"
        console.print(f"[bold]{output.key}[/]{line[len(output.key):].rstrip()}")
        if output.value.size <= PREVIEW:
            text = np.array2string(output.value, precision=6, threshold=PREVIEW,
                                   max_line_width=96)
            console.print("\n".join("  " + row for row in text.splitlines()), markup=False)
    if note := more_note(len(result.outputs)):
        console.print(note, markup=False)
    if result.written:
        console.print(f"wrote {result.written}", markup=False)
