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
    model: str = typer.Argument(..., metavar="MODEL",
                                help="Frozen .pb/.pbtxt, SavedModel directory or .tflite."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    check_tflite: bool = typer.Option(
        False, "--check-tflite", help="Run the TFLite converter once and report per op type."),
) -> None:
    """Show a model's inputs, outputs, ops, parameters, control flow and conversion blockers."""
    from graphport.inspection import inspect_model

    data = inspect_model(Path(model), check_tflite=check_tflite)
    if json_out:
        print_json(data)
    else:
        from graphport.report.inspect_view import render_inspect

        render_inspect(out(), data)


def _assignments(items: list[str], option: str, sep: str = "=") -> dict[str, str]:
    from graphport.export.values import split_assignment

    return dict(split_assignment(item, option, sep) for item in items)


def _passes(passes: str | None, no_rewrite: bool) -> list[str] | None:
    """--passes a,b -> those; --no-rewrite -> none; neither -> the default pipeline (None)."""
    from graphport.errors import UserError
    from graphport.export.prepare import split_names

    if passes and no_rewrite:
        raise UserError("--passes and --no-rewrite contradict each other", "choose one")
    return [] if no_rewrite else split_names(passes)


_PASSES_HELP = "Repair passes to run, comma-separated (default: the default pipeline)."
_NO_REWRITE_HELP = "Skip graph repairs."


@app.command("to-savedmodel")
def to_savedmodel_command(
    graph: str = typer.Argument(..., metavar="GRAPH", help="Frozen GraphDef (.pb or .pbtxt)."),
    inputs: str = typer.Option(None, "--inputs",
                               help="Signature inputs, comma-separated (placeholders or tensors "
                                    "such as batch:0 to cut at). Default: all placeholders."),
    outputs: str = typer.Option(None, "--outputs", help="Signature outputs, comma-separated."),
    set_values: list[str] = typer.Option([], "--set", metavar="NAME=VALUE",
                                         help="Pin a placeholder: 40, 0.6,0.7,0.7, true, "
                                              "@file.npy. Repeatable."),
    input_shapes: list[str] = typer.Option([], "--input-shapes", metavar="NAME:d0,d1,...",
                                           help="Fix unknown dimensions (? keeps one unknown)."),
    signature: str = typer.Option("serving_default", "--signature", help="Signature key."),
    output: str = typer.Option(None, "-o", "--output",
                                help="SavedModel directory (default: GRAPH_savedmodel)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Skip the parity check."),
    allow_unsafe_ops: bool = typer.Option(False, "--allow-unsafe-ops",
                                          help="Allow running graphs with file/network/Python "
                                               "ops."),
    samples: list[str] = typer.Option([], "--sample", metavar="NAME=FILE",
                                      help="Verification input from .npy or an image file."),
    bgr: bool = typer.Option(False, "--bgr", help="Image samples in BGR order (MTCNN, Caffe)."),
    passes: str = typer.Option(None, "--passes", help=_PASSES_HELP),
    no_rewrite: bool = typer.Option(False, "--no-rewrite", help=_NO_REWRITE_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Wrap a frozen graph into a SavedModel with a serving signature, verified."""
    from graphport.export.prepare import split_names
    from graphport.export.savedmodel import to_savedmodel
    from graphport.report.export_view import progress_reporter, render_savedmodel

    with progress_reporter(err(), quiet=json_out) as step:
        result = to_savedmodel(
            Path(graph), Path(output) if output else None,
            split_names(inputs), split_names(outputs),
            _assignments(set_values, "--set"), _assignments(input_shapes, "--input-shapes", ":"),
            signature, overwrite, not no_verify, allow_unsafe_ops,
            _assignments(samples, "--sample"), bgr, _passes(passes, no_rewrite),
            progress=step)
    if json_out:
        print_json(result.to_json())
    else:
        render_savedmodel(out(), result)


@app.command()
def tflite(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="Frozen .pb/.pbtxt or SavedModel directory."),
    output: str = typer.Option(None, "-o", "--output",
                               help="Output .tflite (default: MODEL.<mode>.tflite)."),
    fp16: bool = typer.Option(False, "--fp16", help="float16 weights."),
    dynamic: bool = typer.Option(False, "--dynamic", help="int8 weights, float compute."),
    int8: bool = typer.Option(False, "--int8", help="Full integer with calibration data."),
    io: str = typer.Option(None, "--io", help="With --int8: integer input/output, uint8 or int8."),
    strict: bool = typer.Option(False, "--strict", help="With --int8: fail on any float op."),
    select_ops: bool = typer.Option(False, "--select-ops", help="Allow TF Select (Flex) ops."),
    passes: str = typer.Option(None, "--passes", help=_PASSES_HELP),
    no_rewrite: bool = typer.Option(False, "--no-rewrite", help=_NO_REWRITE_HELP),
    calib: str = typer.Option(None, "--calib",
                              help="Calibration: image folder, .npy, .npz, or 'random'."),
    calib_samples: int = typer.Option(100, "--calib-samples", help="Calibration samples."),
    mean: float = typer.Option(0.0, "--mean", help="Image calibration: subtract this..."),
    std: float = typer.Option(1.0, "--std", help="...then divide by this."),
    bgr: bool = typer.Option(False, "--bgr", help="Images (calibration, samples) in BGR order."),
    inputs: str = typer.Option(None, "--inputs", help="As for to-savedmodel."),
    outputs: str = typer.Option(None, "--outputs", help="As for to-savedmodel."),
    set_values: list[str] = typer.Option([], "--set", metavar="NAME=VALUE",
                                         help="As for to-savedmodel."),
    input_shapes: list[str] = typer.Option([], "--input-shapes", metavar="NAME:d0,d1,...",
                                           help="As for to-savedmodel."),
    allow_unsafe_ops: bool = typer.Option(False, "--allow-unsafe-ops",
                                          help="Allow graphs with file/network/Python ops."),
    no_parity: bool = typer.Option(False, "--no-parity", help="Skip the parity check."),
    samples: list[str] = typer.Option([], "--sample", metavar="NAME=FILE",
                                      help="Parity input: .npy, image (see --bgr) or value."),
    parity_samples: int = typer.Option(16, "--parity-samples", help="Samples for parity."),
    eval_file: str = typer.Option(None, "--eval", help="Labelled .npz (x, y): accuracy."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    no_size_ratio: bool = typer.Option(False, "--no-size-ratio",
                                       help="Skip the float32 reference conversion that the "
                                            "size ratio needs (saves time on big models)."),
    report: str = typer.Option(None, "--report", help="Write the full report as JSON here."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Convert to TFLite (float32, fp16, dynamic, int8) with a per-op report and parity."""
    from graphport.convert.tflite import convert_tflite
    from graphport.errors import UserError
    from graphport.export.prepare import split_names
    from graphport.report.export_view import progress_reporter
    from graphport.report.tflite_view import render_tflite, write_report

    modes = [name for name, on in (("fp16", fp16), ("dynamic", dynamic), ("int8", int8)) if on]
    if len(modes) > 1:
        raise UserError(f"choose one mode, not {' and '.join('--' + m for m in modes)}")
    if report:
        from graphport.outputs import check_target

        check_target(Path(report), overwrite=True, option="--report")
    with progress_reporter(err(), quiet=json_out) as step:
        result = convert_tflite(
            Path(model), Path(output) if output else None, modes[0] if modes else "float32",
            io, strict, select_ops, split_names(inputs), split_names(outputs),
            _assignments(set_values, "--set"), _assignments(input_shapes, "--input-shapes", ":"),
            allow_unsafe_ops, calib, calib_samples, mean, std, bgr, not no_parity,
            parity_samples, Path(eval_file) if eval_file else None, overwrite,
            not no_size_ratio, _passes(passes, no_rewrite), _assignments(samples, "--sample"),
            progress=step)
    if report:
        write_report(Path(report), result)
    if json_out:
        print_json(result.to_json())
    else:
        render_tflite(out(), result)


@app.command()
def compare(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="Frozen .pb/.pbtxt or SavedModel directory."),
    variants: str = typer.Option("float,fp16,dynamic,int8,int8-io", "--variants",
                                 help="Comma-separated: float, fp16, dynamic, int8, int8-io."),
    calib: str = typer.Option(None, "--calib", help="Calibration data for the int8 variants."),
    calib_samples: int = typer.Option(100, "--calib-samples", help="Calibration samples."),
    mean: float = typer.Option(0.0, "--mean", help="Image calibration: subtract this..."),
    std: float = typer.Option(1.0, "--std", help="...then divide by this."),
    bgr: bool = typer.Option(False, "--bgr", help="Image calibration in BGR order."),
    eval_file: str = typer.Option(None, "--eval", help="Labelled .npz (x, y): accuracy."),
    threads: int = typer.Option(None, "--threads", help="Interpreter threads."),
    runs: int = typer.Option(50, "--runs", help="Timed runs per variant."),
    inputs: str = typer.Option(None, "--inputs", help="As for to-savedmodel."),
    outputs: str = typer.Option(None, "--outputs", help="As for to-savedmodel."),
    set_values: list[str] = typer.Option([], "--set", metavar="NAME=VALUE",
                                         help="As for to-savedmodel."),
    input_shapes: list[str] = typer.Option([], "--input-shapes", metavar="NAME:d0,d1,...",
                                           help="As for to-savedmodel."),
    allow_unsafe_ops: bool = typer.Option(False, "--allow-unsafe-ops",
                                          help="Allow graphs with file/network/Python ops."),
    output: str = typer.Option(None, "-o", "--output",
                               help="Directory for the variants (default: MODEL_variants)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Reuse an existing directory."),
    passes: str = typer.Option(None, "--passes", help=_PASSES_HELP),
    no_rewrite: bool = typer.Option(False, "--no-rewrite", help=_NO_REWRITE_HELP),
    samples: list[str] = typer.Option([], "--sample", metavar="NAME=FILE",
                                      help="Input for parity and latency (see --bgr)."),
    markdown_file: str = typer.Option(None, "--markdown", help="Write the table as Markdown."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Build every deployment variant and compare size, accuracy, parity and latency."""
    from graphport.compare import compare_variants
    from graphport.export.prepare import split_names
    from graphport.report.compare_view import render_compare, write_markdown
    from graphport.report.export_view import progress_reporter

    if markdown_file:
        from graphport.outputs import check_target

        check_target(Path(markdown_file), overwrite=True, option="--markdown")
    with progress_reporter(err(), quiet=json_out) as step:
        data = compare_variants(
            Path(model), split_names(variants), Path(output) if output else None, calib,
            calib_samples, mean, std, bgr, Path(eval_file) if eval_file else None, threads,
            runs, inputs=split_names(inputs), outputs=split_names(outputs),
            set_values=_assignments(set_values, "--set"),
            input_shapes=_assignments(input_shapes, "--input-shapes", ":"),
            allow_unsafe_ops=allow_unsafe_ops, overwrite=overwrite,
            passes=_passes(passes, no_rewrite), samples=_assignments(samples, "--sample"),
            progress=step)
    if markdown_file:
        write_markdown(Path(markdown_file), data)
    if json_out:
        print_json(data)
    else:
        render_compare(out(), data)


@app.command()
def rewrite(
    graph: str = typer.Argument(None, metavar="GRAPH", help="Frozen GraphDef (.pb or .pbtxt)."),
    output: str = typer.Option(None, "-o", "--output", help="Repaired frozen graph (.pb)."),
    passes: str = typer.Option(None, "--passes", help=_PASSES_HELP),
    inputs: str = typer.Option(None, "--inputs", help="As for to-savedmodel."),
    outputs: str = typer.Option(None, "--outputs", help="As for to-savedmodel."),
    set_values: list[str] = typer.Option([], "--set", metavar="NAME=VALUE",
                                         help="As for to-savedmodel."),
    input_shapes: list[str] = typer.Option([], "--input-shapes", metavar="NAME:d0,d1,...",
                                           help="As for to-savedmodel."),
    allow_unsafe_ops: bool = typer.Option(False, "--allow-unsafe-ops",
                                          help="Allow graphs with file/network/Python ops."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    list_passes: bool = typer.Option(False, "--list", help="List the passes and exit."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Repair a frozen graph and write it, reporting what each pass matched and changed."""
    from graphport.export.prepare import split_names
    from graphport.passes.rewrite import list_passes as describe
    from graphport.passes.rewrite import rewrite_graph
    from graphport.report.export_view import progress_reporter, render_rewrites

    if list_passes:
        for name, summary, default in describe():
            print(f"{name:26} {'default ' if default else '        '}{summary}")
        return
    if not graph or not output:
        from graphport.errors import UserError

        raise UserError("rewrite needs GRAPH and -o OUT.pb", "or --list to see the passes")
    with progress_reporter(err(), quiet=json_out) as step:
        result = rewrite_graph(
            Path(graph), Path(output), split_names(passes), split_names(inputs),
            split_names(outputs), _assignments(set_values, "--set"),
            _assignments(input_shapes, "--input-shapes", ":"), allow_unsafe_ops, overwrite,
            progress=step)
    if json_out:
        print_json(result)
    else:
        render_rewrites(out(), result["rewrites"])
        out().print(f"wrote {result['path']} ({result['nodes_before']} -> "
                    f"{result['nodes_after']} nodes)", markup=False)


@app.command()
def bench(
    model: str = typer.Argument(..., metavar="MODEL", help="A .tflite model."),
    threads: int = typer.Option(None, "--threads", help="Interpreter threads."),
    runs: int = typer.Option(50, "--runs", help="Timed runs."),
    warmup: int = typer.Option(5, "--warmup", help="Untimed warm-up runs."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Latency of a .tflite model with ai-edge-litert (median and p90)."""
    from graphport.compare import bench_tflite
    from graphport.report.compare_view import render_bench

    data = bench_tflite(Path(model), threads, runs, warmup)
    if json_out:
        print_json(data)
    else:
        render_bench(out(), data)


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
        native_log.divert_native_output()
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
