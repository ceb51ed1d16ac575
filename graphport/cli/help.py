"""How the CLI presents itself: options grouped in panels, examples under each command, usage
lines as people write them. One table here instead of a panel name on every option."""

from __future__ import annotations

import inspect
from typing import Any, get_args

import typer
from rich.markup import escape
from typer.core import TyperCommand
from typer.models import OptionInfo

PANELS = {
    "Graph": ["--inputs", "--outputs", "--set", "--input-shapes", "--passes", "--no-rewrite",
              "--allow-unsafe-ops", "--graph", "--signature", "--tag-set"],
    "Inputs": ["--input", "--mean", "--std"],
    "Mode": ["--mode", "--fp16", "--dynamic", "--int8", "--io", "--input-type", "--output-type",
             "--strict", "--select-ops", "--variants", "--modes"],
    "Calibration": ["--calib", "--calib-samples", "--input-stats", "--default-ranges"],
    "Verification": ["--sample", "--no-verify", "--parity-samples", "--require-parity",
                     "--eval", "--bgr"],
    "Quantization debugging": ["--keep-float", "--debug-quant", "--target-agreement",
                               "--target-error"],
    "Pruning": ["--prune", "--prune-sweep"],
    "Object detection": ["--nms", "--max-detections", "--detection-classes"],
    "Timing": ["--threads", "--runs", "--warmup"],
    "Batch": ["--config", "--jobs", "--dask", "--timeout", "--memory-limit", "--retry-failed"],
    "Output": ["-o", "--output", "--overwrite", "--json", "--report", "--markdown", "--html",
               "--no-size-ratio", "--exact-size-ratio", "--list", "--check-tflite"],
}
_PANEL_OF = {flag: panel for panel, flags in PANELS.items() for flag in flags}

EXAMPLES = {
    "inspect": ["graphport inspect mtcnn.pb",
                "graphport inspect model.pb --check-tflite",
                "graphport inspect model.ckpt --json"],
    "to-savedmodel": ["graphport to-savedmodel mtcnn.pb --set min_size=40 --set factor=0.709 "
                      "-o mtcnn_savedmodel",
                      "graphport to-savedmodel model.pb --input-shapes input[1,224,224,3] "
                      "--sample input=cat.jpg"],
    "tflite": ["graphport tflite model.pb",
               "graphport tflite model.pb --int8 --calib images/ --io uint8 --html report.html",
               "graphport tflite model.pb --int8 --calib calib.npz --eval test.npz "
               "--target-agreement 0.99"],
    "compare": ["graphport compare model.pb --calib calib.npz --eval test.npz",
                "graphport compare model.pb --variants float,dynamic --markdown table.md"],
    "rewrite": ["graphport rewrite --list",
                "graphport rewrite mtcnn.pb -o mtcnn.repaired.pb --passes nms_v4,crop_and_resize"],
    "bench": ["graphport bench model.tflite --threads 2 --runs 100"],
    "run": ["graphport run mtcnn.pb --input input=faces.png --bgr --input min_size=40 "
            "--input thresholds=0.6,0.7,0.7 --input factor=0.709",
            "graphport run model.tflite --input input=x.npy -o outputs.npz"],
    "freeze": ["graphport freeze train_dir --outputs probs -o frozen.pb",
               "graphport freeze model.ckpt --graph model_eval.pbtxt -o frozen.pb"],
    "migrate": ["graphport migrate models/ -o migrated/",
                "graphport migrate models/ -o migrated/ --modes float32,int8 --calib calib/ "
                "--jobs 2"],
}


class GraphportCommand(TyperCommand):
    """Usage lines as people write them (``MODEL``, not typer's ``{MODEL}``)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
                for piece in super().collect_usage_pieces(ctx)]


def epilog(command: str) -> str:
    """The examples shown at the end of a command's help."""
    return "Examples:\n\n" + "\n\n".join(f"  {escape(e)}" for e in EXAMPLES[command])


def _option_infos(callback: Any) -> list[OptionInfo]:
    found = []
    for parameter in inspect.signature(callback).parameters.values():
        candidates = [parameter.default, *get_args(parameter.annotation)[1:]]
        found += [c for c in candidates if isinstance(c, OptionInfo)]
    return found


def assign_panels(app: typer.Typer) -> None:
    """Put every option of every command in its panel; an option missing from PANELS is a
    programming error, caught by the help test."""
    for command in app.registered_commands:
        for info in _option_infos(command.callback):
            # in Annotated[..., typer.Option("--x")] the first flag sits in ``default``
            declared = [*(info.param_decls or ()), info.default]
            flags = [d for d in declared if isinstance(d, str) and d.startswith("-")]
            if info.hidden:
                continue
            panel = next((_PANEL_OF[f] for f in flags if f in _PANEL_OF), None)
            if panel is None:
                raise AssertionError(f"option {flags} has no help panel")
            info.rich_help_panel = panel
