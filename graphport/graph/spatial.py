"""Feature-map sizes without TensorFlow: height and width carried from an image tensor of known
size through the convolutions, pools, pads and resizes after it (an SSD's anchor count is the
sum over its class predictors of height x width x anchors per cell). A loop that erased the
static shapes does not matter here: only constant attributes and weights are read."""

from __future__ import annotations

import math
from typing import Any

from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.tensors import constant_value, shape_list

Size = tuple[int, int]
_WINDOWED = ("Conv2D", "DepthwiseConv2dNative", "MaxPool", "AvgPool")
# elementwise with a map on either side (the other operand may be a constant of no size)
_BINARY = ("Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum")
_SAME_SIZE = ("Relu", "Relu6", "Identity", "BiasAdd", "Sigmoid", "Tanh", "Cast", "FusedBatchNorm",
              "FusedBatchNormV3", "FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxArgs",
              "ConcatV2", "Elu", "LeakyRelu", "Square", "Rsqrt")


def _window(node: Any, index: NodeIndex, size: Size) -> Size | None:
    strides = list(node.attr["strides"].list.i) or [1, 1, 1, 1]
    if node.op in ("MaxPool", "AvgPool"):
        kernel = list(node.attr["ksize"].list.i)[1:3]
    else:
        weights = constant_value(node.input[1], index.nodes)
        if weights is None:
            return None
        dilations = list(node.attr["dilations"].list.i) or [1, 1, 1, 1]
        kernel = [(k - 1) * d + 1 for k, d in zip(weights.shape[:2], dilations[1:3],
                                                   strict=True)]
    same = node.attr["padding"].s == b"SAME"
    return tuple(math.ceil(n / s) if same else math.ceil((n - k + 1) / s)
                 for n, k, s in zip(size, kernel, strides[1:3], strict=True))


def spatial_size(tensor: str, index: NodeIndex, known: dict[str, Size]) -> Size | None:
    """[height, width] of NHWC ``tensor``, walking up to a node in ``known`` (node -> size);
    None where an op on the way is not one it follows."""
    memo: dict[str, Size | None] = dict(known)
    stack = [parse_input(tensor)[0]]
    while stack:
        name = stack[-1]
        if name in memo:
            stack.pop()
            continue
        node = index.nodes.get(name)
        if node is None or not node.input:
            memo[name] = None
            stack.pop()
            continue
        source = parse_input(node.input[0])[0]
        if node.op in _BINARY:
            operands = [parse_input(i)[0] for i in node.input[:2]]
            pending = [o for o in operands if o not in memo]
            if pending:
                stack.extend(pending)
                continue
            memo[name] = next((memo[o] for o in operands if memo[o] is not None), None)
            stack.pop()
            continue
        if source not in memo:
            stack.append(source)
            continue
        below = memo[source]
        if below is None:
            memo[name] = None
        elif node.op in _SAME_SIZE:
            memo[name] = below
        elif node.op in _WINDOWED:
            memo[name] = _window(node, index, below)
        elif node.op in ("Pad", "MirrorPad", "PadV2"):
            pads = constant_value(node.input[1], index.nodes)
            memo[name] = None if pads is None else (below[0] + int(pads[1].sum()),
                                                    below[1] + int(pads[2].sum()))
        elif node.op.startswith("Resize"):
            target = constant_value(node.input[1], index.nodes)
            memo[name] = None if target is None else (int(target[0]), int(target[1]))
        else:
            memo[name] = None
        stack.pop()
    return memo.get(parse_input(tensor)[0])


def placeholder_sizes(index: NodeIndex) -> dict[str, Size]:
    """NHWC placeholders whose height and width are static."""
    found = {}
    for node in index.graph.node:
        dims = shape_list(node.attr["shape"].shape) if node.op == "Placeholder" else None
        if dims and len(dims) == 4 and dims[1] > 0 and dims[2] > 0:
            found[node.name] = (dims[1], dims[2])
    return found
