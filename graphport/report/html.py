"""A report people look at: one self-contained HTML page (inline CSS and SVG, no scripts, no
network) for a TFLite conversion, a variant comparison or a migrate batch."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from graphport.outputs import atomic_path
from graphport.report.numbers import kb

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


def bar_chart(labels: list[str], values: list[float], unit: str = "", width: int = 640) -> str:
    """Horizontal bars as inline SVG, longest first as given."""
    top = max(values, default=0) or 1
    row, left = 22, 260
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        length = (width - left - 80) * value / top
        y = i * row
        bars.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
                    f"{_e(label[:40])}</text>"
                    f'<rect class="bar" x="{left}" y="{y + 4}" width="{length:.1f}" height="14" '
                    f'fill="#e07b39"/><text x="{left + length + 4:.1f}" y="{y + 15}" '
                    f'font-size="12">{value:.4g}{_e(unit)}</text>')
    return (f'<svg role="img" width="{width}" height="{len(values) * row + 4}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>')


def scatter_chart(points: list[tuple[str, float, float]], x_label: str, y_label: str,
                  width: int = 560, height: int = 320) -> str:
    """Labelled points (name, x, y) as inline SVG, axes from zero."""
    if not points:
        return ""
    pad = 50
    max_x = max(p[1] for p in points) * 1.15 or 1
    max_y = max(p[2] for p in points) * 1.15 or 1
    marks = []
    for name, x, y in points:
        cx = pad + (width - 2 * pad) * x / max_x
        cy = height - pad - (height - 2 * pad) * y / max_y
        marks.append(f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="#3367d6"/>'
                     f'<text x="{cx + 7:.1f}" y="{cy - 6:.1f}" font-size="12">{_e(name)}</text>')
    axes = (f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
            f'stroke="#888"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" '
            f'stroke="#888"/><text x="{width / 2}" y="{height - 12}" text-anchor="middle" '
            f'font-size="12">{_e(x_label)}</text><text x="14" y="{height / 2}" '
            f'transform="rotate(-90 14 {height / 2})" text-anchor="middle" font-size="12">'
            f"{_e(y_label)}</text>")
    return (f'<svg role="img" width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg">{axes}{"".join(marks)}</svg>')


def _compute_label(row: dict[str, Any], int8_mode: bool) -> str:
    if row["chosen"]:
        return "float (chosen)"
    if int8_mode and row["compute"] in ("float", "hybrid"):
        return "float fallback"
    return row["compute"]


def tflite_page(data: dict[str, Any]) -> str:
    """A `graphport tflite` result (its ``to_json()``) as one page."""
    int8_mode = data["mode"] == "int8"
    parity = data["parity"]
    sections = [
        f"<p>mode <b>{_e(data['mode'])}</b>{' (' + _e(data['io']) + ' I/O)' if data['io'] else ''}"
        f", size {kb(data['size_bytes'])}, zipped {kb(data['zipped_bytes'])}"
        + (f", ratio to float32 {data['ratio_to_float']:.3f}" if data["ratio_to_float"] else "")
        + f", verdict {_verdict(parity.get('verdict'))}</p>"]
    sections += [f'<p class="warn">warning: {_e(w)}</p>' for w in data["warnings"]]
    sections += [f'<p class="muted">note: {_e(n)}</p>' for n in data.get("notes", [])]
    if parity.get("outputs"):
        sections.append("<h2>Parity with the source</h2><p>" + _e(parity.get("samples")) + "</p>"
                        + _table(["output", "max abs err", "mean abs err", "cosine",
                                  "top-1 agreement", "verdict"],
                                 [[_e(o["key"]), _e(o["max_abs"]), _e(o["mean_abs"]),
                                   _e(o["cosine"]), _e(o["top1_agreement"]),
                                   _verdict(o["verdict"])] for o in parity["outputs"]]))
    elif parity.get("reason"):
        sections.append(f"<h2>Parity</h2><p>{_e(parity['reason'])}</p>")
    if data.get("eval"):
        e = data["eval"]
        sections.append(f"<h2>Accuracy</h2><p>{e['samples']} labelled samples: source "
                        f"{e['source_accuracy']:.4f}, TFLite {e['tflite_accuracy']:.4f}, top-1 "
                        f"agreement {e['top1_agreement']:.2%}</p>")
    fallback = data["summary"]["float_fallback"]
    if int8_mode:
        items = "".join(f"<li>#{f['index']} {_e(f['op'])} ({_e(', '.join(f['tf_nodes'][:3]))})"
                        f"{' — kept in float by choice' if f['chosen'] else ''}</li>"
                        for f in fallback)
        sections.append(f"<h2>Float fallback ({len(fallback)})</h2>"
                        + (f"<ul>{items}</ul>" if items else "<p>none: every op is int8</p>"))
    quant = data.get("quant") or {}
    if quant.get("layers"):
        worst = quant["layers"][:25]
        sections.append("<h2>Per-layer quantization error (RMS error / scale)</h2>"
                        + bar_chart([f"{r['op']} {r['tf_nodes'][0] if r['tf_nodes'] else ''}"
                                     for r in worst], [r["error_per_scale"] for r in worst]))
    tuning = quant.get("tuning")
    if tuning and tuning.get("steps"):
        steps = tuning["steps"]
        sections.append(f"<h2>Tuning to {_e(tuning['target'])}</h2>" + scatter_chart(
            [(f"step {i + 1}", s["size_bytes"] / 1024, (s["top1_agreement"] or 0) * 100)
             for i, s in enumerate(steps)], "size (KB)", "top-1 agreement (%)")
            + _table(["step", "change", "float layers", "size", "top-1 agreement", "max abs",
                      "met"],
                     [[str(i + 1), _e(s["change"]), _e(s["float_layers"]),
                       kb(s["size_bytes"]), _e(s["top1_agreement"]), _e(s["max_abs"]),
                       _e(s["met"])] for i, s in enumerate(steps)]))
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
    """A `graphport compare` result as one page: the table, and size against latency."""
    rows = data["variants"]
    table = _table(
        ["variant", "size", "zipped", "ratio", "verdict", "max abs err", "accuracy",
         "latency ms (median)", "error"],
        [[_e(r["name"]), kb(r["size_bytes"]), kb(r["zipped_bytes"]),
          _e(None if r["ratio_to_float"] is None else f"{r['ratio_to_float']:.3f}"),
          _verdict(r["verdict"]) if r["path"] else "-", _e(r["max_abs"]), _e(r["accuracy"]),
          _e(None if not r["latency_ms"] else f"{r['latency_ms']['median']:.3f}"),
          _e(r["error"])] for r in rows])
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
