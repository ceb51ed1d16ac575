"""An LSTM unrolled over time (static_rnn, or a hand-written loop in Python) -> one fused
sequence LSTM, which TFLite runs as one UNIDIRECTIONAL_SEQUENCE_LSTM.

An unrolled RNN is one copy of the cell per time step: a 2-layer LSTM over 200 steps is 5,200
ops, and its int8 model was larger than the float one (every step's tensors carry their own
quantization parameters) and no faster. Re-rolled, the weights are stored once, int8 runs the
cell with a 16-bit cell state, and the interpreter runs one op per layer.

Matched by data flow, not names: a BasicLSTMCell/LSTMCell step (no peepholes, projection or
clipping) is ``Split(4)`` of ``MatMul(Concat(x, h), W) + b`` read as i, j, f, o, with
``c' = c * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j)`` and ``h' = tanh(c') *
sigmoid(o)`` (operands in either order). Steps sharing one kernel and bias form a chain where
each step reads the previous step's h' and c'; a chain starting from a zero state becomes one
call of a function computing the whole sequence. The function carries the attributes
TensorFlow's converter recognises on Keras' LSTM (``api_implements: lstm_*``, ``time_major``,
``go_backwards``), so the converter replaces it by the fused op; TensorFlow runs its body. Each
step's h' stays readable as a slice of the sequence output. A chain whose cell state is read
outside it, or whose start state is not zero, is left as it is with a note.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from graphport.graph.edit import add_node
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.tensors import behind_identities, constant_value, shape_list
from graphport.graph.types import GraphProto
from graphport.passes.base import TFLITE, GraphPass, PassContext, PassResult
from graphport.passes.graph_util import anchored_const, unique_name

_ADD = ("Add", "AddV2")
_FLOAT = 1  # DT_FLOAT


@dataclass
class _Cell:
    """One time step of an LSTM cell, found by data flow."""

    split: Any
    operands: list[str]  # the Concat's two data inputs, in order
    kernel: np.ndarray  # [rows, 4H] as multiplied (transpose_b applied)
    bias: np.ndarray
    weights: tuple[str, str]  # the kernel's and bias's Const nodes: one per layer
    forget_bias: float
    c_prev: str
    new_c: Any
    new_h: Any
    own: set[str]  # the step's nodes other than new_c/new_h


@dataclass
class _Chain:
    """The steps of one LSTM layer in time order, with the concat position of h."""

    cells: list[_Cell]
    h_position: int
    xs: list[str] = field(default_factory=list)


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
                 if (c := _cell(index, node)) is not None]
        layers: dict[tuple[str, str], list[_Cell]] = {}
        for cell in cells:
            layers.setdefault(cell.weights, []).append(cell)
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
                         "cell the fused op computes (GRU, peepholes, projection or clipping): "
                         "left unrolled")
            return False
        chain: _Chain = match
        first, last = chain.cells[0], chain.cells[-1]
        index = NodeIndex.of(graph)
        where = f"LSTM {first.split.name} .. {last.split.name} ({len(chain.cells)} steps)"
        start_h = first.operands[chain.h_position]
        if not (_is_zero(start_h, index.nodes) and _is_zero(first.c_prev, index.nodes)):
            context.note(f"{where}: not re-rolled: its start state is not zero (a state "
                         "input); left unrolled")
            return False
        for n, cell in enumerate(chain.cells):
            following = chain.cells[n + 1].split.name if n + 1 < len(chain.cells) else None
            for reader in index.readers(cell.new_c.name):
                if reader.node.name in cell.own or (
                        following and reader.node.name in chain.cells[n + 1].own):
                    continue
                context.note(f"{where}: not re-rolled: its cell state {cell.new_c.name} is "
                             "read outside the cell (a state output); left unrolled")
                return False
        kernel, recurrent, bias = _keras_weights(first, chain.h_position)
        units = recurrent.shape[0]
        sequence = self._sequence(graph, chain, index, kernel.shape[0])
        batch = _batch(graph, sequence)
        if batch is None and context.params["pin_batch"]:
            index = NodeIndex.of(graph)  # with the sequence's new nodes
            pinned = _pin_batch(graph, sequence, index)
            batch = _batch(graph, sequence)
            if batch is None:
                for name in pinned:
                    index.nodes[name].attr["shape"].shape.dim[0].size = -1
            elif pinned:
                context.note(f"{', '.join(pinned)}: batch 1 (the fused LSTM needs a fixed "
                             "batch; --input-shapes fixes another)")
        if batch is None:
            context.note(f"{where}: not re-rolled: its batch size is open (the fused LSTM "
                         "needs a fixed one); left unrolled; pin it with --input-shapes")
            return False
        outputs = _fused(graph, sequence, len(chain.cells), kernel, recurrent, bias, batch,
                         f"{first.split.name}/graphport_lstm")
        for step, cell in enumerate(chain.cells):
            _slice_in_place(graph, cell.new_h, outputs, step)
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
                _int(constant_value(node.input[0], index.nodes)) == 0:
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


def _int(value: np.ndarray | None) -> int | None:
    return int(value) if value is not None and value.size == 1 else None


def _only(index: NodeIndex, name: str, output: int = 0) -> Any:
    """The one node reading output ``output`` of node ``name``, or None."""
    readers = [r for r in index.readers(name) if r.output == output]
    return readers[0].node if len(readers) == 1 and not index.control_readers(name) else None


def _other(node: Any, known: str) -> str | None:
    """The data input of a two-input node that is not ``known``."""
    data = [i for i in node.input if not i.startswith("^")]
    if len(data) != 2 or known not in data:
        return None
    return data[1] if data[0] == known else data[0]


def _cell(index: NodeIndex, split: Any) -> _Cell | None:
    """The LSTM step whose gates ``split`` cuts, or None when it is not one."""
    nodes = index.nodes
    if split.attr["num_split"].i != 4 or split.attr["T"].type != _FLOAT:
        return None
    if split.op == "Split":
        axis, value = constant_value(split.input[0], nodes), split.input[1]
    else:
        axis, value = constant_value(split.input[2], nodes), split.input[0]
        sizes = constant_value(split.input[1], nodes)
        if sizes is None or len(set(sizes.tolist())) != 1:
            return None
    if _int(axis) not in (1, -1):
        return None
    gates = nodes.get(parse_input(value)[0])
    if gates is None or gates.op not in ("BiasAdd", *_ADD) or parse_input(value)[1]:
        return None
    data = [i for i in gates.input if not i.startswith("^")]
    bias_at = [k for k, i in enumerate(data) if constant_value(i, nodes) is not None]
    if len(data) != 2 or len(bias_at) != 1:
        return None
    bias = constant_value(data[bias_at[0]], nodes)
    matmul = nodes.get(parse_input(data[1 - bias_at[0]])[0])
    if matmul is None or matmul.op != "MatMul" or matmul.attr["transpose_a"].b:
        return None
    kernel = constant_value(matmul.input[1], nodes)
    concat = nodes.get(parse_input(matmul.input[0])[0])
    if kernel is None or kernel.ndim != 2 or bias is None or concat is None or \
            concat.op not in ("ConcatV2", "Concat"):
        return None
    kernel = kernel.T if matmul.attr["transpose_b"].b else kernel
    operands = [i for i in concat.input if not i.startswith("^")]
    if concat.op == "Concat":  # TF 0.x: the axis first
        operands = [*operands[1:], operands[0]]
    units = kernel.shape[1] // 4
    if len(operands) != 3 or _int(constant_value(operands[2], nodes)) not in (1, -1) or \
            kernel.shape[1] != 4 * units or bias.shape != (4 * units,) or \
            kernel.shape[0] <= units:
        return None
    if _only(index, concat.name) is not matmul or _only(index, matmul.name) is not gates or \
            _only(index, gates.name) is not split:
        return None
    gate = [_only(index, split.name, k) for k in range(4)]  # i, j, f, o
    if any(g is None for g in gate):
        return None
    sig_i, tanh_j, f_node, sig_o = gate
    forget_bias = 0.0
    if f_node.op in _ADD:
        added = _other(f_node, f"{split.name}:2")
        fb = constant_value(added, nodes) if added is not None else None
        if fb is None or fb.size != 1:
            return None
        forget_bias, sig_f = float(fb), _only(index, f_node.name)
    else:
        sig_f, f_node = f_node, None
    if (sig_i.op, tanh_j.op, sig_o.op) != ("Sigmoid", "Tanh", "Sigmoid") or sig_f is None or \
            sig_f.op != "Sigmoid":
        return None
    m_ij, m_fc = _only(index, sig_i.name), _only(index, sig_f.name)
    if m_ij is None or m_fc is None or m_ij.op != "Mul" or m_fc.op != "Mul" or \
            _only(index, tanh_j.name) is not m_ij or _other(m_ij, sig_i.name) != tanh_j.name:
        return None
    c_prev = _other(m_fc, sig_f.name)
    new_c = _only(index, m_ij.name)
    if c_prev is None or new_c is None or new_c.op not in _ADD or \
            _only(index, m_fc.name) is not new_c or _other(new_c, m_ij.name) != m_fc.name:
        return None
    tanh_c = [r.node for r in index.readers(new_c.name) if r.node.op == "Tanh"]
    new_h = _only(index, tanh_c[0].name) if len(tanh_c) == 1 else None
    if new_h is None or new_h.op != "Mul" or _other(new_h, tanh_c[0].name) != sig_o.name or \
            _only(index, sig_o.name) is not new_h:
        return None
    weights = (behind_identities(matmul.input[1], nodes).name,
               behind_identities(data[bias_at[0]], nodes).name)
    own = {n.name for n in (concat, matmul, gates, split, sig_i, tanh_j, f_node, sig_f,
                            sig_o, m_ij, m_fc, tanh_c[0]) if n is not None}
    return _Cell(split, operands[:2], kernel, bias, weights, forget_bias, c_prev, new_c,
                 new_h, own)


def _chains(cells: list[_Cell]) -> list[_Chain]:
    """The cells of one layer (shared weights) linked in time: a step reads the previous
    step's h' as one Concat operand and its c' as the cell state."""
    by_h = {c.new_h.name: c for c in cells}
    following: dict[str, _Cell] = {}
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


def _is_zero(tensor: str, nodes: dict[str, Any]) -> bool:
    """Whether ``tensor`` is all zeros: a zero Const, Fill with 0 or ZerosLike (a cell's
    zero_state, with a static or a run-time batch)."""
    value = constant_value(tensor, nodes)
    if value is not None:
        return not np.any(value)
    node = behind_identities(tensor, nodes)
    if node is None:
        return False
    if node.op == "Fill":
        fill = constant_value(node.input[1], nodes)
        return fill is not None and not np.any(fill)
    return node.op == "ZerosLike"


def _keras_weights(cell: _Cell, h_position: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kernel, recurrent kernel, bias) in Keras' gate order i, f, c, o from TF1's i, j, f,
    o, with the forget bias folded into the bias."""
    units = cell.kernel.shape[1] // 4
    if h_position == 0:
        recurrent, kernel = cell.kernel[:units], cell.kernel[units:]
    else:
        kernel, recurrent = cell.kernel[:-units], cell.kernel[-units:]
    order = np.concatenate([np.arange(0, units), np.arange(2 * units, 3 * units),
                            np.arange(units, 2 * units), np.arange(3 * units, 4 * units)])
    bias = cell.bias[order].astype(np.float32)
    bias[units:2 * units] += np.float32(cell.forget_bias)
    return (np.ascontiguousarray(kernel[:, order], np.float32),
            np.ascontiguousarray(recurrent[:, order], np.float32), bias)


def _batch(graph: Any, sequence: str) -> int | None:
    """The sequence's static batch size from TensorFlow's shape inference, if it has one."""
    from graphport.backend.tf_graph import get_tensor, import_graph, to_tf

    shape = get_tensor(import_graph(to_tf(graph)), sequence).shape
    return int(shape[0]) if shape.rank == 3 and shape[0] is not None else None


def _pin_batch(graph: Any, tensor: str, index: NodeIndex) -> list[str]:
    """Give the graph inputs ``tensor`` is computed from an open batch of 1; their names."""
    pinned, seen, queue = [], set(), [parse_input(tensor)[0]]
    while queue:
        name = queue.pop()
        node = index.nodes.get(name)
        if node is None or name in seen:
            continue
        seen.add(name)
        dims = shape_list(node.attr["shape"].shape) if node.op == "Placeholder" and \
            "shape" in node.attr else None
        if dims and dims[0] < 0:
            node.attr["shape"].shape.dim[0].size = 1
            pinned.append(name)
        queue.extend(parse_input(i)[0] for i in node.input if not i.startswith("^"))
    return pinned


def _fused(graph: Any, sequence: str, steps: int, kernel: np.ndarray, recurrent: np.ndarray,
           bias: np.ndarray, batch: int | None, scope: str) -> str:
    """Add the call of the sequence LSTM function on ``sequence``; its [batch, time, units]
    output's name."""
    from graphport.backend.runtime import tensorflow
    from graphport.passes.splice import add_subgraph

    tf = tensorflow()
    units = recurrent.shape[0]
    digest = hashlib.sha1(kernel.tobytes() + recurrent.tobytes()).hexdigest()[:16]
    function = tf.function(_sequence_lstm, autograph=False, experimental_attributes={
        "api_implements": f"lstm_{digest}", "api_preferred_device": "CPU",
        "time_major": False, "go_backwards": False})

    def build(inputs: Any) -> list[Any]:
        rows = tf.shape(inputs)[0] if batch is None else batch
        zeros = tf.zeros(tf.stack([rows, units]) if batch is None else [batch, units])
        results = function(inputs, zeros, zeros, tf.constant(kernel), tf.constant(recurrent),
                           tf.constant(bias))
        return [results[1]]

    scope = unique_name(graph, scope)
    add_subgraph(graph, [sequence], [(_FLOAT, [batch, steps, kernel.shape[0]])], build, scope)
    return f"{scope}/out_0"


def _sequence_lstm(inputs: Any, init_h: Any, init_c: Any, kernel: Any, recurrent_kernel: Any,
                   bias: Any) -> tuple[Any, ...]:
    """Keras' standard_lstm contract (what TensorFlow's converter fuses): batch-major inputs;
    returns (last output, outputs, h, c, runtime)."""
    from graphport.backend.runtime import tensorflow

    tf = tensorflow()
    steps = inputs.shape[1]
    sequence = tf.transpose(inputs, [1, 0, 2])

    def step(t: Any, h: Any, c: Any, outputs: Any) -> tuple[Any, ...]:
        z = tf.matmul(sequence[t], kernel) + tf.matmul(h, recurrent_kernel) + bias
        i, f, g, o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return t + 1, h, c, outputs.write(t, h)

    written = tf.TensorArray(tf.float32, size=steps)
    _, h, c, written = tf.while_loop(lambda t, *_: t < steps, step,
                                     (tf.constant(0), init_h, init_c, written))
    outputs = tf.transpose(written.stack(), [1, 0, 2])
    return h, outputs, h, c, tf.constant(0.0)


def _slice_in_place(graph: Any, node: Any, sequence: str, step: int) -> None:
    """Turn step ``step``'s h' node into ``sequence[:, step, :]``, so its readers are
    untouched."""
    base = f"{node.name}/graphport_step"
    begin = anchored_const(graph, f"{base}/begin", np.array([0, step, 0], np.int32), sequence)
    end = anchored_const(graph, f"{base}/end", np.array([0, step + 1, 0], np.int32), sequence)
    strides = anchored_const(graph, f"{base}/strides", np.ones(3, np.int32), sequence)
    dtype = node.attr["T"].type
    del node.input[:]
    node.ClearField("attr")
    node.op = "StridedSlice"
    node.input.extend([sequence, begin, end, strides])
    node.attr["T"].type = dtype
    node.attr["Index"].type = 3  # DT_INT32
    for key, value in (("begin_mask", 5), ("end_mask", 5), ("ellipsis_mask", 0),
                       ("new_axis_mask", 0), ("shrink_axis_mask", 2)):
        node.attr[key].i = value
