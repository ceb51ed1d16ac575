"""A SavedModel signature as a frozen GraphDef, so the graph repairs can run on it: loaded with
its tags, its variables folded into constants (nothing of the model is run), its inputs and
outputs named by signature key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graphport.backend.compat import frozen_function_graph
from graphport.backend.runtime import tensorflow
from graphport.graph.schema import GraphDef
from graphport.graph.types import GraphProto


@dataclass
class FrozenSignature:
    """The signature's graph and, per signature key, its placeholder and output tensor."""

    graph: GraphProto
    inputs: dict[str, str]
    outputs: dict[str, str]


def freeze_signature(path: Path, signature: str, tags: list[str]) -> FrozenSignature:
    tf = tensorflow()
    loaded = tf.saved_model.load(str(path), tags=tags or None)
    function = loaded.signatures[signature]
    frozen, graph_def = frozen_function_graph(function)
    specs = function.structured_input_signature[1]
    inputs = {key: f"{spec.name or key}:0" for key, spec in specs.items()}
    # A signature returns a dict; the frozen function's outputs are its values flattened,
    # which orders a dict by key.
    keys = sorted(function.structured_outputs)
    outputs = {key: tensor.name for key, tensor in zip(keys, frozen.outputs, strict=True)}
    graph = GraphDef.FromString(graph_def.SerializeToString())
    for node in graph.node:  # placement from the inlining: names nodes that are gone
        node.device = ""
        if "_class" in node.attr:
            del node.attr["_class"]
    return FrozenSignature(graph, inputs, outputs)
