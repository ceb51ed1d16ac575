"""The formatted cells every view of a result shows, made once: the terminal and the HTML page
print the same strings, so they cannot disagree (issue 26, item 15)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from graphport.report.numbers import kb, optional

PARITY_HEADERS = ["output", "values", "max abs err", "mean abs err", "cosine",
                  "top-1 agreement", "shape mismatches", "NaN/Inf mismatches", "verdict"]
TUNING_HEADERS = ["step", "change", "float layers", "size", "top-1", "max err", "latency",
                  "target"]
LAYER_HEADERS = ["#", "op", "layer", "max err", "rms err", "err/scale", "noise/signal", "scale"]
# What the per-layer table ranks by (worst first), and what its chart draws.
LAYER_RANK = "noise_to_signal"


def parity_cells(row: dict[str, Any]) -> list[str]:
    return [row["key"], str(row["compared"]), optional(row["max_abs"], ".3g"),
            optional(row["mean_abs"], ".3g"), optional(row["cosine"], ".6f"),
            optional(row["top1_agreement"], ".2%"), str(row["shape_mismatches"]),
            str(row["nonfinite_mismatches"]), row["verdict"]]


def layer_name(tensor: str) -> str:
    """A layer's shortest telling name: its first fused TF node (the full name is in JSON)."""
    parts = [p for p in tensor.split(";") if p]
    return parts[0] + (f" (+{len(parts) - 1})" if len(parts) > 1 else "") if parts else tensor


def layer_cells(row: dict[str, Any]) -> list[str]:
    index = f"{row['subgraph']}:{row['index']}" if row["subgraph"] else str(row["index"])
    name = layer_name(row["tensor"]) + (" [loop]" if row["in_loop"] else "")
    return [index, row["op"], name, f"{row['max_abs']:.3g}", f"{row['rms_error']:.3g}",
            f"{row['error_per_scale']:.3f}", f"{row['noise_to_signal']:.4f}",
            f"{row['scale']:.3g}"]


def tuning_rows(tuning: dict[str, Any]) -> list[tuple[bool, list[str]]]:
    """(chosen, cells) per tuning step, numbered from 0 (the starting point) as the chosen
    index counts them, then the all-sensitive row."""
    rows = [(str(i), s) for i, s in enumerate(tuning["steps"])]
    if tuning["all_sensitive"]:
        rows.append(("all sensitive", tuning["all_sensitive"]))
    shown = []
    for label, step in rows:
        chosen = label == str(tuning["chosen"])
        change = f"{step['change']}: {', '.join(map(layer_name, step['added']))}" \
            if step["added"] else "-"
        weights = f" ({step['int8_weight_layers']} int8 weights)" \
            if step["int8_weight_layers"] else ""
        shown.append((chosen, [
            label + (" (chosen)" if chosen else ""), change,
            f"{step['float_layers']}{weights}", kb(step["size_bytes"]),
            optional(step["top1_agreement"], ".2%"),
            optional(step["max_abs"], ".3g") + (
                f" ({step['shape_mismatches']} shape mismatches)"
                if step["shape_mismatches"] else ""),
            f"{step['latency_ms']:.2f} ms", "met" if step["met"] else "not met"]))
    return shown


def float_groups(summary: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The float ops of an int8 model in the two groups every view shows: kept in float by
    choice, and float fallback (no int8 kernel)."""
    return [(why, [item for item in summary["float_fallback"] if item["chosen"] == chosen])
            for chosen, why in ((True, "kept in float by choice"), (False, "float fallback"))]


def by_op_type(items: list[dict[str, Any]]) -> str:
    return ", ".join(f"{op} {n}" for op, n in Counter(i["op"] for i in items).most_common())


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
    steps = [f"{r['key']} {r['max_lsb']:.1f}" for r in parity["outputs"]
             if r.get("max_lsb") is not None]
    if steps:
        notes.append(f"largest error in steps of the quantized output (LSB): {', '.join(steps)}")
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
