"""Tables for `graphport tflite`: the operator list, the summary, parity and accuracy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from graphport.outputs import atomic_path
from graphport.report.numbers import optional

_COMPUTE_STYLE = {"int8": "green", "float": "yellow", "hybrid": "yellow", "flex": "red",
                  "custom": "red", "boundary": "cyan"}


def write_report(path: Path, result: Any) -> None:
    """The full JSON report, written atomically."""
    with atomic_path(path, overwrite=True, directory=False) as temp:
        temp.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")


def _kb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:,.1f} KB"


def render_tflite(console: Console, result: Any) -> None:
    """Operators, summary, sizes, parity and accuracy of one conversion."""
    table = Table(title=f"Operators of {result.path}", title_justify="left")
    for column in ("#", "op", "compute", "inputs", "outputs", "TF nodes"):
        table.add_column(column)
    for row in result.operators:
        style = _COMPUTE_STYLE.get(row["compute"], "")
        index = f"{row['subgraph']}:{row['index']}" if row["subgraph"] else str(row["index"])
        table.add_row(index, row["op"], f"[{style}]{row['compute']}[/]" if style else
                      row["compute"], ",".join(row["inputs"]), ",".join(row["outputs"]),
                      "; ".join(row["tf_nodes"][:3]))
    console.print(table)
    from graphport.report.export_view import render_rewrites

    render_rewrites(console, result.rewrites)
    s = result.summary
    console.print(f"mode: {result.mode}{' (' + result.io + ' I/O)' if result.io else ''}   "
                  f"ops: {s['operators']}  int8: {s['int8']}  float: {s['float']} "
                  f"(hybrid {s['hybrid']})  flex: {s['flex']}  custom: {s['custom']}  "
                  f"quantize/dequantize: {s['quantize']}/{s['dequantize']}", markup=False)
    ratio = f"  ratio to float32: {result.ratio_to_float:.3f}" if result.ratio_to_float else ""
    console.print(f"size: {_kb(result.size_bytes)}  zipped: {_kb(result.zipped_bytes)}{ratio}",
                  markup=False)
    for item in s["float_fallback"]:
        console.print(f"[yellow]float fallback[/]: #{item['index']} {item['op']} "
                      f"({', '.join(item['tf_nodes'][:2])})")
    if result.calibration:
        style = "bold red" if result.calibration["source"] == "random" else ""
        console.print(f"calibration: {result.calibration['description']}", style=style,
                      markup=False)
    parity = result.parity
    if parity["status"] == "checked":
        table = Table(title=f"Parity with the source ({parity['samples']})",
                      title_justify="left")
        for column in ("output", "values", "max abs err", "mean abs err", "cosine",
                       "top-1 agreement", "shape mismatches"):
            table.add_column(column)
        for row in parity["outputs"]:
            table.add_row(row["key"], str(row["compared"]), optional(row["max_abs"], ".3g"),
                          optional(row["mean_abs"], ".3g"), optional(row["cosine"], ".6f"),
                          optional(row["top1_agreement"], ".2%"), str(row["shape_mismatches"]))
        console.print(table)
    elif parity["status"] == "not runnable":
        console.print(f"[bold red]not verified[/]: {parity['reason']}")
    if result.eval:
        e = result.eval
        console.print(f"accuracy on {e['samples']} labelled samples: source "
                      f"{e['source_accuracy']:.4f}, TFLite {e['tflite_accuracy']:.4f} "
                      f"(top-1 agreement {e['top1_agreement']:.2%})", markup=False)
    for warning in result.warnings:
        console.print(f"[bold red]warning[/]: {warning}")
