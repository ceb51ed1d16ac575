"""The TensorFlow side of exporting: import a prepared GraphDef, wrap it as a function, run it.

TF1 graphs (v1 while loops, Switch/Merge, TensorArrays) run through
``tf.compat.v1.wrap_function`` + ``import_graph_def``, then ``prune`` to the signature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from graphport.backend.runtime import tensorflow
from graphport.graph.nodes import canonical_tensor
from graphport.graph.oplists import RUNTIME_CUSTOM_OPS
from graphport.graph.schema import DATA_TYPES
from graphport.graph.types import GraphProto, TFGraphDef


def tf_dtype(name: str) -> Any:
    """TensorFlow's DType for one of our dtype names (``float``, ``int32``...)."""
    return tensorflow().as_dtype(DATA_TYPES[f"DT_{name.upper()}"])


def to_tf(graph: GraphProto) -> TFGraphDef:
    """graphport's GraphDef as TensorFlow's (same wire format)."""
    tf = tensorflow()
    return tf.compat.v1.GraphDef.FromString(graph.SerializeToString())


def import_graph(graph_def: TFGraphDef) -> Any:
    """A TensorFlow GraphDef imported into a fresh tf.Graph (for shapes, dtypes, sessions;
    importing runs nothing). LiteRT's detection op, which TensorFlow does not register, is
    stood in for by its outputs' shapes (a graph that holds it is analysed, never run)."""
    tf = tensorflow()
    graph = tf.Graph()
    if any(node.op in RUNTIME_CUSTOM_OPS for node in graph_def.node):
        graph_def = _detection_stand_in(graph_def)
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    return graph


def _detection_stand_in(graph_def: TFGraphDef) -> TFGraphDef:
    """A copy with each detection op an IdentityN of float placeholders shaped as its four
    outputs (boxes [1, M, 4], classes and scores [1, M], count [1])."""
    copy = type(graph_def)()
    copy.CopyFrom(graph_def)
    for node in list(copy.node):
        if node.op not in RUNTIME_CUSTOM_OPS:
            continue
        m = node.attr["max_detections"].i
        stand_ins = []
        for k, dims in enumerate(([1, m, 4], [1, m], [1, m], [1])):
            placeholder = copy.node.add(name=f"{node.name}/graphport_stand_in_{k}",
                                        op="Placeholder")
            placeholder.attr["dtype"].type = DATA_TYPES["DT_FLOAT"]
            for d in dims:
                placeholder.attr["shape"].shape.dim.add(size=d)
            stand_ins.append(placeholder.name)
        node.op = "IdentityN"
        del node.input[:]
        node.input.extend(stand_ins)
        node.ClearField("attr")
        node.attr["T"].list.type.extend([DATA_TYPES["DT_FLOAT"]] * 4)
    return copy


def get_tensor(tf_graph: Any, name: str) -> Any:
    """A tensor by ``node`` or ``node:k`` name."""
    return tf_graph.get_tensor_by_name(canonical_tensor(name))


def tensor_info_fn(graph: GraphProto) -> Callable[[str], tuple[int, list[int] | None]]:
    """A function giving (DataType enum, shape) of any tensor, importing the graph once."""
    tf_graph = import_graph(to_tf(graph))

    def info(name: str) -> tuple[int, list[int] | None]:
        tensor = get_tensor(tf_graph, name)
        shape = tensor.shape
        dims = None if shape.rank is None else [-1 if d is None else int(d) for d in shape]
        return tensor.dtype.as_datatype_enum, dims

    return info


def error_line(error: BaseException) -> str:
    """The line of a TensorFlow error that says what went wrong: its message's first line that
    is not the "Graph execution error" / "Detected at node" preamble, else the error's type."""
    text = getattr(error, "message", None) or str(error)
    return next((line.strip() for line in text.splitlines() if line.strip()
                 and not line.startswith(("Graph execution error", "Detected at node"))),
                type(error).__name__)


def session(graph: Any) -> Any:
    """A TF1 session that runs the graph as written: Grappler's rewrites (constant folding,
    op fusion) are off. A reference should not be an optimised variant of the graph, and on
    the 179 MB ResNet-v2-101 they made the first run take 6.5 s instead of 0.4 s (later runs:
    0.15 s either way)."""
    tf = tensorflow()
    config = tf.compat.v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    config.graph_options.optimizer_options.opt_level = tf.compat.v1.OptimizerOptions.L0
    return tf.compat.v1.Session(graph=graph, config=config)


def run_graph(graph_def: TFGraphDef, feeds: dict[str, np.ndarray], fetches: list[str]
              ) -> list[np.ndarray]:
    """Run a TF1 GraphDef in a session, feeding any tensors (placeholders or cut points)."""
    graph = import_graph(graph_def)
    with session(graph) as running:
        return running.run(fetches, {get_tensor(graph, k): v for k, v in feeds.items()})
