"""Tables for `graphport tflite`: the operator list, the summary, parity and accuracy."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graphport.outputs import atomic_path
from graphport.quant.layer_errors import SENSITIVE
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
    console.print(f"mode: {result.mode}{' (' + result.io + ' I/O)' if result.io else ''}   "
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
    for chosen, why in ((True, "kept in float by choice"), (False, "float fallback")):
        items = [item for item in s["float_fallback"] if item["chosen"] == chosen]
        if len(items) > FALLBACK_LINES:  # a long list by op type; --json has every op
            counts = Counter(item["op"] for item in items)
            listing = ", ".join(f"{op} {n}" for op, n in counts.most_common())
            console.print(f"[yellow]{why}[/]: {len(items)} ops: {listing} (all with --json)")
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
        for column in ("output", "values", "max abs err", "mean abs err", "cosine",
                       "top-1 agreement", "shape mismatches", "NaN/Inf mismatches", "verdict"):
            table.add_column(column)
        for row in parity["outputs"]:
            table.add_row(row["key"], str(row["compared"]), optional(row["max_abs"], ".3g"),
                          optional(row["mean_abs"], ".3g"), optional(row["cosine"], ".6f"),
                          optional(row["top1_agreement"], ".2%"), str(row["shape_mismatches"]),
                          str(row["nonfinite_mismatches"]), _verdict(row["verdict"]))
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


def comparison_notes(parity: dict[str, Any]) -> list[str]:
    """How the comparison was made where it is not element by element: outputs compared as
    sets, near-tie samples left out of top-1, detections matched per threshold."""
    notes = []
    sets = [r for r in parity["outputs"] if r.get("compared_as_set")]
    if sets:
        moved = [r["key"] for r in sets if r.get("reordered")]
        notes.append(f"{', '.join(r['key'] for r in sets)}: rows chosen by NMS/top-k, "
                     "compared as sets (rows matched one to one, then measured)"
                     + (f"; {', '.join(moved)} came in another order" if moved else ""))
    for row in parity["outputs"]:
        if row.get("near_ties"):
            notes.append(f"{row['key']}: {row['near_ties']} near-tie rows (the source's own "
                         f"top-2 margin under {parity['tolerance']['tie_margin']:g}) left out "
                         "of top-1 agreement")
    for m in parity.get("detections") or []:
        near = f", {m['near_threshold']} near the threshold" if m["near_threshold"] else ""
        notes.append(f"detections at score >= {m['threshold']:g}: {m['matched']} of "
                     f"{m['reference']} found again, {m['missing']} missing, {m['extra']} "
                     f"extra{near}")
    return notes


def _verdict(verdict: str) -> str:
    style = VERDICT_STYLE.get(verdict, "")
    return f"[{style}]{verdict}[/]" if style else verdict


def _layer_name(tensor: str) -> str:
    """A layer's shortest telling name: its first fused TF node (the full name is in JSON)."""
    parts = [p for p in tensor.split(";") if p]
    return parts[0] + (f" (+{len(parts) - 1})" if len(parts) > 1 else "") if parts else tensor


def render_quant(console: Console, quant: dict[str, Any], limit: int = 15) -> None:
    """The per-layer error table (worst first) and the auto-tuning trade-off table."""
    layers = quant.get("layers")
    if layers is not None:
        table = Table(title=f"Per-layer quantization error on {quant['measured_on']}, worst "
                            "first (noise/signal: median over channels; error/scale ~0.29 is "
                            "rounding alone)", title_justify="left")
        for column in ("#", "op", "layer", "max err", "rms err", "err/scale", "noise/signal",
                       "scale"):
            table.add_column(column, overflow="fold")
        for row in layers[:limit]:
            flag = "[bold red]" if row["sensitive"] else ""
            index = f"{row['subgraph']}:{row['index']}" if row["subgraph"] else str(row["index"])
            name = _layer_name(row["tensor"]) + (" [loop]" if row["in_loop"] else "")
            table.add_row(index, row["op"], escape(name),
                          f"{row['max_abs']:.3g}", f"{row['rms_error']:.3g}",
                          f"{row['error_per_scale']:.3f}",
                          f"{flag}{row['noise_to_signal']:.4f}{'[/]' if flag else ''}",
                          f"{row['scale']:.3g}")
        show(console, table)
        if len(layers) > limit:
            console.print(f"... {len(layers) - limit} more layers in the JSON report")
        if any(r["in_loop"] for r in layers):
            console.print("[loop]: in a while body, measured on the last iteration of each run "
                          "(LiteRT keeps no other)", markup=False)
        sensitive = [_layer_name(r["tensor"]) for r in layers if r["sensitive"]]
        console.print(f"sensitive (noise/signal > {SENSITIVE:g}): "
                      f"{', '.join(sensitive) or 'none'}", markup=False)
    kept = quant["kept_float"]
    if kept["op_types"] or kept["layers"]:
        names = kept["op_types"] + [_layer_name(n) for n in kept["layers"]]
        readers = ", ".join(map(_layer_name, kept["kept_as_readers"]))
        console.print(f"kept in float: {', '.join(names)}" + (
            f" ({readers} read a kept layer's output, which would otherwise be quantized again)"
            if readers else ""), markup=False)
        if kept["int8_weights"]:
            console.print("computing in float on int8 weights: "
                          f"{', '.join(map(_layer_name, kept['int8_weights']))}", markup=False)
    tuning = quant.get("tuning")
    if tuning:
        _render_tuning(console, tuning)


def _render_tuning(console: Console, tuning: dict[str, Any]) -> None:
    table = Table(title=f"Auto-tuning to {tuning['target']}", title_justify="left")
    for column in ("step", "change", "float layers", "size", "top-1", "max err", "latency",
                   "target"):
        table.add_column(column, overflow="fold")
    rows = [(str(i), s) for i, s in enumerate(tuning["steps"])]
    if tuning["all_sensitive"]:
        rows.append(("all sensitive", tuning["all_sensitive"]))
    for label, step in rows:
        chosen = label == str(tuning["chosen"])
        change = f"{step['change']}: {', '.join(map(_layer_name, step['added']))}" \
            if step["added"] else "-"
        weights = f" ({step['int8_weight_layers']} int8 weights)" \
            if step["int8_weight_layers"] else ""
        table.add_row(label + (" (chosen)" if chosen else ""), escape(change),
                      f"{step['float_layers']}{weights}", kb(step["size_bytes"]),
                      optional(step["top1_agreement"], ".2%"),
                      optional(step["max_abs"], ".3g") + (
                          f" ({step['shape_mismatches']} shape mismatches)"
                          if step["shape_mismatches"] else ""),
                      f"{step['latency_ms']:.2f} ms", "met" if step["met"] else "not met",
                      style="bold" if chosen else "")
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
