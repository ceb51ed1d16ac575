"""Replace one node by a subgraph built with TensorFlow's Python ops, or add such a subgraph.

Passes that decompose an op (CropAndResize) or re-express it (NonMaxSuppressionV2) write the
replacement as ordinary TF code; this turns it into GraphDef nodes in graphport's schema, wired
to the old node's inputs and named so the old node's consumers read the new output. Constants get
a control edge from the node that feeds the first input, which keeps them in the same TF1 while
or cond frame as the code they serve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphport.backend.runtime import tensorflow
from graphport.graph.nodes import parse_input
from graphport.graph.schema import NodeDef
from graphport.passes.graph_util import frame_anchor


def add_subgraph(graph: Any, inputs: list[str], input_specs: list[tuple[int, Any]],
                 build: Callable[..., list[Any]], scope: str, anchor: str | None = None
                 ) -> list[Any]:
    """Add ``build(*placeholders)`` to ``graph`` under ``scope``, its placeholders wired to the
    tensors ``inputs`` (data inputs; ``^x`` control inputs are added to every new node), and
    return its outputs (TensorFlow tensors: ``scope/out_k`` in the graph). ``input_specs``
    gives (dtype enum, shape or None) for each data input; ``anchor`` (a control input) keeps
    the new constants in a TF1 frame."""
    tf = tensorflow()
    sub = tf.Graph()
    with sub.as_default():
        placeholders = [tf.compat.v1.placeholder(tf.as_dtype(dtype), shape, name=f"in_{i}")
                        for i, (dtype, shape) in enumerate(input_specs)]
        outputs = build(*placeholders)
        for k, tensor in enumerate(outputs):
            tf.identity(tensor, name=f"out_{k}")
    data = [i for i in inputs if not i.startswith("^")]
    control = [i for i in inputs if i.startswith("^")]
    renamed: dict[str, str] = {}
    new_nodes = []
    for tf_node in sub.as_graph_def().node:
        if tf_node.op == "Placeholder":
            renamed[tf_node.name] = data[int(tf_node.name.split("_")[1])]
            continue
        mine = NodeDef.FromString(tf_node.SerializeToString())
        mine.name = f"{scope}/{tf_node.name}"
        renamed[tf_node.name] = mine.name
        new_nodes.append(mine)
    for mine in new_nodes:
        fixed = []
        for item in mine.input:
            name, index, is_control = parse_input(item)
            target = renamed.get(name, name)
            if is_control:
                fixed.append(f"^{parse_input(target)[0]}")
            elif ":" in target or index:
                base, base_index, _ = parse_input(target)
                fixed.append(f"{base}:{base_index + index}" if index else target)
            else:
                fixed.append(target)
        del mine.input[:]
        mine.input.extend(fixed)
        if not mine.input and anchor:  # constants: stay in the frame of the code they feed
            mine.input.append(anchor)
        mine.input.extend(c for c in control if c not in mine.input)
        mine.ClearField("device")
    graph.node.extend(new_nodes)
    known = {f.signature.name for f in graph.library.function}
    for function in sub.as_graph_def().library.function:  # what a tf.function call needs
        if function.signature.name not in known:
            graph.library.function.add().MergeFromString(function.SerializeToString())
    return list(outputs)


def splice(graph: Any, node: Any, input_specs: list[tuple[int, Any]],
           build: Callable[..., list[Any]]) -> None:
    """Replace ``node`` (in place) by ``build(*placeholders)``, whose outputs take the place of
    ``node``'s outputs 0, 1, ... . ``input_specs`` gives (dtype enum, shape or None) for each of
    the node's data inputs, in order."""
    scope = f"{node.name}/graphport"
    originals = list(node.input)
    outputs = add_subgraph(graph, originals, input_specs, build, scope,
                           frame_anchor(graph, originals[0]))
    # The old node becomes an IdentityN-free relay: output k of the old name reads out_k.
    del node.input[:]
    node.ClearField("attr")
    if len(outputs) == 1:
        node.op = "Identity"
        node.input.append(f"{scope}/out_0")
        node.attr["T"].type = outputs[0].dtype.as_datatype_enum
    else:
        node.op = "IdentityN"
        node.input.extend(f"{scope}/out_{k}" for k in range(len(outputs)))
        node.attr["T"].list.type.extend(t.dtype.as_datatype_enum for t in outputs)
