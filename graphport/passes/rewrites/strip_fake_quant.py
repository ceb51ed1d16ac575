"""Fake-quant points -> Identity: a quantization-aware-trained graph as the true float model.

Not in the default pipeline: by default a float conversion keeps each fake-quant point (as
QUANTIZE/DEQUANTIZE pairs) and computes exactly what the QAT graph computes. Asked for with
``--passes +strip_fake_quant``, the float model drops the rounding; its verdict against the
fake-quant graph is then judged with int8 tolerances, since the difference is by design.
"""

from __future__ import annotations

from typing import Any

from graphport.graph.fake_quant import FAKE_QUANT_OPS
from graphport.graph.index import NodeIndex
from graphport.graph.tensors import dtype_enum
from graphport.passes.base import GraphPass, PassContext


class StripFakeQuant(GraphPass):
    summary = "fake-quant points -> Identity (a QAT graph's true float model; opt-in)"
    changes_numbers = True

    def matches(self, index: NodeIndex) -> list[Any]:
        return [n for n in index.graph.node if n.op in FAKE_QUANT_OPS]

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        value = match.input[0]
        controls = [i for i in match.input if i.startswith("^")]
        match.op = "Identity"
        del match.input[:]
        match.input.extend([value, *controls])
        match.ClearField("attr")
        match.attr["T"].type = dtype_enum("float")
        return True
