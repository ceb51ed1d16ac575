"""The `graphport` command line: argument parsing and printing over the Python API."""

from __future__ import annotations

import sys
import tempfile
import traceback
from pathlib import Path

import typer

from graphport import __version__
from graphport.cli import native_log
from graphport.cli.output import err, out, print_json
from graphport.errors import GraphportError

app = typer.Typer(
    name="graphport",
    help="Move legacy TensorFlow frozen graphs (.pb/.pbtxt) to SavedModel and TFLite, verified.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"graphport {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug",
                               help="Show tracebacks and TensorFlow's own log output."),
) -> None:
    _state["debug"] = debug


@app.command()
def inspect(
    model: Path = typer.Argument(..., help="Frozen .pb/.pbtxt, SavedModel directory or .tflite."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    check_tflite: bool = typer.Option(
        False, "--check-tflite", help="Run the TFLite converter once and report per op type."),
) -> None:
    """Show a model's inputs, outputs, ops, parameters, control flow and conversion blockers."""
    from graphport.inspection import inspect_model

    data = inspect_model(model, check_tflite=check_tflite)
    if json_out:
        print_json(data)
    else:
        from graphport.report.inspect_view import render_inspect

        render_inspect(out(), data)


def _not_implemented(command: str) -> None:
    err().print(f"error: `graphport {command}` is not implemented yet", markup=False)
    raise typer.Exit(2)


@app.command("to-savedmodel", context_settings={"ignore_unknown_options": True,
                                                "allow_extra_args": True})
def to_savedmodel_command() -> None:
    """Wrap a frozen graph into a SavedModel with a serving signature, verified."""
    _not_implemented("to-savedmodel")


@app.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def tflite() -> None:
    """Convert to TFLite (float32, fp16, dynamic, int8) with a per-op report."""
    _not_implemented("tflite")


def _report_crash(error: BaseException) -> int:
    with tempfile.NamedTemporaryFile("w", prefix="graphport-crash-", suffix=".txt",
                                     delete=False) as handle:
        traceback.print_exception(error, file=handle)
        handle.write("\nTensorFlow native log (tail):\n" + native_log.native_log_tail())
    err().print(f"error: internal error ({type(error).__name__}: {error})", markup=False)
    err().print(f"hint: traceback saved to {handle.name}; please report it", markup=False)
    return 1


def main() -> None:
    """Console-script entry point: one error path with exit codes 2 (input) and 1 (failure)."""
    debug = "--debug" in sys.argv[1:]
    if not debug:
        native_log.divert_native_stderr()
    try:
        app(prog_name="graphport")
    except GraphportError as error:
        if debug:
            traceback.print_exc()
        err().print(f"error: {error.message}", markup=False)
        if error.hint:
            err().print(f"hint: {error.hint}", markup=False)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        err().print("error: interrupted; no output was written", markup=False)
        sys.exit(130)
    except Exception as error:  # an internal bug: short message, traceback to a file
        if debug:
            raise
        sys.exit(_report_crash(error))
