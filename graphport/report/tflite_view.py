"""Tables for `graphport tflite`: the operator list, the summary, parity and accuracy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graphport.outputs import atomic_path
from graphport.quant.layer_errors import SENSITIVE
from graphport.report.cells import (
    LAYER_HEADERS,
    PARITY_HEADERS,
    TUNING_HEADERS,
    by_op_type,
    comparison_notes,
    float_groups,
    layer_cells,
    layer_name,
    parity_cells,
    tuning_rows,
)
from graphport.report.numbers import ROW_LIMIT, VERDICT_STYLE, kb, more_note, optional
from graphport.report.tables import show

# A model's operators are the report's point: many more than other tables, still bounded.
OPERATOR_LIMIT = 1000

_COMPUTE_STYLE = {"int8": "green", "float": "yellow", "hybrid": "yellow", "flex": "red",
                  "custom": "red", "boundary": "cyan"}


def write_json(path: Path, data: Any) -> None:
    """A full JSON report, written atomically."""
    with atomic_path(path, overwrite=True, directory=False) as temp:
        temp.write_text(json.dumps(data, indent=2, default=str) + "\n")


def report_text(result: Any) -> str:
    return json.dumps(result.to_json(), indent=2, default=str) + "\n"


def page_text(result: Any) -> str:
    from graphport.report.html import tflite_page

    return tflite_page(result.to_json())


def side_files(report: str | None, html: str | None) -> dict[Path, Callable[[Any], str]]:
    """--report and --html as files written with the model (together or not at all)."""
    files: dict[Path, Callable[[Any], str]] = {}
    if report:
        files[Path(report)] = report_text
    if html:
        files[Path(html)] = page_text
    return files


FALLBACK_LINES = 8  # more float ops than this are summed up by op type


def render_tflite(console: Console, result: Any) -> None:
    """Operators, summary, sizes, parity and accuracy of one conversion."""
    table = Table(title=f"Operators of {result.path}", title_justify="left")
    for column in ("#", "op", "compute", "inputs", "outputs", "TF nodes"):
        table.add_column(column)
    for row in result.operators[:OPERATOR_LIMIT]:
        style = _COMPUTE_STYLE.get(row["compute"], "")
        index = f"{row['subgraph']}:{row['index']}" if row["subgraph"] else str(row["index"])
        compute = row["compute"] + (" (chosen)" if row["chosen"] else "")
        table.add_row(index, row["op"], f"[{style}]{compute}[/]" if style else compute,
                      ",".join(row["inputs"]), ",".join(row["outputs"]),
                      "; ".join(row["tf_nodes"][:3]))
    note = more_note(len(result.operators), OPERATOR_LIMIT)
    if note:
        table.add_row("", note, "", "", "", "")
    show(console, table)
    from graphport.report.export_view import render_rewrites

    render_rewrites(console, result.rewrites)
    s = result.summary
    console.print(f"mode: {result.mode}{f' ({result.io})' if result.io else ''}   "
                  f"ops: {s['operators']}  int8: {s['int8']}  float: {s['float']} "
                  f"(hybrid {s['hybrid']})  flex: {s['flex']}  custom: {s['custom']}  "
                  f"quantize/dequantize: {s['quantize']}/{s['dequantize']}", markup=False)
    ratio = f"  ratio to float32: {result.ratio_to_float:.3f}" if result.ratio_to_float else ""
    if result.ratio_to_float and result.float_size_source == "estimated":
        ratio += " (float32 size estimated from the constants)"
    zipped = ("about " if result.zipped_estimated else "") + kb(result.zipped_bytes)
    console.print(f"size: {kb(result.size_bytes)}  zipped: {zipped}{ratio}", markup=False)
    if result.compacted_bytes:
        console.print(f"stored once (names, quantization tables, empty buffers): "
                      f"{kb(result.compacted_bytes)} saved", markup=False)
    if result.prune:
        _render_prune(console, result.prune, result.size_bytes, result.zipped_bytes)
    for why, items in float_groups(s):
        if len(items) > FALLBACK_LINES:  # a long list by op type; --json has every op
            console.print(f"[yellow]{why}[/]: {len(items)} ops: {by_op_type(items)} "
                          "(all with --json)")
            continue
        for item in items:
            console.print(f"[yellow]{why}[/]: #{item['index']} {item['op']} "
                          f"({', '.join(item['tf_nodes'][:2])})")
    if result.quant:
        render_quant(console, result.quant)
    if result.calibration:
        style = "bold red" if result.calibration["source"] == "random" else ""
        console.print(f"calibration: {result.calibration['description']}", style=style,
                      markup=False)
    parity = result.parity
    if parity["status"] == "checked":
        table = Table(title=f"Parity with the source ({parity['samples']})",
                      title_justify="left")
        for column in PARITY_HEADERS:
            table.add_column(column)
        for row in parity["outputs"]:
            cells = parity_cells(row)
            table.add_row(*map(escape, cells[:-1]), _verdict(cells[-1]))
        show(console, table)
        for line in comparison_notes(parity):
            console.print(f"note: {line}", markup=False)
        console.print(f"verdict: {_verdict(parity['verdict'])} (mode {result.mode})")
    elif parity["status"] == "not runnable":
        console.print(f"[bold red]not verified[/]: {parity['reason']}")
    if result.eval:
        e = result.eval
        console.print(f"accuracy on {e['samples']} labelled samples: source "
                      f"{e['source_accuracy']:.4f}, TFLite {e['tflite_accuracy']:.4f} "
                      f"(top-1 agreement {e['top1_agreement']:.2%})", markup=False)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    for warning in result.warnings:
        console.print(f"[bold red]warning[/]: {warning}")
    console.print(f"wrote {result.path}", markup=False)


def _verdict(verdict: str) -> str:
    style = VERDICT_STYLE.get(verdict, "")
    return f"[{style}]{verdict}[/]" if style else verdict


def render_quant(console: Console, quant: dict[str, Any], limit: int = 15) -> None:
    """The per-layer error table (worst first) and the auto-tuning trade-off table."""
    layers = quant.get("layers")
    if layers is not None:
        table = Table(title=f"Per-layer quantization error on {quant['measured_on']}, worst "
                            "first (noise/signal: median over channels; error/scale ~0.29 is "
                            "rounding alone)", title_justify="left")
        for column in LAYER_HEADERS:
            table.add_column(column, overflow="fold")
        for row in layers[:limit]:
            cells = [escape(c) for c in layer_cells(row)]
            if row["sensitive"]:
                cells[6] = f"[bold red]{cells[6]}[/]"
            table.add_row(*cells)
        show(console, table)
        if len(layers) > limit:
            console.print(f"... {len(layers) - limit} more layers in the JSON report")
        if any(r["in_loop"] for r in layers):
            console.print("[loop]: in a while body, measured on the last iteration of each run "
                          "(LiteRT keeps no other)", markup=False)
        sensitive = [layer_name(r["tensor"]) for r in layers if r["sensitive"]]
        console.print(f"sensitive (noise/signal > {SENSITIVE:g}): "
                      f"{', '.join(sensitive) or 'none'}", markup=False)
    kept = quant["kept_float"]
    if kept["op_types"] or kept["layers"]:
        names = kept["op_types"] + [layer_name(n) for n in kept["layers"]]
        readers = ", ".join(map(layer_name, kept["kept_as_readers"]))
        console.print(f"kept in float: {', '.join(names)}" + (
            f" ({readers} read a kept layer's output, which would otherwise be quantized again)"
            if readers else ""), markup=False)
        if kept["int8_weights"]:
            console.print("computing in float on int8 weights: "
                          f"{', '.join(map(layer_name, kept['int8_weights']))}", markup=False)
    tuning = quant.get("tuning")
    if tuning:
        _render_tuning(console, tuning)


def _render_tuning(console: Console, tuning: dict[str, Any]) -> None:
    table = Table(title=f"Auto-tuning to {tuning['target']}", title_justify="left")
    for column in TUNING_HEADERS:
        table.add_column(column, overflow="fold")
    for chosen, cells in tuning_rows(tuning):
        table.add_row(*map(escape, cells), style="bold" if chosen else "")
    show(console, table)
    if tuning["chosen"] is None:
        console.print(f"[bold red]target {tuning['target']} cannot be met[/] with every layer "
                      "that adds error in float")


def _render_prune(console: Console, prune: dict[str, Any], size: int, zipped: int) -> None:
    """Per layer sparsity, then the pruned model next to the unpruned one."""
    table = Table(title="Pruned kernels", title_justify="left")
    for column in ("layer", "op", "weights", "elements", "target", "zeros"):
        table.add_column(column)
    for layer in prune["layers"][:ROW_LIMIT]:
        table.add_row(layer["layer"], layer["op"], layer["weights"], str(layer["elements"]),
                      f"{layer['target']:.0%}", f"{layer['sparsity']:.1%}")
    show(console, table)
    plain, sparse = prune["unpruned"], prune["sparse_encoding"]
    console.print(f"pruned {prune['sparsity']:.1%} of the kernels' weights: size "
                  f"{kb(size)} (unpruned {kb(plain['size_bytes'])}), zipped {kb(zipped)} "
                  f"(unpruned {kb(plain['zipped_bytes'])})", markup=False)
    encoding = (f"sparse weight encoding: {kb(sparse['size_bytes'])}, "
                f"{'used' if sparse['used'] else 'not used'}")
    timed = [f"{kind} {sparse[key]:.3f} ms" for kind, key in (
        ("dense", "latency_dense_ms"), ("sparse", "latency_sparse_ms")) if key in sparse]
    if timed:
        encoding += f"; latency {', '.join(timed)}"
    if sparse.get("reason"):
        encoding += f" ({sparse['reason']})"
    console.print(encoding, markup=False)


def render_sweep(console: Console, data: dict[str, Any]) -> None:
    """The pruning trade-off: one row per level, the unpruned model first."""
    table = Table(title=f"Pruning sweep of {data['model']} ({data['mode']})",
                  title_justify="left")
    for column in ("target", "zeros", "size", "zipped", "sparse enc.", "verdict",
                   "max abs err", "accuracy", "top-1 agreement", "latency ms"):
        table.add_column(column)
    plain = data["unpruned"]
    accuracy = plain.get("accuracy")
    table.add_row("unpruned", "0%", kb(plain["size_bytes"]), kb(plain["zipped_bytes"]), "-",
                  "-", "-", "-" if accuracy is None else f"{accuracy:.4f}", "-", "-")
    for row in data["rows"]:
        table.add_row(f"{row['target']:.0%}", f"{row['sparsity']:.1%}",
                      kb(row["size_bytes"]), kb(row["zipped_bytes"]),
                      "yes" if row["sparse_encoding_used"] else "no", _verdict(
                          row["verdict"] or "unverified"), optional(row["max_abs"]),
                      optional(row["accuracy"], ".4f"), optional(row["top1_agreement"], ".2%"),
                      "-" if row["latency_ms"] is None else f"{row['latency_ms']:.3f} ms")
    show(console, table)
    if accuracy is not None:
        console.print("accuracy of the unpruned row: the TensorFlow source's; parity of each "
                      "level: against that source", markup=False)
    console.print("nothing written: pick a level with --prune", markup=False)
