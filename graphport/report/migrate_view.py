"""The migrate summary for people: a Markdown table (summary.md) and the console view."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from graphport.report.numbers import VERDICT_STYLE
from graphport.report.tables import show

_STATUS_STYLE = {"migrated": "green", "skipped": "dim", "partial": "bold yellow",
                 "failed": "bold red"}


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n < 1 << 20 else f"{n / 2**20:.2f} MB"


def _row(m: dict[str, Any]) -> list[str]:
    sizes = ", ".join(f"{mode} {_size(n)}" for mode, n in m["sizes"].items()) or "-"
    fallbacks = ", ".join(f"{mode} {n}" for mode, n in m["float_fallbacks"].items()
                          if mode == "int8") or "-"
    status = m["status"] + (" (unchanged)" if m.get("reused") else "")
    return [m["model"], status, m["verdict"], sizes, fallbacks,
            ", ".join(m["flex_ops"]) or "-", f"{m['seconds']:.1f} s"]


HEADERS = ["model", "status", "verdict", "sizes", "float fallbacks", "Flex ops", "time"]


def notes(m: dict[str, Any]) -> list[str]:
    """What graphport decided for a model beyond its status: options taken from inspect,
    earlier outputs kept, the user's files left in place."""
    found = []
    if m.get("applied"):
        found.append("applied from inspect: " + "; ".join(m["applied"]))
    if m.get("kept_previous"):
        found.append("this run did worse: the earlier outputs were kept")
    if m.get("kept_files"):
        found.append("your files kept in place: " + ", ".join(m["kept_files"]))
    return found


def summary_markdown(data: dict[str, Any]) -> str:
    """The summary as Markdown: one row per model, then what went wrong and what to try."""
    counts = ", ".join(f"{n} {status}" for status, n in sorted(data["counts"].items()))
    lines = [f"# graphport migrate: {data['source']}", "",
             f"{len(data['models'])} models: {counts}.", "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _row(m)) + " |"
              for m in data["models"]]
    noted = [(m, notes(m)) for m in data["models"] if notes(m)]
    if noted:
        lines += ["", "## Notes", ""]
        lines += [f"- **{m['model']}**: {note}" for m, found in noted for note in found]
    problems = [m for m in data["models"] if m["error"] and m["status"] != "skipped"]
    if problems:
        lines += ["", "## Not migrated", ""]
        for m in problems:
            lines.append(f"- **{m['model']}** ({m['status']}): {m['error']}")
            if m["hint"]:
                lines.append(f"  - hint: {m['hint']}")
            if m["next_command"]:
                lines.append(f"  - try: `{m['next_command']}`")
    return "\n".join(lines) + "\n"


def render_migrate(console: Console, data: dict[str, Any]) -> None:
    table = Table(title=f"graphport migrate: {data['source']} -> {data['out']}",
                  title_justify="left")
    for column in HEADERS:
        table.add_column(column)
    for m in data["models"]:
        row = _row(m)
        row[1] = f"[{_STATUS_STYLE.get(m['status'], '')}]{row[1]}[/]"
        row[2] = f"[{VERDICT_STYLE.get(m['verdict'], '')}]{row[2]}[/]"
        table.add_row(*row)
    show(console, table)
    for m in data["models"]:
        for note in notes(m):
            console.print(f"{m['model']}: {note}", markup=False)
        if m["error"] and m["status"] != "skipped":
            console.print(f"{m['model']}: {m['error']}", markup=False)
            if m["hint"]:
                console.print(f"  hint: {m['hint']}", markup=False)
            if m["next_command"]:
                console.print(f"  try: {m['next_command']}", markup=False)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(data["counts"].items()))
    console.print(f"{len(data['models'])} models: {counts}; summary in {data['out']}/summary.md",
                  markup=False)
