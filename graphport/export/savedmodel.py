"""Writing a prepared graph as a SavedModel, and loading one the way a server does.

TF1 graphs (v1 while loops, Switch/Merge, TensorArrays) run through
``tf.compat.v1.wrap_function`` + ``import_graph_def``, pruned to the signature.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from graphport.backend.runtime import tensorflow
from graphport.backend.tf_graph import tf_dtype, to_tf
from graphport.spec.signature import PreparedGraph


def concrete_function(prepared: PreparedGraph) -> Any:
    """A tf.function with the signature's names and shapes, serving the prepared graph."""
    tf = tensorflow()
    graph_def = to_tf(prepared.graph)
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    g = wrapped.graph
    pruned = wrapped.prune(
        feeds=[g.get_tensor_by_name(t.tensor) for t in prepared.inputs],
        fetches={t.key: g.get_tensor_by_name(t.tensor) for t in prepared.outputs},
    )
    specs = [tf.TensorSpec(None if t.shape is None else [None if d < 0 else d for d in t.shape],
                           tf_dtype(t.dtype), name=t.key)
             for t in prepared.inputs]

    @tf.function(input_signature=specs)
    def serve(*args: Any) -> dict[str, Any]:
        return pruned(*args)

    return serve


def write_saved_model(prepared: PreparedGraph, directory: Path, signature: str) -> None:
    """Save the prepared graph as a SavedModel with one signature (and `serve` callable)."""
    tf = tensorflow()
    serve = concrete_function(prepared)
    module = tf.Module()
    module.serve = serve
    tf.saved_model.save(module, str(directory),
                        signatures={signature: serve.get_concrete_function()})


def run_saved_model(path: Path, signature: str, samples: dict[str, np.ndarray]
                    ) -> dict[str, np.ndarray]:
    """Load a SavedModel the way a server would and call its signature."""
    tf = tensorflow()
    loaded = tf.saved_model.load(str(path))
    outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in samples.items()})
    return {k: v.numpy() for k, v in outputs.items()}
