"""The `graphport` command line: argument parsing and printing over the Python API
(graphport.commands). Each command imports its module when it runs, so `graphport --help` and
`inspect` never load what only conversion needs."""

import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, NoReturn

import typer

from graphport import __version__
from graphport.cli import native_log
from graphport.cli import options as opt
from graphport.cli.help import GraphportCommand, assign_panels, epilog
from graphport.cli.output import err, out, print_json
from graphport.errors import GraphportError, UserError, use_cli_terms
from graphport.spec.io_types import IoTypes
from graphport.spec.names import split_names
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec

app = typer.Typer(
    name="graphport",
    help="Move legacy TensorFlow frozen graphs (.pb/.pbtxt) to SavedModel and TFLite, verified.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
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


@app.command("inspect", cls=GraphportCommand, epilog=epilog("inspect"))
def inspect(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="Frozen .pb/.pbtxt, SavedModel directory or .tflite."),
    json_out: opt.Json = False,
    check_tflite: bool = typer.Option(
        False, "--check-tflite", help="Run the TFLite converter once and report per op type."),
    signature: str = typer.Option(None, "--signature",
                                  help="SavedModel: the signature to show first."),
    tag_set: opt.TagSet = None,
) -> None:
    """Show a model's inputs, outputs, ops, parameters, control flow and conversion blockers."""
    from graphport.commands.inspect import inspect_model

    data = inspect_model(Path(model), check_tflite=check_tflite, signature=signature,
                         tag_set=tag_set)
    if json_out:
        print_json(data.to_json())
    else:
        from graphport.report.inspect_view import render_inspect

        render_inspect(out(), data)


@app.command("to-savedmodel", cls=GraphportCommand, epilog=epilog("to-savedmodel"))
def to_savedmodel_command(
    graph: str = typer.Argument(..., metavar="GRAPH", help="Frozen GraphDef (.pb or .pbtxt)."),
    inputs: opt.Inputs = None,
    outputs: opt.Outputs = None,
    set_values: opt.SetValues = None,
    input_shapes: opt.InputShapes = None,
    signature: str = typer.Option("serving_default", "--signature", help="Signature key."),
    output: opt.Output = None,
    overwrite: opt.Overwrite = False,
    no_verify: opt.NoVerify = False,
    no_parity: opt.NoParity = False,
    allow_unsafe_ops: opt.AllowUnsafeOps = False,
    samples: opt.Samples = None,
    bgr: opt.Bgr = False,
    passes: opt.Passes = None,
    no_rewrite: opt.NoRewrite = False,
    json_out: opt.Json = False,
) -> None:
    """Wrap a frozen graph into a SavedModel with a serving signature, verified."""
    from graphport.commands.to_savedmodel import to_savedmodel
    from graphport.report.export_view import progress_reporter, render_savedmodel

    spec = opt.graph_spec(inputs, outputs, set_values, input_shapes, passes, no_rewrite,
                          allow_unsafe_ops)
    check = opt.verify_spec(no_verify or no_parity, samples, bgr)
    with progress_reporter(err(), quiet=json_out) as step:
        result = to_savedmodel(Path(graph), Path(output) if output else None, spec, check,
                               signature=signature, overwrite=overwrite, progress=step)
    _outputs_in_place()
    if json_out:
        print_json(result.to_json())
    else:
        render_savedmodel(out(), result)


@app.command("tflite", cls=GraphportCommand, epilog=epilog("tflite"))
def tflite(
    model: str = typer.Argument(..., metavar="MODEL", help="Frozen .pb/.pbtxt, SavedModel "
                                                           "directory or checkpoint."),
    mode: opt.Mode = typer.Option(None, "--mode", help="Conversion mode (default float32)."),
    fp16: bool = typer.Option(False, "--fp16", help="Same as --mode fp16: float16 weights."),
    dynamic: bool = typer.Option(False, "--dynamic",
                                 help="Same as --mode dynamic: int8 weights, float compute."),
    int8: bool = typer.Option(False, "--int8",
                              help="Same as --mode int8: full integer with calibration data."),
    io: opt.IoType = typer.Option(None, "--io", help="With --int8: integer input and output "
                                                     "(a detector's outputs stay float32)."),
    input_type: opt.BoundaryType = typer.Option(
        None, "--input-type", help="With --int8: the input type alone (default float32)."),
    output_type: opt.BoundaryType = typer.Option(
        None, "--output-type", help="With --int8: the output type alone (default float32)."),
    strict: bool = typer.Option(False, "--strict", help="With --int8: fail on any float op."),
    select_ops: bool = typer.Option(False, "--select-ops", help="Allow TF Select (Flex) ops."),
    inputs: opt.Inputs = None,
    outputs: opt.Outputs = None,
    set_values: opt.SetValues = None,
    input_shapes: opt.InputShapes = None,
    passes: opt.Passes = None,
    no_rewrite: opt.NoRewrite = False,
    signature: opt.SourceSignature = None,
    tag_set: opt.TagSet = None,
    allow_unsafe_ops: opt.AllowUnsafeOps = False,
    calib: opt.Calib = None,
    calib_samples: opt.CalibSamples = 100,
    input_stats: opt.InputStats = None,
    default_ranges: opt.DefaultRanges = None,
    mean: opt.Mean = 0.0,
    std: opt.Std = 1.0,
    bgr: opt.Bgr = False,
    no_verify: opt.NoVerify = False,
    no_parity: opt.NoParity = False,
    samples: opt.Samples = None,
    parity_samples: int = typer.Option(
        None, "--parity-samples", min=1,
        help="Samples for parity (default: up to 16 within a time budget)."),
    require_parity: bool = typer.Option(
        False, "--require-parity", help="Fail (exit 1, nothing written) unless the parity "
                                        "verdict is match or within tolerance."),
    eval_file: opt.EvalFile = None,
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
    nms: opt.NmsOption = None,
    max_detections: opt.MaxDetections = None,
    detection_classes: opt.DetectionClasses = None,
    prune: str = typer.Option(
        None, "--prune", metavar="SPARSITY[,LAYER=S...]",
        help="Zero this share of each conv/dense kernel's smallest weights before converting "
             "(0.5, or 0.5,fc1=0.8); reported side by side with the unpruned model."),
    prune_sweep: str = typer.Option(
        None, "--prune-sweep", metavar="S1,S2,...",
        help="Measure these pruning levels (size, parity, accuracy, latency); writes nothing."),
    output: opt.Output = None,
    overwrite: opt.Overwrite = False,
    no_size_ratio: bool = typer.Option(False, "--no-size-ratio",
                                       help="Report no size ratio to float32."),
    exact_size_ratio: bool = typer.Option(
        False, "--exact-size-ratio", help="Convert float32 too for an exact size ratio "
                                          "(default: estimated from the model's constants)."),
    report: opt.Report = None,
    html: opt.Html = None,
    json_out: opt.Json = False,
) -> None:
    """Convert to TFLite (float32, fp16, dynamic, int8, int16x8) with a per-op report and
    parity."""
    from graphport.commands.tflite import convert_tflite
    from graphport.outputs import check_target
    from graphport.quant.int8 import QuantOptions, TargetNotMet
    from graphport.quant.prune import PruneSpec
    from graphport.report.export_view import progress_reporter
    from graphport.report.tflite_view import render_quant, render_tflite, side_files

    chosen = opt.chosen_mode(mode, fp16, dynamic, int8)
    io_type = IoTypes.parse(io.value if io else None, input_type.value if input_type else None,
                            output_type.value if output_type else None)
    no_verify = no_verify or no_parity
    spec = opt.graph_spec(inputs, outputs, set_values, input_shapes, passes, no_rewrite,
                          allow_unsafe_ops, {"nms": nms, "max_detections": max_detections,
                                             "classes": detection_classes}, signature, tag_set)
    calibration = CalibrationSpec(calib, calib_samples, mean, std, bgr,
                                  opt.input_stats(input_stats),
                                  opt.default_ranges(default_ranges))
    if prune_sweep is not None:
        if prune or output or report or html:
            raise UserError("--prune-sweep measures and writes nothing",
                            "drop --prune/-o/--report/--html, or pick a level with --prune")
        _sweep(model, prune_sweep, chosen, io_type, select_ops, spec, calibration,
               opt.verify_spec(no_verify, samples, bgr, parity_samples, eval_file), json_out)
        return
    for path, option in ((report, "--report"), (html, "--html")):
        if path:
            check_target(Path(path), overwrite=True, option=option)
    check = opt.verify_spec(no_verify, samples, bgr, parity_samples, eval_file, require_parity)
    quant = QuantOptions(split_names(keep_float) or [], debug_quant, target_agreement,
                         target_error)
    try:
        with progress_reporter(err(), quiet=json_out) as step:
            result = convert_tflite(
                Path(model), Path(output) if output else None, chosen, io_type, strict,
                select_ops,
                spec, calibration, check, quant, overwrite=overwrite,
                size_ratio=False if no_size_ratio else "exact" if exact_size_ratio else True,
                progress=step,
                prune=PruneSpec.parse(prune) if prune is not None else None,
                side_outputs=side_files(report, html))
        _outputs_in_place()
    except TargetNotMet as failure:  # the measured curve is the answer to "why not"
        if not json_out:  # under --json it travels in the error object
            render_quant(out(), failure.outcome.to_json())
        raise
    if json_out:
        print_json(result.to_json())
    else:
        render_tflite(out(), result)


def _sweep(model: str, levels: str, mode: str, io: IoTypes | None, select_ops: bool,
           spec: GraphSpec, calibration: CalibrationSpec, check: VerifySpec,
           json_out: bool) -> None:
    from graphport.commands.prune_sweep import parse_levels, prune_sweep
    from graphport.report.export_view import progress_reporter
    from graphport.report.tflite_view import render_sweep

    with progress_reporter(err(), quiet=json_out) as step:
        result = prune_sweep(Path(model), parse_levels(levels), mode, io, select_ops, spec,
                             calibration, check, progress=step)
    if json_out:
        print_json(result.to_json())
    else:
        render_sweep(out(), result.to_json())


@app.command("compare", cls=GraphportCommand, epilog=epilog("compare"))
def compare(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="Frozen .pb/.pbtxt or SavedModel directory."),
    variants: str = typer.Option("float,fp16,dynamic,int8,int8-io", "--variants",
                                 help="Comma-separated: float, fp16, dynamic, int8, int8-io, "
                                      "int16x8 (16-bit activations, on request)."),
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
    output: opt.Output = None,
    overwrite: opt.Overwrite = False,
    passes: opt.Passes = None,
    no_rewrite: opt.NoRewrite = False,
    signature: opt.SourceSignature = None,
    tag_set: opt.TagSet = None,
    samples: opt.Samples = None,
    no_verify: opt.NoVerify = False,
    no_parity: opt.NoParity = False,
    markdown_file: str = typer.Option(None, "--markdown", help="Write the table as Markdown."),
    report: opt.Report = None,
    html: opt.Html = None,
    json_out: opt.Json = False,
) -> None:
    """Build every deployment variant and compare size, accuracy, parity and latency."""
    from graphport.commands.compare import compare_variants
    from graphport.outputs import check_target
    from graphport.report.compare_view import render_compare, write_markdown
    from graphport.report.export_view import progress_reporter
    from graphport.report.html import compare_page, write_html
    from graphport.report.tflite_view import write_json

    for path, option in ((markdown_file, "--markdown"), (report, "--report"), (html, "--html")):
        if path:
            check_target(Path(path), overwrite=True, option=option)
    spec = opt.graph_spec(inputs, outputs, set_values, input_shapes, passes, no_rewrite,
                          allow_unsafe_ops, signature=signature, tag_set=tag_set)
    calibration = CalibrationSpec(calib, calib_samples, mean, std, bgr)
    check = opt.verify_spec(no_verify or no_parity, samples, bgr, eval_file=eval_file)
    with progress_reporter(err(), quiet=json_out) as step:
        data = compare_variants(Path(model), split_names(variants),
                                Path(output) if output else None, spec, calibration, check,
                                threads, runs, overwrite=overwrite, progress=step)
    _outputs_in_place()
    report_data = data.to_json()
    if markdown_file:
        write_markdown(Path(markdown_file), report_data)
    if report:
        write_json(Path(report), report_data)
    if html:
        write_html(Path(html), compare_page(report_data))
    if json_out:
        print_json(report_data)
    else:
        render_compare(out(), report_data)


@app.command("rewrite", cls=GraphportCommand, epilog=epilog("rewrite"))
def rewrite(
    graph: str = typer.Argument(None, metavar="GRAPH", help="Frozen GraphDef (.pb or .pbtxt)."),
    output: opt.Output = None,
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
    from graphport.commands.rewrite import list_passes as describe
    from graphport.commands.rewrite import rewrite_graph
    from graphport.report.export_view import progress_reporter, render_rewrites

    if list_passes:
        if json_out:
            print_json(describe())
            return
        for item in describe():
            params = ", ".join(f"{k}={v}" for k, v in item["params"].items())
            print(f"{item['name']:26} {'default ' if item['default'] else '        '}"
                  f"{item['summary']} [{', '.join(item['targets'])}]"
                  f"{f' ({params})' if params else ''}")
        return
    if not graph or not output:
        raise UserError("rewrite needs GRAPH and -o OUT.pb", "or --list to see the passes")
    spec = opt.graph_spec(inputs, outputs, set_values, input_shapes, passes,
                          allow_unsafe_ops=allow_unsafe_ops)
    with progress_reporter(err(), quiet=json_out) as step:
        result = rewrite_graph(Path(graph), Path(output), spec, overwrite=overwrite,
                               progress=step)
    _outputs_in_place()
    if json_out:
        print_json(result.to_json())
    else:
        render_rewrites(out(), result.rewrites)
        out().print(f"wrote {result.path} ({result.nodes_before} -> {result.nodes_after} "
                    "nodes)", markup=False)


@app.command("freeze", cls=GraphportCommand, epilog=epilog("freeze"))
def freeze(
    checkpoint: str = typer.Argument(
        ..., metavar="CHECKPOINT", help="A TF1 checkpoint: its prefix (model.ckpt), any of its "
                                        "files, or its directory."),
    graph: str = typer.Option(None, "--graph", help="The model's graph (.pb/.pbtxt) when the "
                                                    "checkpoint has no .meta file."),
    outputs: opt.Outputs = None,
    output: str = typer.Option(None, "-o", "--output",
                               help="The frozen graph to write (.pb, or .pbtxt for text)."),
    overwrite: opt.Overwrite = False,
    no_verify: opt.NoVerify = False,
    no_parity: opt.NoParity = False,
    allow_unsafe_ops: opt.AllowUnsafeOps = False,
    json_out: opt.Json = False,
) -> None:
    """Freeze a checkpoint into a frozen GraphDef, checked against the restored checkpoint."""
    from graphport.commands.freeze import freeze as freeze_model
    from graphport.report.export_view import progress_reporter, render_freeze

    with progress_reporter(err(), quiet=json_out) as step:
        result = freeze_model(Path(checkpoint), Path(output) if output else None,
                              Path(graph) if graph else None, split_names(outputs),
                              not (no_verify or no_parity), allow_unsafe_ops, overwrite,
                              progress=step)
    _outputs_in_place()
    if json_out:
        print_json(result.to_json())
    else:
        render_freeze(out(), result)


@app.command("migrate", cls=GraphportCommand, epilog=epilog("migrate"))
def migrate(
    directory: str = typer.Argument(..., metavar="DIR", help="Folder holding the models."),
    output: str = typer.Option(..., "-o", "--output",
                               help="Output folder: new, empty, or an earlier migrate's."),
    modes: str = typer.Option(None, "--modes", help="TFLite modes, comma-separated: float32, "
                                                    "fp16, dynamic, int8 (default float32)."),
    calib: opt.Calib = None,
    config: str = typer.Option(None, "--config", help="Per-model options (TOML; default: "
                                                      "graphport.toml in DIR)."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Models migrated at once."),
    dask: str = typer.Option(None, "--dask", metavar="SCHEDULER_ADDRESS",
                             help="Run the models on a Dask cluster (the cluster extra); "
                                  "the output folder must be a path every worker can write."),
    timeout: float = typer.Option(1800, "--timeout", min=1, help="Seconds per model."),
    memory_gb: float = typer.Option(None, "--memory-limit", min=0.5,
                                    help="GiB of address space per model (default: none)."),
    allow_unsafe_ops: opt.AllowUnsafeOps = False,
    retry_failed: bool = typer.Option(False, "--retry-failed",
                                      help="Run again models that failed before with the same "
                                           "bytes and options (crashes and time-outs always "
                                           "are)."),
    json_out: opt.Json = False,
) -> None:
    """Migrate every model under a folder (SavedModel + TFLite, verified) with one summary."""
    from graphport.commands.migrate import migrate as migrate_models
    from graphport.commands.migrate_model import Limits
    from graphport.report.migrate_view import render_migrate
    from graphport.report.progress_view import batch_progress

    limits = Limits(timeout, int(memory_gb * 2**30) if memory_gb else None)
    if dask and jobs != 1:
        raise UserError("--jobs with --dask: the cluster's workers set how many models run at "
                        "once", "drop --jobs (start more workers, or more threads each)")
    with batch_progress(err(), quiet=json_out) as on_event:
        result = migrate_models(Path(directory), Path(output), split_names(modes), config,
                                calib, jobs, limits, allow_unsafe_ops, on_event=on_event,
                                retry_failed=retry_failed, cluster=dask)
    _outputs_in_place()
    if json_out:
        print_json(result.to_json())
    else:
        render_migrate(out(), result.to_json())
    if not result.ok:
        raise typer.Exit(1)


@app.command("run", cls=GraphportCommand, epilog=epilog("run"))
def run(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="Frozen .pb/.pbtxt, SavedModel directory or .tflite."),
    feed: list[str] = typer.Option(
        None, "--input", metavar="NAME=VALUE",
        help="An input: image, .npy, a value (40, 0.6,0.7,0.7) or @FILE for a string input. "
             "Repeatable; every input needs one."),
    bgr: opt.Bgr = False,
    mean: float = typer.Option(0.0, "--mean", help="Images: subtract this..."),
    std: float = typer.Option(1.0, "--std", help="...then divide by this."),
    inputs: opt.Inputs = None,
    outputs: opt.Outputs = None,
    set_values: opt.SetValues = None,
    input_shapes: opt.InputShapes = None,
    signature: opt.SourceSignature = None,
    tag_set: opt.TagSet = None,
    allow_unsafe_ops: opt.AllowUnsafeOps = False,
    output: str = typer.Option(None, "-o", "--output",
                               help="Write every output to this .npz file."),
    overwrite: opt.Overwrite = False,
    json_out: opt.Json = False,
) -> None:
    """Run a model on real inputs and show its outputs (full arrays with --json or -o)."""
    from graphport.commands.run import run_model
    from graphport.report.export_view import progress_reporter
    from graphport.report.run_view import render_run

    spec = opt.graph_spec(inputs, outputs, set_values, input_shapes,
                          allow_unsafe_ops=allow_unsafe_ops, signature=signature,
                          tag_set=tag_set)
    with progress_reporter(err(), quiet=json_out) as step:
        result = run_model(Path(model), opt.assignments(feed, "--input"), spec, bgr, mean, std,
                           Path(output) if output else None, overwrite, progress=step)
    _outputs_in_place()
    if json_out:
        print_json(result.to_json())
    else:
        render_run(out(), result)


@app.command("bench", cls=GraphportCommand, epilog=epilog("bench"))
def bench(
    model: str = typer.Argument(..., metavar="MODEL", help="A .tflite model."),
    threads: opt.Threads = None,
    runs: opt.Runs = 50,
    warmup: int = typer.Option(5, "--warmup", min=0, help="Untimed warm-up runs."),
    json_out: opt.Json = False,
) -> None:
    """Latency of a .tflite model with ai-edge-litert (median and p90)."""
    from graphport.commands.compare import bench_tflite
    from graphport.report.compare_view import render_bench

    data = bench_tflite(Path(model), threads, runs, warmup)
    if json_out:
        print_json(data)
    else:
        render_bench(out(), data)


assign_panels(app)


def _one_line(text: str) -> str:
    """A message that quotes a multi-line tool error, folded onto one line."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


_INTERRUPTED: list[bool] = []  # Ctrl-C was pressed while the command ran


def _on_ctrl_c(signum: int, frame: Any) -> None:
    """Python's own SIGINT handler, remembering that it fired: TensorFlow's C++ code can turn
    the KeyboardInterrupt it raises into another exception (measured: a RuntimeError "MISMATCH
    of original and normalized active exception types" while a SavedModel loads), and a Ctrl-C
    must still end as one, exit code 130, not as an internal error."""
    _INTERRUPTED.append(True)
    signal.default_int_handler(signum, frame)


def _outputs_in_place() -> None:
    """The command's outputs are written: from here a Ctrl-C (while the report prints, or
    TensorFlow shuts down) must not turn the success into exit code 130."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _report_crash(error: BaseException) -> int:
    with tempfile.NamedTemporaryFile("w", prefix="graphport-crash-", suffix=".txt",
                                     delete=False) as handle:
        traceback.print_exception(error, file=handle)
        handle.write("\nTensorFlow native log (tail):\n" + native_log.native_log_tail())
    err().print(f"error: internal error ({type(error).__name__}: {error})", markup=False)
    err().print(f"hint: traceback saved to {handle.name}; please report it", markup=False)
    return 1


# click's base error (bad option, missing argument), reached through a class typer exports
_USAGE_ERROR: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


_SHOWN_LINES = 12  # an error fits on a screen; --json has every line


def _fail(message: str, hint: str | None, code: int, details: dict[str, Any] | None = None,
          lines: list[str] | None = None) -> NoReturn:
    """The one way the CLI fails: ``error:``/``hint:`` lines on stderr (with the error's
    detail lines, a screenful, between them) and, under --json, the same as one JSON object on
    stdout, so scripts can parse failures too."""
    err().print(f"error: {_one_line(message)}", markup=False)
    lines = lines or []
    for line in lines[:_SHOWN_LINES]:
        err().print(f"  {line}", markup=False)
    if len(lines) > _SHOWN_LINES:
        err().print(f"  ... {len(lines) - _SHOWN_LINES} more (--json lists them)", markup=False)
    if lines:
        details = {**(details or {}), "lines": lines}
    if hint:
        err().print(f"hint: {_one_line(hint)}", markup=False)
    if "--json" in sys.argv[1:]:
        print_json({"error": _one_line(message), "hint": hint and _one_line(hint),
                    "exit_code": code, **(details or {})})
    sys.exit(code)


def main() -> None:
    """Console-script entry point: one error path with exit codes 2 (input) and 1 (failure)."""
    debug = "--debug" in sys.argv[1:]
    if not debug:
        native_log.divert_native_output()
    use_cli_terms()
    signal.signal(signal.SIGINT, _on_ctrl_c)
    try:
        code = app(prog_name="graphport", standalone_mode=False)
    except _USAGE_ERROR as error:
        if not error.format_message():  # bare `graphport`: the help was the answer
            sys.exit(error.exit_code)
        command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
        _fail(error.format_message(), f"see graphport {command or ''} --help".replace("  ", " "),
              error.exit_code)
    except GraphportError as error:  # (a command that handles Ctrl-C says what it kept)
        if debug:
            traceback.print_exc()
        _fail(error.message, error.hint, error.exit_code, error.details, error.lines)
    except KeyboardInterrupt:  # outside typer's own handling (before a command started)
        code = 130
    except Exception as error:  # an internal bug: short message, traceback to a file
        if debug:
            raise
        if not _INTERRUPTED:
            sys.exit(_report_crash(error))
        code = 130
    if code == 130:  # typer turns Ctrl-C inside a command into exit code 130
        err().print("interrupted; nothing written", markup=False)
    sys.exit(code if isinstance(code, int) else 0)
