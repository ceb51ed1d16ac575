"""A report people look at: one self-contained HTML page (inline CSS and SVG, no scripts, no
network) for a TFLite conversion, a variant comparison or a migrate batch."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from graphport.outputs import atomic_path
from graphport.report.cells import (
    LAYER_HEADERS,
    LAYER_RANK,
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
from graphport.report.numbers import kb
from graphport.spec.io_types import IoTypes
from graphport.spec.modes import calibrated

# How each op computes, as the operator table colours it.
COMPUTE_CLASS = {"int8": "int8", "float fallback": "fallback", "float (chosen)": "chosen",
                 "flex": "flex", "custom": "custom", "float": "float", "hybrid": "fallback"}
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:3px 9px;border:1px solid #ddd;
text-align:left;vertical-align:top}th{background:#f3f3f3}
.int8{background:#dff3df}.fallback{background:#ffe2bf}.chosen{background:#dde8ff}
.flex{background:#ffd0d0}.custom{background:#eddcff}.float{background:#fff}
.verdict-match,.verdict-within-tolerance{color:#17752a;font-weight:600}
.verdict-degraded,.verdict-unverified{color:#9a6400;font-weight:600}
.verdict-mismatch{color:#b3001b;font-weight:700}.warn{color:#b3001b}.muted{color:#777}
.legend span{padding:2px 8px;margin-right:6px;border:1px solid #ccc}
"""


def _e(value: Any) -> str:
    return escape("-" if value is None else str(value))


def _verdict(verdict: str | None) -> str:
    name = verdict or "unverified"
    return f'<span class="verdict-{name.replace(" ", "-")}">{_e(name)}</span>'


def _table(headers: list[str], rows: list[list[str]], row_classes: list[str] | None = None
           ) -> str:
    """Cells are HTML already (escaped by the caller)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        f'<tr{f" class={chr(34)}{row_classes[i]}{chr(34)}" if row_classes else ""}>'
        + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
        for i, row in enumerate(rows))
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1>{body}"
            f'<p class="muted">written by graphport</p></body></html>\n')


def _tick(value: float) -> str:
    return f"{value:.3g}"


def bar_chart(labels: list[str], values: list[float], axis: str, width: int = 640) -> str:
    """Horizontal bars as inline SVG, in the order given (the table's), with a labelled axis
    (0, half, the largest value) under them."""
    top = max(values, default=0) or 1
    row, left, right = 22, 260, 80
    span = width - left - right
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        length = span * value / top
        y = i * row
        bars.append(f'<text class="bar-label" x="{left - 6}" y="{y + 15}" text-anchor="end" '
                    f'font-size="12">{_e(label[:40])}</text>'
                    f'<rect class="bar" x="{left}" y="{y + 4}" width="{length:.1f}" height="14" '
                    f'fill="#e07b39"/><text class="bar-value" x="{left + length + 4:.1f}" '
                    f'y="{y + 15}" font-size="12">{_tick(value)}</text>')
    base = len(values) * row + 6
    ticks = "".join(
        f'<line x1="{left + span * f:.1f}" y1="{base}" x2="{left + span * f:.1f}" '
        f'y2="{base + 4}" stroke="#888"/><text class="tick" x="{left + span * f:.1f}" '
        f'y="{base + 16}" text-anchor="middle" font-size="11">{_tick(top * f)}</text>'
        for f in (0, 0.5, 1))
    axis_svg = (f'<line x1="{left}" y1="{base}" x2="{left + span}" y2="{base}" stroke="#888"/>'
                f'{ticks}<text class="axis" x="{left + span / 2}" y="{base + 32}" '
                f'text-anchor="middle" font-size="12">{_e(axis)}</text>')
    return (f'<svg role="img" width="{width}" height="{base + 40}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(bars)}{axis_svg}</svg>')


def scatter_chart(points: list[tuple[str, float, float]], x_label: str, y_label: str,
                  width: int = 560, height: int = 320) -> str:
    """Labelled points (name, x, y) as inline SVG, axes from zero with their values."""
    if not points:
        return ""
    pad = 56
    max_x = max(p[1] for p in points) * 1.15 or 1
    max_y = max(p[2] for p in points) * 1.15 or 1
    marks = []
    for name, x, y in points:
        cx = pad + (width - 2 * pad) * x / max_x
        cy = height - pad - (height - 2 * pad) * y / max_y
        marks.append(f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="#3367d6"/>'
                     f'<text x="{cx + 7:.1f}" y="{cy - 6:.1f}" font-size="12">{_e(name)}</text>')
    ticks = []
    for f in (0, 0.5, 1):  # at 0, half and the largest value (the axes run 15% past it)
        x = pad + (width - 2 * pad) * f / 1.15
        y = height - pad - (height - 2 * pad) * f / 1.15
        ticks.append(f'<text class="tick" x="{x:.1f}" y="{height - pad + 16}" '
                     f'text-anchor="middle" font-size="11">{_tick(max_x / 1.15 * f)}</text>'
                     f'<text class="tick" x="{pad - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'font-size="11">{_tick(max_y / 1.15 * f)}</text>')
    axes = (f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
            f'stroke="#888"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" '
            f'stroke="#888"/><text class="axis" x="{width / 2}" y="{height - 12}" '
            f'text-anchor="middle" font-size="12">{_e(x_label)}</text><text class="axis" '
            f'x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" '
            f'text-anchor="middle" font-size="12">{_e(y_label)}</text>')
    return (f'<svg role="img" width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg">{axes}{"".join(ticks)}{"".join(marks)}</svg>')


def _compute_label(row: dict[str, Any], int8_mode: bool) -> str:
    if row["chosen"]:
        return "float (chosen)"
    if int8_mode and row["compute"] in ("float", "hybrid"):
        return "float fallback"
    return row["compute"]


def tflite_page(data: dict[str, Any]) -> str:
    """A `graphport tflite` result (its ``to_json()``) as one page."""
    int8_mode = calibrated(data["mode"])
    parity = data["parity"]
    io = f" ({_e(str(IoTypes(**data['io'])))})" if data["io"] else ""
    sections = [
        f"<p>mode <b>{_e(data['mode'])}</b>{io}"
        f", size {kb(data['size_bytes'])}, zipped {kb(data['zipped_bytes'])}"
        + (f", ratio to float32 {data['ratio_to_float']:.3f}" if data["ratio_to_float"] else "")
        + f", verdict {_verdict(parity.get('verdict'))}</p>"]
    sections += [f'<p class="warn">warning: {_e(w)}</p>' for w in data["warnings"]]
    sections += [f'<p class="muted">note: {_e(n)}</p>' for n in data.get("notes", [])]
    if parity.get("outputs"):
        rows = [parity_cells(o) for o in parity["outputs"]]
        sections.append("<h2>Parity with the source</h2><p>" + _e(parity.get("samples")) + "</p>"
                        + _table(PARITY_HEADERS, [[*map(_e, cells[:-1]), _verdict(cells[-1])]
                                                  for cells in rows])
                        + "".join(f'<p class="muted">note: {_e(n)}</p>'
                                  for n in comparison_notes(parity)))
    elif parity.get("reason"):
        sections.append(f"<h2>Parity</h2><p>{_e(parity['reason'])}</p>")
    if data.get("eval"):
        e = data["eval"]
        sections.append(f"<h2>Accuracy</h2><p>{e['samples']} labelled samples: source "
                        f"{e['source_accuracy']:.4f}, TFLite {e['tflite_accuracy']:.4f}, top-1 "
                        f"agreement {e['top1_agreement']:.2%}</p>")
    if int8_mode:
        for why, items in float_groups(data["summary"]):
            listed = "".join(f"<li>#{f['index']} {_e(f['op'])} "
                             f"({_e(', '.join(f['tf_nodes'][:3]))})</li>" for f in items)
            sections.append(f"<h2>{_e(why.capitalize())} ({len(items)})</h2>"
                            + (f"<p>by op type: {_e(by_op_type(items))}</p><ul>{listed}</ul>"
                               if items else "<p>none</p>"))
    quant = data.get("quant") or {}
    if quant.get("layers"):
        worst = quant["layers"][:25]
        sections.append(
            "<h2>Per-layer quantization error, worst first</h2>"
            + bar_chart([layer_name(r["tensor"]) for r in worst],
                        [r[LAYER_RANK] for r in worst], "noise/signal (what the table ranks by)")
            + _table(LAYER_HEADERS, [list(map(_e, layer_cells(r))) for r in worst]))
    tuning = quant.get("tuning")
    if tuning and tuning.get("steps"):
        shown = tuning_rows(tuning)
        points = [(cells[0], step["size_bytes"] / 1024, (step["top1_agreement"] or 0) * 100)
                  for (_, cells), step in zip(shown, tuning["steps"], strict=False)]
        sections.append(f"<h2>Tuning to {_e(tuning['target'])}</h2>"
                        + scatter_chart(points, "size (KB)", "top-1 agreement (%)")
                        + _table(TUNING_HEADERS, [list(map(_e, cells)) for _, cells in shown]))
    if data.get("prune"):
        prune = data["prune"]
        sections.append(f"<h2>Pruning</h2><p>{prune['sparsity']:.1%} of the kernels' weights "
                        f"are zero; unpruned: {kb(prune['unpruned']['size_bytes'])}, zipped "
                        f"{kb(prune['unpruned']['zipped_bytes'])}</p>")
    legend = "".join(f'<span class="{cls}">{_e(label)}</span>'
                     for label, cls in COMPUTE_CLASS.items() if label != "hybrid")
    operators = data["operators"]
    labels = [_compute_label(r, int8_mode) for r in operators]
    sections.append(
        f"<h2>Operators ({len(operators)})</h2><p class=\"legend\">{legend}</p>" + _table(
            ["#", "op", "computes in", "TF nodes"],
            [[_e(r["index"]), _e(r["op"]), _e(label), _e("; ".join(r["tf_nodes"][:3]))]
             for r, label in zip(operators, labels, strict=True)],
            [COMPUTE_CLASS.get(label, "float") for label in labels]))
    return _page(f"graphport tflite: {data['path']}", "".join(sections))


def compare_page(data: dict[str, Any]) -> str:
    """A `graphport compare` result as one page: the terminal's table, and size against
    latency."""
    from graphport.report.compare_view import COLUMNS, variant_cells

    rows = data["variants"]
    verdict_at = COLUMNS.index("verdict")
    table = _table(list(COLUMNS), [
        [_verdict(c) if i == verdict_at and r["path"] else _e(c)
         for i, c in enumerate(variant_cells(r))] for r in rows])
    points = [(r["name"] + (f" ({r['accuracy']:.3f})" if r["accuracy"] is not None else ""),
               r["size_bytes"] / 1024, r["latency_ms"]["median"])
              for r in rows if r["size_bytes"] and r["latency_ms"]]
    source = data["source_latency_ms"]
    body = (f"<p>TensorFlow source: {source['median']:.3f} ms median"
            + (f", accuracy {data['source_accuracy']:.4f}" if data["source_accuracy"] else "")
            + f"; measured on {_e(data['machine'].get('platform'))}</p>" + table
            + "<h2>Size against latency (accuracy in brackets)</h2>"
            + scatter_chart(points, "size (KB)", "median latency (ms)"))
    return _page(f"graphport compare: {data['model']}", body)


def migrate_page(data: dict[str, Any]) -> str:
    """A `graphport migrate` summary as one page."""
    rows = [[_e(m["model"]), _e(m["status"] + (" (unchanged)" if m.get("reused") else "")),
             _verdict(m["verdict"]),
             _e(", ".join(f"{k} {kb(v)}" for k, v in m["sizes"].items()) or None),
             _e(", ".join(m["flex_ops"]) or None), _e(f"{m['seconds']:.1f} s"),
             _e(m["error"]) + (f'<br><span class="muted">hint: {_e(m["hint"])}</span>'
                               if m["hint"] else "")]
            for m in data["models"]]
    classes = ["int8" if m["status"] == "migrated" else "fallback"
               if m["status"] == "partial" else "flex" if m["status"] == "failed" else "float"
               for m in data["models"]]
    return _page(f"graphport migrate: {data['source']}", _table(
        ["model", "status", "verdict", "sizes", "Flex ops", "time", "error"], rows, classes))


def write_html(path: Path, page: str) -> None:
    with atomic_path(path, overwrite=True, directory=False) as temp:
        temp.write_text(page, encoding="utf-8")
