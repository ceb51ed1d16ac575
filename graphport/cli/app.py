"""The `graphport` command line: argument parsing and printing over the Python API."""

import sys
import tempfile
import traceback
from pathlib import Path

import typer

from graphport import __version__
from graphport.cli import native_log
from graphport.cli import options as opt
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
    json_out: opt.Json = False,
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


def _assignments(items: list[str] | None, option: str, sep: str = "=") -> dict[str, str]:
    from graphport.export.values import split_assignment

    return dict(split_assignment(item, option, sep) for item in items or [])


def _graph_options(inputs: str | None, outputs: str | None, set_values: list[str] | None,
                   input_shapes: list[str] | None) -> dict:
    """The options that choose and pin a frozen graph's signature, parsed once for all."""
    from graphport.export.prepare import split_names

    return {"inputs": split_names(inputs), "outputs": split_names(outputs),
            "set_values": _assignments(set_values, "--set"),
            "input_shapes": _assignments(input_shapes, "--input-shapes", ":")}


def _passes(passes: str | None, no_rewrite: bool) -> list[str] | None:
    """--passes a,b -> those; --no-rewrite -> none; neither -> the default pipeline (None)."""
    from graphport.errors import UserError
    from graphport.export.prepare import split_names

    if passes and no_rewrite:
        raise UserError("--passes and --no-rewrite contradict each other", "choose one")
    return [] if no_rewrite else split_names(passes)


@app.command("to-savedmodel")
def to_savedmodel_command(
    graph: str = typer.Argument(..., metavar="GRAPH", help="Frozen GraphDef (.pb or .pbtxt)."),
    inputs: opt.Inputs = None,
    outputs: opt.Outputs = None,
    set_values: opt.SetValues = None,
    input_shapes: opt.InputShapes = None,
    signature: str = typer.Option("serving_default", "--signature", help="Signature key."),
    output: str = typer.Option(None, "-o", "--output",
                               help="SavedModel directory (default: GRAPH_savedmodel)."),
    overwrite: opt.Overwrite = False,
    no_verify: bool = typer.Option(False, "--no-verify", help="Skip the parity check."),
    allow_unsafe_ops: opt.AllowUnsafeOps = False,
    samples: opt.Samples = None,
    bgr: opt.Bgr = False,
    passes: opt.Passes = None,
    no_rewrite: opt.NoRewrite = False,
    json_out: opt.Json = False,
) -> None:
    """Wrap a frozen graph into a SavedModel with a serving signature, verified."""
    from graphport.export.savedmodel import to_savedmodel
    from graphport.report.export_view import progress_reporter, render_savedmodel

    graph_options = _graph_options(inputs, outputs, set_values, input_shapes)
    with progress_reporter(err(), quiet=json_out) as step:
        result = to_savedmodel(
            Path(graph), Path(output) if output else None, **graph_options,
            signature=signature, overwrite=overwrite, verify=not no_verify,
            allow_unsafe_ops=allow_unsafe_ops, samples=_assignments(samples, "--sample"),
            bgr=bgr, passes=_passes(passes, no_rewrite), progress=step)
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
    passes: opt.Passes = None,
    no_rewrite: opt.NoRewrite = False,
    calib: opt.Calib = None,
    calib_samples: opt.CalibSamples = 100,
    mean: opt.Mean = 0.0,
    std: opt.Std = 1.0,
    bgr: opt.Bgr = False,
    inputs: opt.Inputs = None,
    outputs: opt.Outputs = None,
    set_values: opt.SetValues = None,
    input_shapes: opt.InputShapes = None,
    allow_unsafe_ops: opt.AllowUnsafeOps = False,
    no_parity: bool = typer.Option(False, "--no-parity", help="Skip the parity check."),
    samples: opt.Samples = None,
    parity_samples: int = typer.Option(16, "--parity-samples", help="Samples for parity."),
    eval_file: opt.EvalFile = None,
    overwrite: opt.Overwrite = False,
    no_size_ratio: bool = typer.Option(False, "--no-size-ratio",
                                       help="Skip the float32 reference conversion that the "
                                            "size ratio needs (saves time on big models)."),
    keep_float: str = typer.Option(
        None, "--keep-float", help="With --int8: keep these in float, comma-separated: op types "
                                   "(FULLY_CONNECTED) or TF node names / scopes (fc1)."),
    debug_quant: bool = typer.Option(
        False, "--debug-quant", help="With --int8: per-layer quantization error, worst first "
                                     "(on the --eval data if given, else the calibration data)."),
    target_agreement: float = typer.Option(
        None, "--target-agreement", help="With --int8: keep the worst layers in float until top-1 "
                                         "agreement with the source reaches this (e.g. 0.99)."),
    target_error: float = typer.Option(
        None, "--target-error", help="With --int8: ... until every output's max abs error is at "
                                     "most this."),
    report: str = typer.Option(None, "--report", help="Write the full report as JSON here."),
    json_out: opt.Json = False,
) -> None:
    """Convert to TFLite (float32, fp16, dynamic, int8) with a per-op report and parity."""
    from graphport.convert.tflite import convert_tflite
    from graphport.errors import UserError
    from graphport.export.prepare import split_names
    from graphport.quant.int8 import QuantOptions, TargetNotMet
    from graphport.report.export_view import progress_reporter
    from graphport.report.tflite_view import render_quant, render_tflite, write_report

    modes = [name for name, on in (("fp16", fp16), ("dynamic", dynamic), ("int8", int8)) if on]
    if len(modes) > 1:
        raise UserError(f"choose one mode, not {' and '.join('--' + m for m in modes)}")
    if report:
        from graphport.outputs import check_target

        check_target(Path(report), overwrite=True, option="--report")
    graph_options = _graph_options(inputs, outputs, set_values, input_shapes)
    quant = QuantOptions(split_names(keep_float) or [], debug_quant, target_agreement,
                         target_error)
    try:
        with progress_reporter(err(), quiet=json_out) as step:
            result = convert_tflite(
                Path(model), Path(output) if output else None,
                modes[0] if modes else "float32", io, strict, select_ops, **graph_options,
                allow_unsafe_ops=allow_unsafe_ops, calib=calib, calib_samples=calib_samples,
                mean=mean, std=std, bgr=bgr, parity=not no_parity,
                parity_samples=parity_samples, eval_file=Path(eval_file) if eval_file else None,
                overwrite=overwrite, size_ratio=not no_size_ratio,
                passes=_passes(passes, no_rewrite), samples=_assignments(samples, "--sample"),
                quant=quant, progress=step)
    except TargetNotMet as failure:  # the measured curve is the answer to "why not"
        if json_out:
            print_json({"error": failure.message, "quant": failure.outcome.to_json()})
        else:
            render_quant(out(), failure.outcome.to_json())
        raise
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
    calib: opt.Calib = None,
    calib_samples: opt.CalibSamples = 100,
    mean: opt.Mean = 0.0,
    std: opt.Std = 1.0,
    bgr: opt.Bgr = False,
    eval_file: opt.EvalFile = None,
    threads: opt.Threads = None,
    runs: opt.Runs = 50,
    inputs: opt.Inputs = None,
    outputs: opt.Outputs = None,
    set_values: opt.SetValues = None,
    input_shapes: opt.InputShapes = None,
    allow_unsafe_ops: opt.AllowUnsafeOps = False,
    output: str = typer.Option(None, "-o", "--output",
                               help="Directory for the variants (default: MODEL_variants)."),
    overwrite: opt.Overwrite = False,
    passes: opt.Passes = None,
    no_rewrite: opt.NoRewrite = False,
    samples: opt.Samples = None,
    markdown_file: str = typer.Option(None, "--markdown", help="Write the table as Markdown."),
    json_out: opt.Json = False,
) -> None:
    """Build every deployment variant and compare size, accuracy, parity and latency."""
    from graphport.compare import compare_variants
    from graphport.export.prepare import split_names
    from graphport.report.compare_view import render_compare, write_markdown
    from graphport.report.export_view import progress_reporter

    if markdown_file:
        from graphport.outputs import check_target

        check_target(Path(markdown_file), overwrite=True, option="--markdown")
    graph_options = _graph_options(inputs, outputs, set_values, input_shapes)
    with progress_reporter(err(), quiet=json_out) as step:
        data = compare_variants(
            Path(model), split_names(variants), Path(output) if output else None, calib,
            calib_samples, mean, std, bgr, Path(eval_file) if eval_file else None, threads,
            runs, **graph_options, allow_unsafe_ops=allow_unsafe_ops, overwrite=overwrite,
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
    passes: opt.Passes = None,
    inputs: opt.Inputs = None,
    outputs: opt.Outputs = None,
    set_values: opt.SetValues = None,
    input_shapes: opt.InputShapes = None,
    allow_unsafe_ops: opt.AllowUnsafeOps = False,
    overwrite: opt.Overwrite = False,
    list_passes: bool = typer.Option(False, "--list", help="List the passes and exit."),
    json_out: opt.Json = False,
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
    graph_options = _graph_options(inputs, outputs, set_values, input_shapes)
    with progress_reporter(err(), quiet=json_out) as step:
        result = rewrite_graph(Path(graph), Path(output), split_names(passes), **graph_options,
                               allow_unsafe_ops=allow_unsafe_ops, overwrite=overwrite,
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
    threads: opt.Threads = None,
    runs: opt.Runs = 50,
    warmup: int = typer.Option(5, "--warmup", help="Untimed warm-up runs."),
    json_out: opt.Json = False,
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
