"""The variants table of `graphport compare`, for the terminal and as Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from graphport.outputs import atomic_path
from graphport.report.numbers import optional
from graphport.report.tables import show

COLUMNS = ("variant", "size", "zipped", "vs float", "ops int8/float/flex", "max abs err",
           "cosine", "top-1 agree", "verdict", "accuracy", "latency (p90)")


def _error(row: dict[str, Any]) -> str:
    """Max abs error, or for a detector the detections found again (padded arrays move
    whenever two scores swap places)."""
    found = row.get("detections")
    if found:
        near = f", {found['near_threshold']} near" if found.get("near_threshold") else ""
        return (f"{found['matched']}/{found['reference']} found, {found['extra']} extra{near} "
                f"(score >= {found['threshold']:g})")
    return optional(row["max_abs"], ".3g")


def variant_cells(row: dict[str, Any]) -> list[str]:
    """One table row as text; a failed variant says why."""
    if row["error"]:
        return [row["name"], f"not built: {row['error']}"] + [""] * (len(COLUMNS) - 2)
    ops = row["ops"]
    latency = row["latency_ms"]
    timing = (f"{latency['median']:.2f} ms ({latency['p90']:.2f} ms)" if latency
              else "not runnable in Python")
    return [row["name"], f"{row['size_bytes'] / 1024:,.1f} KB",
            f"{row['zipped_bytes'] / 1024:,.1f} KB", optional(row["ratio_to_float"], ".3f"),
            f"{ops['int8']}/{ops['float']}/{ops['flex']}", _error(row),
            optional(row["cosine"], ".6f"), optional(row["top1_agreement"], ".2%"),
            row["verdict"] or "-", optional(row["accuracy"], ".4f"), timing]


def _header(data: dict[str, Any]) -> list[str]:
    source = data["source_latency_ms"]
    lines = [f"model: {data['model']}",
             f"TensorFlow source: {source['median']:.2f} ms median ({source['p90']:.2f} ms p90)"
             + (f", accuracy {data['source_accuracy']:.4f}"
                if data["source_accuracy"] is not None else ""),
             f"machine: {data['machine']['platform']}, {data['machine']['cpus']} CPUs; "
             f"threads: {data['threads']} (TensorFlow: all cores); "
             f"{source['runs']} timed runs after {source['warmup']} warm-up"]
    return lines


def render_compare(console: Console, data: dict[str, Any]) -> None:
    table = Table(title="Variants", title_justify="left")
    for column in COLUMNS:  # timings stay on one line, whatever the width
        table.add_column(column, no_wrap=column.startswith("latency"))
    for row in data["variants"]:
        table.add_row(*variant_cells(row))
    show(console, table)
    for line in _header(data):
        console.print(line, markup=False)
    console.print(f"wrote the variants to {data['output_dir']}", markup=False)


def markdown(data: dict[str, Any]) -> str:
    """The same table as GitHub Markdown, for a README or a pull request."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(variant_cells(row)) + " |" for row in data["variants"]]
    return "\n".join(lines + [""] + [f"{line}  " for line in _header(data)]) + "\n"


def write_markdown(path: Path, data: dict[str, Any]) -> None:
    with atomic_path(path, overwrite=True, directory=False) as temp:
        temp.write_text(markdown(data))


def render_bench(console: Console, data: dict[str, Any]) -> None:
    latency = data["latency_ms"]
    console.print(f"{data['model']}: median {latency['median']:.3f} ms, p90 "
                  f"{latency['p90']:.3f} ms, mean {latency['mean']:.3f} ms over "
                  f"{latency['runs']} runs ({latency['warmup']} warm-up), threads "
                  f"{data['threads']}, inputs {data['inputs']}",
                  markup=False)
