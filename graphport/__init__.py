"""graphport: move legacy TensorFlow frozen graphs to SavedModel and TFLite, verified.

The CLI is a thin layer over these functions, so notebooks can call them directly::

    import graphport
    report = graphport.inspect_model("mtcnn.pb")

Importing graphport does not import TensorFlow; the functions that need it import it themselves.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "inspect_model", "to_savedmodel"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import graphport` stays cheap and TensorFlow-free.
    if name == "inspect_model":
        from graphport.inspection import inspect_model

        return inspect_model
    if name == "to_savedmodel":
        from graphport.export.savedmodel import to_savedmodel

        return to_savedmodel
    raise AttributeError(f"module 'graphport' has no attribute {name!r}")
