"""Rich tables for `graphport inspect`: the same facts as the JSON, laid out for people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from graphport.report.numbers import ROW_LIMIT, cut_text, more_note
from graphport.report.tables import show

_LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _shape(shape: list[int] | None) -> str:
    if shape is None:
        return "unknown rank"
    return "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _io_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    has_key = any("key" in r for r in rows)
    if has_key:
        table.add_column("key")
    table.add_column("name")
    table.add_column("dtype")
    table.add_column("shape")
    extra = any(r.get("default") is not None or r.get("op") for r in rows)
    if extra:
        table.add_column("op / default")
    for r in rows[:ROW_LIMIT]:
        cells = [r["key"]] if has_key else []
        cells += [r["name"], str(r.get("dtype") or "?"), _shape(r.get("shape"))]
        if extra:
            note = r.get("op") or ""
            if r.get("default") is not None:
                note += f" default={r['default']}"
            if r.get("training_knob"):
                note += " [yellow](training switch?)[/]"
            cells.append(note.strip())
        table.add_row(*cells)
    _note_cut(table, len(rows))
    return table


def _note_cut(table: Table, total: int) -> None:
    note = more_note(total)
    if note:
        table.add_row(note, *[""] * (len(table.columns) - 1))


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("op")
    table.add_column("count", justify="right")
    for op, count in list(counts.items())[:ROW_LIMIT]:
        table.add_row(op, str(count))
    _note_cut(table, len(counts))
    return table


def render_inspect(console: Console, data: Mapping[str, Any]) -> None:
    """Print an inspect report."""
    console.print(f"[bold]{data['path']}[/]  format: {data['format']}  "
                  f"size: {_human_bytes(data['size_bytes'])}")
    if data["format"].startswith("graphdef"):
        console.print(f"nodes: {data['node_count']}  producer: {data['producer']}  "
                      f"control flow: {data['control_flow']['style']}")
    for meta in data.get("meta_graphs", []):  # a SavedModel: all, as saved_model_cli shows
        listed = "; ".join(
            f"{key} ({', '.join(i['key'] for i in sig['inputs']) or '-'} -> "
            f"{', '.join(o['key'] for o in sig['outputs']) or '-'})"
            for key, sig in meta["signatures"].items())
        chosen = " (shown below: " + str(data["signature"]) + ")" \
            if meta["tags"] == data.get("tag_set") else ""
        console.print(f"tag-set {','.join(meta['tags']) or '(none)'}{chosen}: signatures "
                      f"{listed or 'none'}", markup=False)
    show(console, _io_table("Inputs", data["inputs"]))
    show(console, _io_table("Outputs", data["outputs"]))

    show(console, _counts_table("Ops", data["ops"]))
    if data.get("function_ops"):
        show(console, _counts_table("Ops inside functions", data["function_ops"]))

    params = data["params"]
    if "count" in params:
        by_dtype = ", ".join(f"{k} {v['count']:,} ({_human_bytes(v['bytes'])})"
                             for k, v in params.get("by_dtype", {}).items())
        console.print(f"constants: {params['count']:,} values, "
                      f"{_human_bytes(params['bytes'])}  ({by_dtype})", markup=False)
    for const in data.get("largest_constants", []):
        console.print(f"  {const['name']}  {const['dtype']} {_shape(const['shape'])}  "
                      f"{_human_bytes(const['bytes'])}", markup=False)
    if data.get("cut_points"):
        console.print(cut_text("candidate cut points: " + ", ".join(data["cut_points"])),
                      markup=False)
    if data["unsafe_ops"]:
        console.print(Text.assemble(("unsafe ops: ", "bold red"), cut_text(", ".join(
            f"{u['name']} ({u['op']}, {u['kind']}"
            f"{': ' + u['names'] if u.get('names') else ''})" for u in data["unsafe_ops"]))))
    support = data.get("tflite_support")
    if support and not support["ops"]:
        console.print(f"TFLite converter check: {support['error']}", markup=False)
    elif support:
        table = Table(title="TFLite converter check", title_justify="left")
        table.add_column("op")
        table.add_column("as it is")
        table.add_column("after the default repairs")
        measured = (support.get("after_repairs") or {}).get("ops", {})
        for op, status in support["ops"].items():
            if status == "builtin":
                continue
            after = measured.get(op)
            if after is None:
                shown = "-"
            elif after == "builtin":
                shown = f"builtin (by {support['repairs'].get(op) or 'the repairs'})"
            else:
                shown = f"{after} (no pass repaired it)"
            table.add_row(op, status, shown)
        show(console, table)
        console.print(f"builtin ops only: {'yes' if support['builtin_only'] else 'no'} "
                      f"({sum(s == 'builtin' for s in support['ops'].values())} op types "
                      "convert as they are)", markup=False)
        after = support.get("after_repairs")
        if after:
            if after["builtin_only"]:
                verdict = "yes"
            elif after["select_ops"] is None:
                verdict = f"no, the converter fails: {after['error']}"
            else:
                verdict = f"no, still needs {', '.join(after['select_ops'])}"
            console.print(f"after graphport's default repairs, builtin ops only: {verdict}",
                          markup=False)
    for line in data.get("checkpoint", []):
        console.print(f"checkpoint: {line}", markup=False)
    for w in data["warnings"]:
        console.print(f"[{_LEVEL_STYLE[w['level']]}]{w['level']}[/]: "
                      f"{cut_text(w['message'])}")
    if data.get("next_command"):
        console.print("\nnext:", style="bold")
        console.print(f"  {cut_text(data['next_command'])}", markup=False)
        needs = data.get("next_needs", [])
        for need in needs[:ROW_LIMIT]:
            console.print(f"  replace the <...> placeholder: {need}", markup=False)
        note = more_note(len(needs))
        if note:
            console.print(f"  {note}", markup=False)
    cut = data.get("edge_cut")
    if cut and data.get("next_tflite_command"):
        left = [*cut["cut_before"], *cut["cut_after"]]
        console.print(f"  {cut_text(data['next_tflite_command'])}", markup=False)
        console.print(f"  the TFLite model leaves out {', '.join(left)} (no TFLite builtin): "
                      "the app computes them (README: TF1 loops, edges)", markup=False)
