"""Command-line options shared by several commands, declared once."""

from typing import Annotated

import typer

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
    "--passes", help="Repair passes to run, comma-separated (default: the default pipeline).")]
NoRewrite = Annotated[bool, typer.Option("--no-rewrite", help="Skip graph repairs.")]
Samples = Annotated[list[str] | None, typer.Option(
    "--sample", metavar="NAME=FILE",
    help="Input for verification: .npy, an image (see --bgr) or a value. Repeatable.")]
Bgr = Annotated[bool, typer.Option("--bgr", help="Images in BGR order (MTCNN, Caffe models).")]
Calib = Annotated[str | None, typer.Option(
    "--calib", help="Calibration data: image folder, .npy, .npz, or 'random'.")]
CalibSamples = Annotated[int, typer.Option("--calib-samples", help="Calibration samples.")]
Mean = Annotated[float, typer.Option("--mean", help="Image calibration: subtract this...")]
Std = Annotated[float, typer.Option("--std", help="...then divide by this.")]
EvalFile = Annotated[str | None, typer.Option(
    "--eval", help="Labelled .npz with x and y: accuracy of source and TFLite.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
Threads = Annotated[int | None, typer.Option("--threads", help="Interpreter threads.")]
Runs = Annotated[int, typer.Option("--runs", help="Timed runs.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]
