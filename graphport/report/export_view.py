"""Progress and result tables for the export commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from graphport.progress import Progress, silent
from graphport.report.numbers import VERDICT_STYLE, optional
from graphport.report.tables import show
from graphport.verify.parity import OutputParity


@contextmanager
def progress_reporter(console: Console, quiet: bool = False) -> Iterator[Progress]:
    """A step callback that shows a spinner, the current step (with its ``n/N`` count when the
    step has one) and the elapsed time on a terminal's stderr; silent when quiet or when
    stderr is a pipe or file, so logs hold only results and errors."""
    if quiet or not console.is_terminal:
        yield silent
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with RichProgress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)
        yield lambda message: bar.update(task, description=message)


def parity_table(rows: list[OutputParity], title: str = "Parity with the original graph") -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("output", "shape", "dtype", "max abs err", "max rel err",
                   "NaN/Inf mismatches", "verdict"):
        table.add_column(column)
    for row in rows:
        shape = str(row.shape) if row.shape == row.other_shape else \
            f"{row.shape} vs {row.other_shape}"
        style = VERDICT_STYLE.get(row.verdict, "")
        table.add_row(row.key, shape, row.dtype, optional(row.max_abs), optional(row.max_rel),
                      str(row.nonfinite_mismatches), f"[{style}]{row.verdict}[/]")
    return table


def render_rewrites(console: Console, rewrites: list[dict[str, Any]]) -> None:
    """Per pass: how many places it matched and changed, and its notes."""
    if not rewrites:
        return
    table = Table(title="Graph repairs", title_justify="left")
    for column in ("pass", "matched", "changed", "notes"):
        table.add_column(column)
    for r in rewrites:
        table.add_row(r["name"], str(r["matched"]), str(r["changed"]), "\n".join(r["notes"]))
    show(console, table)


def render_savedmodel(console: Console, result: Any) -> None:
    """Signature mapping, pinned values and parity of a to-savedmodel run."""
    console.print(f"[bold]SavedModel[/] {result.path}  signature: {result.signature}")
    table = Table(title="Signature", title_justify="left")
    for column in ("", "key", "graph tensor", "dtype", "shape"):
        table.add_column(column)
    for item in result.inputs:
        shape = "unknown rank" if item["shape"] is None else str(item["shape"])
        table.add_row("input", item["key"], item["tensor"], item["dtype"], shape)
    for item in result.outputs:
        table.add_row("output", item["key"], item["tensor"], "", "")
    show(console, table)
    render_rewrites(console, result.rewrites)
    for name, value in result.pinned.items():
        console.print(f"pinned {name} = {value}", markup=False)
    for note in result.notes + result.sample_notes:
        console.print(f"note: {note}", markup=False)
    if result.verified:
        show(console, parity_table(result.parity))
        console.print(f"verdict: {result.verdict}", markup=False)
    else:
        console.print("[yellow]not verified[/] (--no-verify)")
    for warning in result.warnings:
        console.print(f"[bold red]warning[/]: {warning}")


def render_freeze(console: Console, result: Any) -> None:
    """What was frozen from what, and the check against the restored checkpoint."""
    console.print(f"[bold]froze[/] {result.checkpoint} with {result.graph}", highlight=False)
    console.print(f"outputs: {', '.join(result.outputs)}; {result.variables} variables "
                  f"({result.parameters:,} parameters) became constants; {result.nodes} nodes "
                  f"kept, {result.dropped_nodes} dropped (saver, initializers, training)",
                  markup=False)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    if result.parity:
        show(console, parity_table(result.parity, "Frozen graph vs restored checkpoint"))
    style = VERDICT_STYLE.get(result.verdict, "")
    console.print(f"verdict: [{style}]{result.verdict}[/]")
    console.print(f"wrote {result.path}", markup=False)
