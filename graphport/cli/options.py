"""Command-line options shared by several commands, declared once, and their conversion into
the typed option groups of graphport.spec.options."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from graphport.errors import UserError
from graphport.spec.modes import Mode
from graphport.spec.names import split_assignment, split_names, split_shape
from graphport.spec.options import GraphSpec, VerifySpec


class Nms(str, Enum):
    """NMS of TFLite_Detection_PostProcess: per class (as the Object Detection API) or not."""

    regular = "regular"
    fast = "fast"


class ClassLayout(str, Enum):
    """Class numbers of a converted detector: as the graph gives them, or 0-based."""

    graph = "graph"
    tflite = "tflite"


class IoType(str, Enum):
    """Integer input/output types of a full-int8 model."""

    uint8 = "uint8"
    int8 = "int8"


class BoundaryType(str, Enum):
    """The type of one side (input or output) of a full-int8 model."""

    uint8 = "uint8"
    int8 = "int8"
    float32 = "float32"


Inputs = Annotated[str | None, typer.Option(
    "--inputs", help="Signature inputs, comma-separated: placeholders, or tensors such as "
                     "batch:0 to cut the graph at. Default: all placeholders.")]
Outputs = Annotated[str | None, typer.Option(
    "--outputs", help="Signature outputs, comma-separated. Default: what inspect finds.")]
SetValues = Annotated[list[str] | None, typer.Option(
    "--set", metavar="NAME=VALUE",
    help="Pin a placeholder: 40, 0.6,0.7,0.7, true, @file.npy. Repeatable.")]
InputShapes = Annotated[list[str] | None, typer.Option(
    "--input-shapes", metavar="NAME:d0,d1,...",
    help="Fix unknown dimensions (? keeps one unknown). Repeatable.")]
AllowUnsafeOps = Annotated[bool, typer.Option(
    "--allow-unsafe-ops", help="Allow exporting and running graphs with file, network or "
                               "Python ops.")]
Passes = Annotated[str | None, typer.Option(
    "--passes", help="Repair passes to run, comma-separated, each NAME or NAME(key=value,...) "
                     "(default: the default pipeline; see rewrite --list).")]
NoRewrite = Annotated[bool, typer.Option("--no-rewrite", help="Skip graph repairs.")]
Samples = Annotated[list[str] | None, typer.Option(
    "--sample", metavar="NAME=FILE",
    help="Input for verification: .npy, an image (see --bgr) or a value. Repeatable.")]
NoVerify = Annotated[bool, typer.Option(
    "--no-verify", help="Skip the check against the source graph.")]
# The name tflite used before --no-verify meant the same everywhere; kept, out of the help.
NoParity = Annotated[bool, typer.Option("--no-parity", hidden=True)]
Bgr = Annotated[bool, typer.Option("--bgr", help="Images in BGR order (MTCNN, Caffe models).")]
Calib = Annotated[str | None, typer.Option(
    "--calib", help="Calibration data: image folder, .npy, .npz, or 'random'.")]
CalibSamples = Annotated[int, typer.Option("--calib-samples", min=1,
                                           help="Calibration samples.")]
InputStats = Annotated[list[str] | None, typer.Option(
    "--input-stats", metavar="[NAME=]MEAN,STD",
    help="With --int8 on a graph carrying its ranges: an input's uint8 scale as toco's "
         "--mean_values/--std_values (real = (q - MEAN) / STD). Repeatable.")]
DefaultRanges = Annotated[str | None, typer.Option(
    "--default-ranges", metavar="MIN,MAX",
    help="With --int8 on a graph carrying its ranges: the range of tensors no fake-quant "
         "point covers (toco's --default_ranges_min/max).")]


def input_stats(items: list[str] | None) -> dict[str, tuple[float, float]]:
    """``[NAME=]MEAN,STD`` items as input -> (mean, std); "" for every input."""
    stats: dict[str, tuple[float, float]] = {}
    for item in items or []:
        name, _, values = item.rpartition("=")
        parts = values.split(",")
        try:
            mean, std = (float(v) for v in parts)
        except ValueError:
            raise UserError(f"--input-stats {item}: expected [NAME=]MEAN,STD",
                            "e.g. --input-stats input=128,128") from None
        if std <= 0:
            raise UserError(f"--input-stats {item}: STD must be positive")
        stats[name.removesuffix(":0")] = (mean, std)
    return stats


def default_ranges(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--default-ranges {text}: expected MIN,MAX",
                        "e.g. --default-ranges -6,6") from None
    if high <= low:
        raise UserError(f"--default-ranges {text}: MAX must exceed MIN")
    return low, high


Mean = Annotated[float, typer.Option("--mean", help="Image calibration: subtract this...")]
Std = Annotated[float, typer.Option("--std", help="...then divide by this.")]
EvalFile = Annotated[str | None, typer.Option(
    "--eval", help="Labelled .npz with x and y: accuracy of source and TFLite.")]
Output = Annotated[str | None, typer.Option(
    "-o", "--output", help="Where to write the result (default: named after the model, "
                           "beside it).")]
NmsOption = Annotated[Nms | None, typer.Option(
    "--nms", help="Object detection graphs: regular (per-class, the default) or fast "
                  "(class-agnostic) NMS in TFLite_Detection_PostProcess.")]
MaxDetections = Annotated[int | None, typer.Option(
    "--max-detections", min=1, help="Object detection graphs: detections in all (default: "
                                    "the graph's).")]
DetectionClasses = Annotated[ClassLayout | None, typer.Option(
    "--detection-classes", help="Object detection graphs: class numbers as the graph gives "
                                "them (default) or 0-based, the standard TFLite layout.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
Threads = Annotated[int | None, typer.Option(
    "--threads", min=1, help="Interpreter threads (default: all cores, as TensorFlow uses).")]
Runs = Annotated[int, typer.Option("--runs", min=1, help="Timed runs.")]
Report = Annotated[str | None, typer.Option(
    "--report", help="Write the full report as JSON here.")]
Html = Annotated[str | None, typer.Option(
    "--html", help="Write a self-contained HTML report here (no network needed to view it).")]
SourceSignature = Annotated[str | None, typer.Option(
    "--signature", help="SavedModel input: the signature to convert (default serving_default).")]
TagSet = Annotated[str | None, typer.Option(
    "--tag-set", help="SavedModel input: the meta graph's tags, comma-separated (default: the "
                      "one tagged serve).")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]


def assignments(items: list[str] | None, option: str, sep: str = "=") -> dict[str, str]:
    """Repeated ``NAME=VALUE`` options as a dict."""
    return dict(split_assignment(item, option, sep) for item in items or [])


def graph_spec(inputs: str | None, outputs: str | None, set_values: list[str] | None,
               input_shapes: list[str] | None, passes: str | None = None,
               no_rewrite: bool = False, allow_unsafe_ops: bool = False,
               detection: dict[str, Any] | None = None,
               signature: str | None = None, tag_set: str | None = None) -> GraphSpec:
    """The graph options as one GraphSpec: ``--passes a,b`` -> those; ``--no-rewrite`` ->
    none; neither -> the default pipeline. ``detection``: the detection options given."""
    if passes and no_rewrite:
        raise UserError("--passes and --no-rewrite contradict each other", "choose one")
    wanted = {k: getattr(v, "value", v) for k, v in (detection or {}).items() if v is not None}
    return GraphSpec(split_names(inputs), split_names(outputs),
                     assignments(set_values, "--set"),
                     dict(split_shape(item) for item in input_shapes or []),
                     [] if no_rewrite else split_names(passes), allow_unsafe_ops,
                     {"detection_postprocess": wanted} if wanted else {}, signature, tag_set)


def verify_spec(no_verify: bool, samples: list[str] | None, bgr: bool, count: int | None = None,
                eval_file: str | None = None, require: bool = False) -> VerifySpec:
    if require and no_verify:
        raise UserError("--require-parity and --no-verify contradict each other", "choose one")
    return VerifySpec(not no_verify, assignments(samples, "--sample"), count, bgr,
                      Path(eval_file) if eval_file else None, require)


def chosen_mode(mode: Mode | None, fp16: bool, dynamic: bool, int8: bool) -> str:
    """``--mode X``, or one of its shortcut flags; two different choices are an error."""
    chosen = {m for m, on in (("fp16", fp16), ("dynamic", dynamic), ("int8", int8)) if on}
    if mode is not None:
        chosen.add(mode.value)
    if len(chosen) > 1:
        raise UserError(f"choose one mode, not {' and '.join(sorted(chosen))}")
    return chosen.pop() if chosen else "float32"
