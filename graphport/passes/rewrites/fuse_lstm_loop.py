"""A dynamic_rnn loop around one LSTM cell -> one fused sequence LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM
in TFLite), instead of a WHILE running the cell's ops step by step.

In int8 the fused op keeps the cell state in 16 bits where a WHILE body quantizes every cell
tensor to 8 bits per tensor, and it runs as one op (the keyword spotter: 4 ops instead of 22).
Matched by data flow, as TensorFlow's dynamic_rnn (without sequence_length) writes the loop: the
cell (passes/lstm_cells.py) reads its input from a TensorArray scattered from the whole
time-major sequence, at a counter from 0 bounded by that array's size; h and c are loop
variables starting from zero whose next values are the cell's h' and c'. What the loop gives
outside, the final h (the last output) and a TensorArray of every h' gathered whole, become a
slice and a transpose of the fused output. A loop holding more than one cell (MultiRNNCell),
a cell state read after the loop, a start state that is not zero, or a cell with a cell clip
stays a WHILE, with a note (peepholes and a projection are fused: passes/lstm_cells.py); one
masked by sequence_length (a Select between the cell and the loop variable) is not matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from graphport.graph.edit import add_node
from graphport.graph.index import NodeIndex
from graphport.graph.integrity import ROOT_FRAME, frames
from graphport.graph.nodes import parse_input
from graphport.graph.tensors import behind_identities, constant_value
from graphport.passes.base import TFLITE, GraphPass, PassContext
from graphport.passes.graph_util import anchored_const, is_counter_from_zero, unique_name
from graphport.passes.lstm_cells import (
    Cell,
    fixed_batch,
    fused_lstm,
    has_lstm_gates,
    int_value,
    is_zero,
    keras_weights,
    lstm_cell,
    slice_in_place,
)


@dataclass
class _LoopVar:
    """A TF1 while loop variable: Merge(Enter(start), NextIteration(next)) -> Switch ->
    Identity (read in the body) and Exit (its final value)."""

    merge: Any
    start: str
    next: str  # the body's value for the next iteration
    feedback: str  # the NextIteration node
    switch: Any


@dataclass
class _LoopCell:
    cell: Cell
    frame: str
    h: _LoopVar
    c: _LoopVar
    h_position: int
    read: Any  # TensorArrayReadV3 of the input sequence


@dataclass
class _Unfusable:
    """A loop whose LSTM cell (its gates found) is not one the fused op computes."""

    frame: str


class FuseLstmLoop(GraphPass):
    summary = ("a dynamic_rnn loop around one LSTM cell -> one fused sequence LSTM "
               "(UNIDIRECTIONAL_SEQUENCE_LSTM in TFLite, 16-bit cell state in int8)")
    targets = frozenset({TFLITE})
    # as reroll_lstm's: an open batch is pinned to 1 (the fused op needs a fixed one)
    params: ClassVar[dict[str, Any]] = {"pin_batch": True}

    def matches(self, index: NodeIndex) -> list[Any]:
        splits = [n for n in index.graph.node if n.op in ("Split", "SplitV")
                  and has_lstm_gates(index, n)]
        cells = {n.name: c for n in splits if (c := lstm_cell(index, n)) is not None}
        found: list[Any] = [m for c in cells.values() if (m := _in_loop(index, c)) is not None]
        others = [n.name for n in splits if n.name not in cells]
        if others:  # LSTM gates in a loop, computed by a cell the fused op does not
            frame_of, _ = frames(index)
            found += [_Unfusable(frame) for frame in dict.fromkeys(
                frame_of.get(n, ROOT_FRAME) for n in others) if frame != ROOT_FRAME]
        return found

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        if isinstance(match, _Unfusable):
            context.note(f"LSTM loop {match.frame}: not fused: its cell is not one the fused "
                         "op computes (a cell clip, or peepholes on some gates only); left a "
                         "WHILE")
            return False
        m: _LoopCell = match
        index = NodeIndex.of(graph)
        frame_of, _ = frames(index)
        where = f"LSTM loop {m.frame}"
        cells = [n for n, f in frame_of.items() if f == m.frame and
                 index.nodes[n].op in ("Split", "SplitV") and lstm_cell(index, index.nodes[n])]
        if len(cells) != 1:
            context.note(f"{where}: not fused: {len(cells)} cells in one loop (MultiRNNCell); "
                         "left a WHILE")
            return False
        if not (is_zero(m.h.start, index.nodes) and is_zero(m.c.start, index.nodes)):
            context.note(f"{where}: not fused: its start state is not zero (a state input); "
                         "left a WHILE")
            return False
        inside = {m.cell.new_c.name: m.cell.own | {m.c.feedback},
                  m.cell.new_h.name: m.cell.own | {m.h.feedback}}
        writes = []
        for name, allowed in inside.items():
            for reader in index.readers(name):
                if reader.node.name in allowed:
                    continue
                if name == m.cell.new_h.name and reader.node.op == "TensorArrayWriteV3" and \
                        reader.position == 2:
                    writes.append(reader.node)
                    continue
                context.note(f"{where}: not fused: {name} is read by {reader.node.name}; left "
                             "a WHILE")
                return False
        exits = _exits(index, m.c.switch)
        if any(index.is_read(e.name) for e in exits):
            context.note(f"{where}: not fused: its final cell state is read after the loop (the "
                         "fused op does not give it); left a WHILE")
            return False
        source = _scattered_sequence(index, m)
        gathers = [g for w in writes for g in _gathers(index, w)]
        if source is None or len(gathers) != len(writes):
            context.note(f"{where}: not fused: its input or output is not a whole sequence "
                         "(a TensorArray scattered from one tensor, gathered whole); left a "
                         "WHILE")
            return False
        sequence, steps = source
        kernel, recurrent, bias = keras_weights(m.cell, m.h_position)
        base = f"{m.frame}/graphport_fused"
        dtype = m.cell.split.attr["T"].type
        perm = anchored_const(graph, f"{base}/perm", np.array([1, 0, 2], np.int32), sequence)
        batch_major = add_node(graph, unique_name(graph, f"{base}/batch_major"), "Transpose",
                               [sequence, perm], types={"T": dtype, "Tperm": "int32"}).name
        batch = fixed_batch(graph, batch_major, context.params["pin_batch"], context)
        if batch is None:
            context.note(f"{where}: not fused: its batch size is open (the fused LSTM needs a "
                         "fixed one); left a WHILE; pin it with --input-shapes")
            return False
        outputs = fused_lstm(graph, batch_major, steps, kernel, recurrent, bias, batch, base,
                             m.cell)
        for final in _exits(index, m.h.switch):
            slice_in_place(graph, final, outputs, steps - 1)
        for gather in gathers:  # every h', time-major as the TensorArray held them
            _transpose_in_place(graph, gather, outputs, perm)
        context.note(f"{where}: one fused LSTM of {recurrent.shape[0]} units over {steps} "
                     "steps")
        return True


def _loop_var(tensor: str, nodes: dict[str, Any]) -> _LoopVar | None:
    """The loop variable whose body value is ``tensor`` (Identity of Switch:1 of a Merge)."""
    node = nodes.get(parse_input(tensor)[0])
    if node is None or node.op != "Identity":
        return None
    name, output, _ = parse_input(node.input[0])
    switch = nodes.get(name)
    if switch is None or switch.op != "Switch" or output != 1:
        return None
    merge = nodes.get(parse_input(switch.input[0])[0])
    if merge is None or merge.op != "Merge" or len(merge.input) != 2:
        return None
    ends = {nodes[parse_input(i)[0]].op: nodes[parse_input(i)[0]] for i in merge.input
            if parse_input(i)[0] in nodes}
    if set(ends) != {"Enter", "NextIteration"}:
        return None
    return _LoopVar(merge, ends["Enter"].input[0], ends["NextIteration"].input[0],
                    ends["NextIteration"].name, switch)


def _in_loop(index: NodeIndex, cell: Cell) -> _LoopCell | None:
    """``cell`` as the body of a dynamic_rnn loop: h and c loop variables fed back from its h'
    and c', its other input a TensorArray read at the loop counter."""
    nodes = index.nodes
    for h_position in (0, 1):
        h = _loop_var(cell.operands[h_position], nodes)
        c = _loop_var(cell.c_prev, nodes)
        if h is None or c is None or h.next != cell.new_h.name or c.next != cell.new_c.name:
            continue
        read = nodes.get(parse_input(cell.operands[1 - h_position])[0])
        if read is None or read.op != "TensorArrayReadV3" or \
                not is_counter_from_zero(nodes.get(parse_input(read.input[1])[0]), nodes):
            return None
        frame = nodes[parse_input(h.merge.input[0])[0]].attr["frame_name"].s.decode()
        return _LoopCell(cell, frame, h, c, h_position, read)
    return None


def _exits(index: NodeIndex, switch: Any) -> list[Any]:
    """The Exit nodes of a loop variable (reading its Switch's output 0)."""
    return [r.node for r in index.readers(switch.name) if r.node.op == "Exit" and r.output == 0]


def _scattered_sequence(index: NodeIndex, m: _LoopCell) -> tuple[str, int] | None:
    """(the time-major tensor the input TensorArray was scattered from, its time steps T) when
    the array holds it whole (T elements, indices 0..T-1) and the loop runs T times; else
    None."""
    nodes = index.nodes
    flow = behind_identities(m.read.input[2], nodes)
    handle = behind_identities(m.read.input[0], nodes)
    if flow is None or flow.op != "TensorArrayScatterV3" or handle is None or \
            handle.op != "TensorArrayV3" or behind_identities(flow.input[0], nodes) is not handle:
        return None
    from graphport.backend.tf_graph import get_tensor, import_graph, to_tf

    value = flow.input[2]
    shape = get_tensor(import_graph(to_tf(index.graph)), value).shape
    if shape.rank != 3 or shape[0] is None:
        return None
    steps = int(shape[0])
    if not _all_steps(flow.input[1], value, steps, nodes) or \
            not _is_steps(handle.input[0], value, steps, nodes) or \
            not _bounded_by(index, m, value, steps):
        return None
    return value, steps


def _all_steps(tensor: str, value: str, steps: int, nodes: dict[str, Any]) -> bool:
    """Whether ``tensor`` holds 0, 1, .., T-1: range(0, T, 1), or that folded to a constant."""
    if not _from_zero(tensor, nodes):
        return False
    folded = constant_value(tensor, nodes)
    if folded is not None:
        return folded.size == steps
    return _is_steps(behind_identities(tensor, nodes).input[1], value, steps, nodes)


def _is_steps(tensor: str, value: str, steps: int, nodes: dict[str, Any]) -> bool:
    """Whether ``tensor`` is the time steps T of ``value``: the constant T, shape(value)[0],
    or TF 2.x dynamic_rnn's loop bound minimum(T, maximum(1, T)) without sequence lengths."""
    if int_value(constant_value(tensor, nodes)) == steps:
        return True
    node = behind_identities(tensor, nodes)
    if node is not None and node.op == "Minimum":
        return all(_is_steps(i, value, steps, nodes) for i in node.input[:2])
    if node is not None and node.op == "Maximum":  # maximum(1, T) is T for T >= 1
        low = [i for i in node.input[:2]
               if (v := int_value(constant_value(i, nodes))) is not None and v <= 1]
        rest = [i for i in node.input[:2] if i not in low]
        return steps >= 1 and len(low) == 1 and len(rest) == 1 and \
            _is_steps(rest[0], value, steps, nodes)
    if node is None or node.op != "StridedSlice":
        return False
    shape = behind_identities(node.input[0], nodes)
    begin = constant_value(node.input[1], nodes)
    return shape is not None and shape.op == "Shape" and begin is not None and \
        begin.size == 1 and int(begin.ravel()[0]) == 0 and \
        behind_identities(shape.input[0], nodes) is behind_identities(value, nodes)


def _bounded_by(index: NodeIndex, m: _LoopCell, value: str, steps: int) -> bool:
    """Whether every bound of the loop's condition is the sequence's time steps (dynamic_rnn's
    time < time_steps, and maximum_iterations = time_steps where TF 1.x added it)."""
    nodes = index.nodes
    switch_cond = nodes.get(parse_input(m.h.switch.input[1])[0])
    condition = nodes.get(parse_input(switch_cond.input[0])[0]) if switch_cond is not None \
        and switch_cond.op == "LoopCond" else None
    queue, compared = [condition], 0
    while queue:
        node = queue.pop()
        if node is None:
            return False
        if node.op == "LogicalAnd":
            queue += [nodes.get(parse_input(i)[0]) for i in node.input]
            continue
        if node.op != "Less" or not _is_steps(node.input[1], value, steps, nodes):
            return False
        compared += 1
    return compared > 0


def _gathers(index: NodeIndex, write: Any) -> list[Any]:
    """The TensorArrayGatherV3 nodes that read the whole output array ``write`` writes (after
    the loop, through the flow's Exit), or [] when it is read another way."""
    nodes = index.nodes
    handle = behind_identities(write.input[0], nodes)
    if handle is None or handle.op != "TensorArrayV3" or \
            not is_counter_from_zero(nodes.get(parse_input(write.input[1])[0]), nodes):
        return []
    found = []
    for reader in index.readers(handle.name):
        node = reader.node
        if node.op in ("Enter", "TensorArraySizeV3"):
            continue
        if node.op != "TensorArrayGatherV3" or not _from_zero(node.input[1], nodes):
            return []
        found.append(node)
    return found


def _from_zero(tensor: str, nodes: dict[str, Any]) -> bool:
    """Whether ``tensor`` is 0, 1, 2, ... (the loop wrote one element per step, so a gather of
    0..size-1 is every element): range(0, n, 1) or that folded to a constant."""
    folded = constant_value(tensor, nodes)
    if folded is not None:
        return folded.ndim == 1 and folded.tolist() == list(range(folded.size))
    node = behind_identities(tensor, nodes)
    return node is not None and node.op == "Range" and \
        int_value(constant_value(node.input[0], nodes)) == 0 and \
        int_value(constant_value(node.input[2], nodes)) == 1


def _transpose_in_place(graph: Any, node: Any, sequence: str, perm: str) -> None:
    """Turn ``node`` into ``transpose(sequence, perm)``, so its readers are untouched."""
    dtype = node.attr["dtype"].type
    del node.input[:]
    node.ClearField("attr")
    node.op = "Transpose"
    node.input.extend([sequence, perm])
    node.attr["T"].type = dtype
    node.attr["Tperm"].type = 3  # DT_INT32
