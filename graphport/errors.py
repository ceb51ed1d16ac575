"""The error types the CLI maps to exit codes: 2 for bad input, 1 for failed work."""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar


class GraphportError(Exception):
    """An expected failure with a one-line message for the user and an optional hint."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None,
                 lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # What the one line cannot hold, one line per group (the CLI shows the first few
        # under the error line, --json all of them).
        self.lines: list[str] = lines or []
        self.details: dict[str, Any] = {}  # more for the --json error object

    @property
    def text(self) -> str:
        """The message and its lines."""
        return "\n".join([self.message, *self.lines])


class UserError(GraphportError):
    """Bad input: a file, an option or a value the user can fix (exit code 2)."""

    exit_code = 2


class ConversionError(GraphportError):
    """The input was fine but the work failed: conversion or verification (exit code 1)."""

    exit_code = 1


# --------------------------------------------------------------------------- API terms
# Messages are written as the CLI speaks (``pass --overwrite``). A notebook calling the Python
# API gets the same message in its own terms (``pass overwrite=True``); the CLI says it runs.
_CLI = contextvars.ContextVar("graphport_cli_terms", default=False)
_API_TERMS = [
    ("--overwrite", "overwrite=True"), ("--output", "output"), ("-o", "output"),
    ("--set", "GraphSpec.set_values"), ("--inputs", "GraphSpec.inputs"),
    ("--outputs", "GraphSpec.outputs"), ("--input-shapes", "GraphSpec.input_shapes"),
    ("--passes", "GraphSpec.passes"), ("--no-rewrite", "GraphSpec(passes=[])"),
    ("--allow-unsafe-ops", "GraphSpec(allow_unsafe_ops=True)"),
    ("--signature", "signature"), ("--sample", "VerifySpec.given"),
    ("--no-verify", "VerifySpec(enabled=False)"), ("--no-parity", "VerifySpec(enabled=False)"),
    ("--parity-samples", "VerifySpec.count"), ("--require-parity", "VerifySpec(require=True)"),
    ("--eval", "VerifySpec.eval_file"), ("--calib-samples", "CalibrationSpec.samples"),
    ("--calib", "CalibrationSpec.data"), ("--mean", "mean"), ("--std", "std"),
    ("--bgr", "bgr=True"), ("--int8", "mode='int8'"), ("--fp16", "mode='fp16'"),
    ("--dynamic", "mode='dynamic'"), ("--mode", "mode"), ("--io", "io"),
    ("--input-type", "IoTypes.input"), ("--output-type", "IoTypes.output"),
    ("--strict", "strict=True"), ("--select-ops", "select_ops=True"),
    ("--keep-float", "QuantOptions.keep_float"), ("--debug-quant", "QuantOptions.debug"),
    ("--target-agreement", "QuantOptions.target_agreement"),
    ("--target-error", "QuantOptions.target_error"), ("--input", "inputs"),
    ("--variants", "variants"), ("--runs", "runs"), ("--threads", "threads"),
    ("--prune-sweep", "levels"), ("--prune", "prune"), ("--graph", "graph"),
    ("--modes", "modes"), ("--jobs", "jobs"), ("--config", "config"),
    ("--timeout", "Limits.seconds"), ("--memory-limit", "Limits.memory"),
]
_FLAG = re.compile(r"(?<![\w-])(--?[a-z][\w-]*)")
_TERMS = dict(_API_TERMS)
_COMMAND = re.compile(r"(graphport [^;]*)")  # a suggested command line stays as it is


def use_cli_terms() -> None:
    """Called once by the CLI: messages keep their option names."""
    _CLI.set(True)


def cli_terms_active() -> bool:
    """Whether messages speak in option names (the CLI is running)."""
    return _CLI.get()


def _api_terms(text: str | None) -> str | None:
    if text is None:
        return None
    parts = _COMMAND.split(text)
    return "".join(part if part.startswith("graphport ") else _FLAG.sub(
        lambda m: _TERMS.get(m.group(1), m.group(1)), part) for part in parts)


P = ParamSpec("P")
R = TypeVar("R")


def api_errors(function: Callable[P, R]) -> Callable[P, R]:
    """A public API function: its errors speak in API terms unless the CLI called it."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except GraphportError as error:
            if not _CLI.get():
                error.message = _api_terms(error.message) or error.message
                error.hint = _api_terms(error.hint)
                error.args = (error.message,)
            raise

    return wrapper
