"""graphport: move legacy TensorFlow frozen graphs to SavedModel and TFLite, verified.

The CLI is a thin layer over these functions, so notebooks can call them directly::

    import graphport
    report = graphport.inspect_model("mtcnn.pb")
    result = graphport.convert_tflite("digits.pb", "digits.tflite", mode="int8",
                                      calibration=graphport.CalibrationSpec("calib.npz"))

Importing graphport does not import TensorFlow; the functions that need it import it themselves.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use, so `import graphport` is cheap)
_API = {
    "GraphSpec": "graphport.spec.options",
    "CalibrationSpec": "graphport.spec.options",
    "VerifySpec": "graphport.spec.options",
    "IoTypes": "graphport.spec.io_types",
    "inspect_model": "graphport.commands.inspect",
    "InspectReport": "graphport.commands.inspect",
    "CompareReport": "graphport.commands.compare",
    "RewriteResult": "graphport.commands.rewrite",
    "prune_sweep": "graphport.commands.prune_sweep",
    "PruneSpec": "graphport.quant.prune",
    "to_savedmodel": "graphport.commands.to_savedmodel",
    "convert_tflite": "graphport.commands.tflite",
    "rewrite_graph": "graphport.commands.rewrite",
    "compare_variants": "graphport.commands.compare",
    "bench_tflite": "graphport.commands.compare",
    "run_model": "graphport.commands.run",
    "freeze": "graphport.commands.freeze",
    "migrate": "graphport.commands.migrate",
    "QuantOptions": "graphport.quant.int8",
    "TargetNotMet": "graphport.quant.int8",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'graphport' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API first-class in dir() and completion, though imported lazily."""
    return sorted(set(globals()) | set(__all__))
