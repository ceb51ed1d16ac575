"""A migrate config (TOML), checked whole when it is read: a misspelled table, a value of the
wrong type or an unknown mode is an error naming the file, the line and the key, before any
model runs (not a worker's failure five seconds later, in API terms).

    [defaults]
    modes = ["float32", "dynamic"]          # or "float32,dynamic"

    [models."faces/mtcnn.pb"]               # path relative to the folder
    set = { min_size = 40, factor = 0.709, thresholds = "0.6,0.7,0.7" }
    input_shapes = { input = [1, 480, 640, 3] }   # or ["input:1,480,640,3"]
    samples = { input = "faces.png" }       # paths relative to the config file
    bgr = true
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphport.errors import UserError
from graphport.spec.modes import MODES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_NAME = "graphport.toml"
PATH_KEYS = ("calib", "graph")


class _Bad(ValueError):
    """A value of the wrong form; the message says what the key takes."""


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise _Bad('takes names: a list ["a", "b"] or a string "a,b"')


def _modes(value: Any) -> list[str]:
    modes = _names(value)
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise _Bad(f"unknown mode {unknown[0]!r}; the modes are {', '.join(MODES)}" if unknown
                   else f"names no mode; the modes are {', '.join(MODES)}")
    return modes


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, int | float) and not isinstance(v, bool)
                                       for v in value):
        return ",".join(str(v) for v in value)
    raise _Bad("takes a number, a string, true/false or a list of numbers per name")


def _values(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Bad("takes a table: { name = value, ... }")
    return {str(k): _scalar_text(v) for k, v in value.items()}


def _shapes(value: Any) -> dict[str, str]:
    """{name = [1, 28, 28, 1]}, {name = "1,28,28,1"} or ["name:1,28,28,1", ...]."""
    if isinstance(value, list):
        pairs = [str(v).rsplit(":", 1) if isinstance(v, str) and ":" in v else None
                 for v in value]
        if any(p is None for p in pairs):
            raise _Bad('takes ["name:1,28,28,1", ...] or { name = [1, 28, 28, 1] }')
        return {p[0]: p[1] for p in pairs if p is not None}
    if not isinstance(value, dict):
        raise _Bad('takes { name = [1, 28, 28, 1] } or ["name:1,28,28,1", ...]')
    shapes = {}
    for name, dims in value.items():
        if isinstance(dims, list) and all(isinstance(d, int) and not isinstance(d, bool)
                                          for d in dims):
            shapes[str(name)] = ",".join(str(d) for d in dims)
        elif isinstance(dims, str):
            shapes[str(name)] = dims
        else:
            raise _Bad(f"{name}: takes a list of integers, e.g. [1, 28, 28, 1]")
    return shapes


def _paths(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Bad('takes a table of strings: { input = "faces.png" }')
    return {str(k): v for k, v in value.items()}


def _typed(kind: type, what: str, check: Callable[[Any], bool] = lambda _: True
           ) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind) \
                or not check(value):
            raise _Bad(f"takes {what}")
        return value
    return parse


def _number(what: str, check: Callable[[float], bool]) -> Callable[[Any], Any]:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not check(value):
            raise _Bad(f"takes {what}")
        return float(value)
    return parse


# Keys a [defaults] or [models."..."] table may hold, each with its parser.
PARSERS: dict[str, Callable[[Any], Any]] = {
    "inputs": _names, "outputs": _names, "passes": _names, "modes": _modes,
    "set": _values, "input_shapes": _shapes, "samples": _paths,
    "bgr": _typed(bool, "true or false"), "skip": _typed(bool, "true or false"),
    "calib": _typed(str, 'a path (or "random")'), "graph": _typed(str, "a path"),
    "calib_samples": _typed(int, "a positive integer", lambda v: v > 0),
    "mean": _number("a number", lambda _: True), "std": _number("a positive number",
                                                                lambda v: v > 0),
}
OPTION_KEYS = frozenset(PARSERS)


@dataclass
class Config:
    """defaults, per-model tables (checked and normalised), the folder paths are relative to."""

    defaults: dict[str, Any] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: Path = Path()
    path: Path | None = None
    text: str = ""

    def where(self, table: str, key: str | None = None) -> str:
        """``file:line`` of a table's header or of a key in it, as precise as the text
        allows."""
        if self.path is None:
            return "config"
        line = _line_of(self.text, table, key)
        return f"{self.path}:{line}" if line else str(self.path)


def _header(line: str) -> str | None:
    match = re.match(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
    return re.sub(r"\s+", "", match[1]) if match else None


def _line_of(text: str, table: str, key: str | None) -> int | None:
    wanted, current, header_line = re.sub(r"\s+", "", table), None, None
    for number, line in enumerate(text.splitlines(), 1):
        header = _header(line)
        if header is not None:
            current = header
            if header_line is None and (header == wanted or header.startswith(wanted + ".")):
                header_line = number
            continue
        if key and current == wanted and re.match(
                rf'^\s*"?{re.escape(key)}"?\s*=', line):
            return number
    return header_line


def _check_table(config: Config, label: str, table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise UserError(f"{config.where(label)}: [{label}] is not a table",
                        f'write it as [{label}] with key = value lines')
    checked = {}
    for key, value in table.items():
        if key not in PARSERS:
            raise UserError(f"{config.where(label, key)}: [{label}] has unknown key {key!r}",
                            f"the keys are {', '.join(sorted(PARSERS))}")
        try:
            checked[key] = PARSERS[key](value)
        except _Bad as error:
            raise UserError(f"{config.where(label, key)}: [{label}] {key} {error}",
                            f"fix {key} in {config.path}") from None
    return checked


def load_config(path: Path | None, root: Path) -> Config:
    """The config named by --config, else graphport.toml in ``root``, else an empty one."""
    if path is None:
        if not (root / CONFIG_NAME).is_file():
            return Config(base=root)
        path = root / CONFIG_NAME
    if not path.is_file():
        raise UserError(f"--config {path}: no such file", "check the path")
    try:
        text = path.read_text()
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: invalid TOML: {error}", "fix the file's syntax") from None
    config = Config(base=path.parent, path=path, text=text)
    unknown = sorted(set(data) - {"defaults", "models"})
    if unknown:
        raise UserError(f"{config.where(unknown[0])}: unknown table [{unknown[0]}]",
                        'the tables are [defaults] and [models."PATH"]')
    config.defaults = _check_table(config, "defaults", data.get("defaults", {}))
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise UserError(f"{path}: models is not a table", 'write [models."PATH"] tables')
    config.models = {name: _check_table(config, f'models."{name}"', table)
                     for name, table in models.items()}
    return config
