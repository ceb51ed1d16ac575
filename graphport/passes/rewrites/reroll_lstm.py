"""An LSTM unrolled over time (static_rnn, or a hand-written loop in Python) -> one fused
sequence LSTM, which TFLite runs as one UNIDIRECTIONAL_SEQUENCE_LSTM.

An unrolled RNN is one copy of the cell per time step: a 2-layer LSTM over 200 steps is 5,200
ops, and its int8 model was larger than the float one (every step's tensors carry their own
quantization parameters) and no faster. Re-rolled, the weights are stored once, int8 runs the
cell with a 16-bit cell state, and the interpreter runs one op per layer.

Matched by data flow, not names (the cell: passes/lstm_cells.py): steps sharing one kernel and
bias form a chain where each step reads the previous step's h' and c'; a chain starting from a
zero state becomes one call of the fused sequence LSTM. Each step's h' stays readable as a
slice of the sequence output. A chain whose cell state is read outside it, or whose start
state is not zero, is left as it is with a note, for reroll_loop (a while loop) to take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from graphport.graph.edit import add_node
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.tensors import behind_identities, constant_value
from graphport.graph.types import GraphProto
from graphport.passes.base import TFLITE, GraphPass, PassContext, PassResult
from graphport.passes.graph_util import anchored_const, unique_name
from graphport.passes.lstm_cells import (
    Cell,
    fixed_batch,
    fused_lstm,
    int_value,
    is_zero,
    keras_weights,
    lstm_cell,
    slice_in_place,
)


@dataclass
class _Chain:
    """The steps of one LSTM layer in time order, with the concat position of h."""

    cells: list[Cell]
    h_position: int


@dataclass
class _Unfusable:
    """A kernel multiplied by Concat(x, h) at many steps (an unrolled cell) that no LSTM chain
    uses: reported, left as it is."""

    kernel: str
    steps: int


class RerollLstm(GraphPass):
    summary = ("an LSTM unrolled over time steps (static_rnn) -> one fused sequence LSTM "
               "(UNIDIRECTIONAL_SEQUENCE_LSTM in TFLite)")
    targets = frozenset({TFLITE})
    # The fused op needs a fixed batch: an open one is pinned to 1 on the graph inputs the
    # sequence comes from (a note says so); pin_batch=false leaves such an LSTM unrolled.
    params: ClassVar[dict[str, Any]] = {"pin_batch": True}
    _relayed: dict[str, tuple[str, int]]

    def matches(self, index: NodeIndex) -> list[Any]:
        cells = [c for node in index.graph.node if node.op in ("Split", "SplitV")
                 if (c := lstm_cell(index, node)) is not None]
        layers: dict[tuple[str, str], list[Cell]] = {}
        for cell in cells:
            layers.setdefault(cell.weights, []).append(cell)
        for key, group in layers.items():  # a layer read after the last step is no projection
            if len({cell.projection_node for cell in group}) > 1:
                layers[key] = [c for cell in group
                               if (c := lstm_cell(index, cell.split, project=False)) is not None]
        fused = {kernel for kernel, _ in layers}
        other = [_Unfusable(kernel, steps) for kernel, steps in _unrolled_kernels(index).items()
                 if kernel not in fused]
        return [*(chain for group in layers.values() for chain in _chains(group)), *other]

    def run(self, graph: GraphProto, matches: list[Any], context: PassContext) -> PassResult:
        self._relayed = {}  # a step's h' (now a slice) -> (sequence output, step)
        return super().run(graph, matches, context)

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        if isinstance(match, _Unfusable):
            context.note(f"{match.steps} steps share kernel {match.kernel} but are not an LSTM "
                         "cell the fused op computes (GRU, a cell clip): "
                         "not fused (reroll_loop makes it a while loop)")
            return False
        chain: _Chain = match
        first, last = chain.cells[0], chain.cells[-1]
        index = NodeIndex.of(graph)
        where = f"LSTM {first.split.name} .. {last.split.name} ({len(chain.cells)} steps)"
        start_h = first.operands[chain.h_position]
        if not (is_zero(start_h, index.nodes) and is_zero(first.c_prev, index.nodes)):
            context.note(f"{where}: not fused: its start state is not zero (a state "
                         "input); left to reroll_loop")
            return False
        for n, cell in enumerate(chain.cells):
            following = chain.cells[n + 1].split.name if n + 1 < len(chain.cells) else None
            for reader in index.readers(cell.new_c.name):
                if reader.node.name in cell.own or (
                        following and reader.node.name in chain.cells[n + 1].own):
                    continue
                context.note(f"{where}: not fused: its cell state {cell.new_c.name} is "
                             "read outside the cell (a state output); left to reroll_loop")
                return False
        kernel, recurrent, bias = keras_weights(first, chain.h_position)
        units = recurrent.shape[0]
        sequence = self._sequence(graph, chain, index, kernel.shape[0])
        batch = fixed_batch(graph, sequence, context.params["pin_batch"], context)
        if batch is None:
            context.note(f"{where}: not re-rolled: its batch size is open (the fused LSTM "
                         "needs a fixed one); left to reroll_loop; --input-shapes pins it")
            return False
        outputs = fused_lstm(graph, sequence, len(chain.cells), kernel, recurrent, bias, batch,
                             f"{first.split.name}/graphport_lstm", first)
        for step, cell in enumerate(chain.cells):
            slice_in_place(graph, cell.new_h, outputs, step)
            self._relayed[cell.new_h.name] = (outputs, step)
        context.note(f"{where}: one fused LSTM of {units} units")
        return True

    def _sequence(self, graph: Any, chain: _Chain, index: NodeIndex, width: int) -> str:
        """A [batch, time, features] tensor of the steps' inputs, taken whole where they are
        slices of one (an earlier layer's output, Unpack, Split along time) and packed
        otherwise."""
        xs = [cell.operands[1 - chain.h_position] for cell in chain.cells]
        steps = len(xs)
        relays = [self._relayed.get(parse_input(x)[0]) for x in xs]
        if all(r is not None and r[0] == relays[0][0] and r[1] == t  # type: ignore[index]
               for t, r in enumerate(relays)) and all(parse_input(x)[1] == 0 for x in xs):
            return relays[0][0]  # type: ignore[index]
        base = f"{chain.cells[0].split.name}/graphport_sequence"
        source = {parse_input(x)[0] for x in xs}
        node = index.nodes.get(next(iter(source))) if len(source) == 1 else None
        in_order = [parse_input(x)[1] for x in xs] == list(range(steps))
        dtype = chain.cells[0].split.attr["T"].type
        if node is not None and in_order and node.op == "Unpack" and \
                node.attr["num"].i == steps and node.attr["axis"].i in (0, 1):
            whole = node.input[0]
            if node.attr["axis"].i == 0:  # time-major
                whole = add_node(graph, unique_name(graph, f"{base}/batch_major"), "Transpose", [
                    whole, anchored_const(graph, f"{base}/perm", np.array([1, 0, 2], np.int32),
                                          whole)], types={"T": dtype, "Tperm": "int32"}).name
            return whole
        if node is not None and in_order and node.op == "Split" and \
                node.attr["num_split"].i == steps and \
                int_value(constant_value(node.input[0], index.nodes)) == 0:
            # split(x, T, axis=0) of a time-major [T * batch, features]: a reshape and a
            # transpose give the sequence without T tensors in between
            whole = node.input[1]
            shaped = add_node(graph, unique_name(graph, f"{base}/time_major"), "Reshape", [
                whole, anchored_const(graph, f"{base}/shape", np.array([steps, -1, width],
                                                                        np.int32), whole)],
                types={"T": dtype, "Tshape": "int32"}).name
            return add_node(graph, unique_name(graph, f"{base}/batch_major"), "Transpose", [
                shaped, anchored_const(graph, f"{base}/perm", np.array([1, 0, 2], np.int32),
                                       whole)], types={"T": dtype, "Tperm": "int32"}).name
        return add_node(graph, unique_name(graph, base), "Pack", xs, types={"T": dtype},
                        ints={"N": steps, "axis": 1}).name


def _chains(cells: list[Cell]) -> list[_Chain]:
    """The cells of one layer (shared weights) linked in time: a step reads the previous
    step's h' as one Concat operand and its c' as the cell state."""
    by_h = {c.new_h.name: c for c in cells}
    following: dict[str, Cell] = {}
    h_position: dict[str, int] = {}
    for cell in cells:
        linked = [k for k, o in enumerate(cell.operands) if parse_input(o)[0] in by_h
                  and parse_input(o)[1] == 0]
        if len(linked) != 1:
            continue
        previous = by_h[parse_input(cell.operands[linked[0]])[0]]
        if parse_input(cell.c_prev)[0] != previous.new_c.name or \
                previous.split.name in following:
            continue
        following[previous.split.name] = cell
        h_position[cell.split.name] = linked[0]
    starts = {c.split.name for c in cells} - {c.split.name for c in following.values()}
    chains = []
    for cell in cells:
        if cell.split.name not in starts or cell.split.name not in following:
            continue  # a lone step: nothing to re-roll
        steps = [cell]
        while steps[-1].split.name in following:
            steps.append(following[steps[-1].split.name])
        positions = {h_position[c.split.name] for c in steps[1:]}
        if len(positions) == 1:
            chains.append(_Chain(steps, positions.pop()))
    return chains


def _unrolled_kernels(index: NodeIndex) -> dict[str, int]:
    """Constant kernels that more than one MatMul of a Concat multiplies (an RNN cell copied
    per step; a loop's cell multiplies its kernel once), with their counts."""
    counts: dict[str, int] = {}
    for node in index.graph.node:
        if node.op != "MatMul":
            continue
        concat = index.nodes.get(parse_input(node.input[0])[0])
        kernel = behind_identities(node.input[1], index.nodes)
        if concat is not None and concat.op in ("ConcatV2", "Concat") and \
                kernel is not None and kernel.op == "Const":
            counts[kernel.name] = counts.get(kernel.name, 0) + 1
    return {k: n for k, n in counts.items() if n > 1}


