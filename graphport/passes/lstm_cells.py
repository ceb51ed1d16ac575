"""An LSTM cell step found by data flow, and its replacement by one fused sequence LSTM: what
the passes that fuse LSTMs share (reroll_lstm: unrolled steps; fuse_lstm_loop: a dynamic_rnn
loop).

A BasicLSTMCell/LSTMCell step (no clipping) is ``Split(4)`` of ``MatMul(Concat(x, h), W) + b``
read as i, j, f, o, with ``c' = c * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j)`` and
``h' = tanh(c') * sigmoid(o)`` (operands in either order; the kernel may be read through a while
loop's Enter); with peepholes ``w_i * c`` and ``w_f * c`` join the i and f gates and ``w_o * c'``
the o gate, and with a projection ``h' = MatMul(tanh(c') * sigmoid(o), P)``. The replacement is
a call of a function with the contract TensorFlow's converter fuses for Keras' LSTM
(``api_implements: lstm_*``, ``time_major``, ``go_backwards``): one UNIDIRECTIONAL_SEQUENCE_LSTM
in TFLite; TensorFlow runs the function's body. The contract has neither peepholes nor a
projection: the projection is folded (the recurrence multiplies ``m = tanh(c') * sigmoid(o)`` by
``P @ W_h``, and ``P`` is applied to the outputs after the call), and the peephole weights ride
on the function (``PEEPHOLES_ATTR``) for the converter stage to put into the fused op
(convert/lstm_peepholes.py). The converter fuses only with a fixed batch and when just the
sequence output is read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphport.graph.edit import fill_tensor
from graphport.graph.index import NodeIndex
from graphport.graph.nodes import canonical_tensor, parse_input, tensor_name
from graphport.graph.tensors import behind_identities, constant_value, shape_list
from graphport.passes.base import PassContext
from graphport.passes.graph_util import anchored_const, unique_name

_ADD = ("Add", "AddV2")
_FLOAT = 1  # DT_FLOAT
# the fused function's attribute holding a cell's peephole weights [3, units] (i, f, o), and
# its Keras-ordered bias [4 * units] and a sample of its kernel, by which the converter stage
# finds its op
PEEPHOLES_ATTR = "_graphport_peepholes"
KERNEL_SAMPLE = 256  # kernel values kept for that (every k-th, in row-major order)


@dataclass
class Cell:
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
    peepholes: np.ndarray | None = None  # [3, units]: w_i, w_f, w_o
    projection: np.ndarray | None = None  # P [units, projected units]
    projection_node: str | None = None  # the Const behind P


def int_value(value: np.ndarray | None) -> int | None:
    return int(value) if value is not None and value.size == 1 else None


def only_reader(index: NodeIndex, name: str, output: int = 0) -> Any:
    """The one node reading output ``output`` of node ``name``, or None."""
    readers = [r for r in index.readers(name) if r.output == output]
    return readers[0].node if len(readers) == 1 and not index.control_readers(name) else None


def other_input(node: Any, known: str) -> str | None:
    """The data input of a two-input node that is not tensor ``known`` (``x`` and ``x:0`` are
    one tensor)."""
    data = [i for i in node.input if not i.startswith("^")]
    at = [k for k, i in enumerate(data) if canonical_tensor(i) == canonical_tensor(known)]
    return data[1 - at[0]] if len(data) == 2 and len(at) == 1 else None


@dataclass
class _Gates:
    """``Split(4)`` of ``MatMul(Concat(x, h), W) + b``: the gate pre-activations of an LSTM step
    (of any TF1 LSTM cell; what follows decides whether it is one the fused op computes)."""

    gates: Any
    matmul: Any
    concat: Any
    operands: list[str]  # the Concat's data inputs, its axis last
    kernel: np.ndarray
    bias: np.ndarray
    bias_input: str


def _gate_split(index: NodeIndex, split: Any) -> _Gates | None:
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
    if int_value(axis) not in (1, -1):
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
    if len(operands) != 3 or int_value(constant_value(operands[2], nodes)) not in (1, -1) or \
            kernel.shape[1] != 4 * units or bias.shape != (4 * units,) or kernel.shape[0] < 2:
        return None
    return _Gates(gates, matmul, concat, operands, kernel, bias, data[bias_at[0]])


def has_lstm_gates(index: NodeIndex, split: Any) -> bool:
    """Whether ``split`` cuts an LSTM step's gates, whatever the cell does with them."""
    return _gate_split(index, split) is not None


@dataclass
class _Gate:
    """A gate's pre-activation (a Split output) on its way to its Sigmoid: a scalar added (the
    forget bias) and a peephole ``w * c`` added, each optional."""

    sigmoid: Any
    nodes: list[Any]
    bias: float
    peephole: tuple[np.ndarray, str] | None  # (w, the cell state it multiplies)


def _gate(index: NodeIndex, split: Any, output: int) -> _Gate | None:
    """Gate ``output`` of ``split`` (i, j, f, o) up to its Sigmoid, or None."""
    nodes = index.nodes
    name, at = split.name, output
    node = only_reader(index, name, output)
    chain: list[Any] = []
    bias, peephole = 0.0, None
    while node is not None and node.op in _ADD and len(chain) < 3:  # a bias, a peephole
        added = other_input(node, tensor_name(name, at))
        if added is None:
            return None
        value = constant_value(added, nodes)
        term = nodes.get(parse_input(added)[0])
        if value is not None and value.size == 1 and not bias:
            bias = float(value.reshape(()))
        elif term is not None and term.op == "Mul" and peephole is None and \
                only_reader(index, term.name) is node and not parse_input(added)[1]:
            data = [i for i in term.input if not i.startswith("^")]
            weights = [constant_value(i, nodes) for i in data]
            known = [k for k, w in enumerate(weights) if w is not None and w.ndim == 1]
            if len(data) != 2 or len(known) != 1:
                return None
            peephole = (np.asarray(weights[known[0]]), data[1 - known[0]])
            chain.append(term)
        else:
            return None
        chain.append(node)
        name, at = node.name, 0
        node = only_reader(index, node.name)
    if node is None or node.op != "Sigmoid":
        return None
    return _Gate(node, chain, bias, peephole)


def _projection(index: NodeIndex, m: Any, units: int) -> tuple[Any, np.ndarray, str] | None:
    """``MatMul(m, P)`` when that is all that reads ``m``: an LSTMCell's projection."""
    node = only_reader(index, m.name)
    if node is None or node.op != "MatMul" or node.attr["transpose_a"].b or \
            parse_input(node.input[0])[:2] != (m.name, 0):
        return None
    value = constant_value(node.input[1], index.nodes)
    if value is None or value.ndim != 2:
        return None
    value = value.T if node.attr["transpose_b"].b else value
    if value.shape[0] != units:
        return None
    return node, value.astype(np.float32), behind_identities(node.input[1], index.nodes).name


def lstm_cell(index: NodeIndex, split: Any, project: bool = True) -> Cell | None:
    """The LSTM step whose gates ``split`` cuts, or None when it is not one the fused op
    computes. ``project``: take a constant MatMul that alone reads h' as the cell's projection
    (off where that MatMul turned out to be a layer after the last step)."""
    nodes = index.nodes
    found = _gate_split(index, split)
    if found is None:
        return None
    gates, matmul, concat, operands = found.gates, found.matmul, found.concat, found.operands
    kernel, bias = found.kernel, found.bias
    units = kernel.shape[1] // 4
    if only_reader(index, concat.name) is not matmul or \
            only_reader(index, matmul.name) is not gates or \
            only_reader(index, gates.name) is not split:
        return None
    tanh_j = only_reader(index, split.name, 1)
    gate_i, gate_f, gate_o = (_gate(index, split, k) for k in (0, 2, 3))
    if tanh_j is None or tanh_j.op != "Tanh" or gate_i is None or gate_f is None or \
            gate_o is None or gate_i.bias or gate_o.bias:
        return None
    sig_i, sig_f, sig_o = gate_i.sigmoid, gate_f.sigmoid, gate_o.sigmoid
    m_ij, m_fc = only_reader(index, sig_i.name), only_reader(index, sig_f.name)
    if m_ij is None or m_fc is None or m_ij.op != "Mul" or m_fc.op != "Mul" or \
            only_reader(index, tanh_j.name) is not m_ij or \
            other_input(m_ij, sig_i.name) != tanh_j.name:
        return None
    c_prev = other_input(m_fc, sig_f.name)
    new_c = only_reader(index, m_ij.name)
    if c_prev is None or new_c is None or new_c.op not in _ADD or \
            only_reader(index, m_fc.name) is not new_c or \
            other_input(new_c, m_ij.name) != m_fc.name:
        return None
    valid, peepholes = _peepholes(gate_i, gate_f, gate_o, c_prev, new_c.name, units)
    if not valid:
        return None
    tanh_c = [r.node for r in index.readers(new_c.name) if r.node.op == "Tanh"]
    new_h = only_reader(index, tanh_c[0].name) if len(tanh_c) == 1 else None
    if new_h is None or new_h.op != "Mul" or other_input(new_h, tanh_c[0].name) != sig_o.name or \
            only_reader(index, sig_o.name) is not new_h:
        return None
    own = {n.name for n in (concat, matmul, gates, split, sig_i, tanh_j, sig_f, sig_o, m_ij,
                            m_fc, tanh_c[0], *gate_i.nodes, *gate_f.nodes, *gate_o.nodes)}
    projected = _projection(index, new_h, units) if project else None
    projection = projection_node = None
    if projected is not None:
        own.add(new_h.name)
        new_h, projection, projection_node = projected
    weights = (behind_identities(matmul.input[1], nodes).name,
               behind_identities(found.bias_input, nodes).name)
    return Cell(split, operands[:2], kernel, bias, weights, gate_f.bias, c_prev, new_c,
                new_h, own, peepholes, projection, projection_node)


def _peepholes(gate_i: _Gate, gate_f: _Gate, gate_o: _Gate, c_prev: str, new_c: str,
               units: int) -> tuple[bool, np.ndarray | None]:
    """Whether the gates' peepholes are an LSTMCell's (all three or none; i and f on the
    previous cell state, o on the new one), and their [3, units] weights if any."""
    given = [gate.peephole for gate in (gate_i, gate_f, gate_o)]
    found = [p for p in given if p is not None]
    if not found:
        return True, None
    if len(found) != 3 or any(w.shape != (units,) for w, _ in found):
        return False, None
    (w_i, on_i), (w_f, on_f), (w_o, on_o) = found
    if not (canonical_tensor(on_i) == canonical_tensor(on_f) == canonical_tensor(c_prev) and
            canonical_tensor(on_o) == canonical_tensor(new_c)):
        return False, None
    return True, np.stack([w_i, w_f, w_o]).astype(np.float32)


def is_zero(tensor: str, nodes: dict[str, Any]) -> bool:
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


def keras_weights(cell: Cell, h_position: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kernel, recurrent kernel, bias) in Keras' gate order i, f, c, o from TF1's i, j, f,
    o, with the forget bias folded into the bias and a projection P into the recurrent kernel
    (``h @ W_h = m @ (P @ W_h)``: the fused op carries m, and P is applied to its outputs)."""
    units = cell.kernel.shape[1] // 4
    rows = units if cell.projection is None else cell.projection.shape[1]
    if h_position == 0:
        recurrent, kernel = cell.kernel[:rows], cell.kernel[rows:]
    else:
        kernel, recurrent = cell.kernel[:-rows], cell.kernel[-rows:]
    if cell.projection is not None:
        recurrent = cell.projection.astype(np.float64) @ recurrent.astype(np.float64)
    order = np.concatenate([np.arange(0, units), np.arange(2 * units, 3 * units),
                            np.arange(units, 2 * units), np.arange(3 * units, 4 * units)])
    bias = cell.bias[order].astype(np.float32)
    bias[units:2 * units] += np.float32(cell.forget_bias)
    return (np.ascontiguousarray(kernel[:, order], np.float32),
            np.ascontiguousarray(recurrent[:, order], np.float32), bias)


def _static_batch(graph: Any, sequence: str) -> int | None:
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


def fixed_batch(graph: Any, sequence: str, pin: bool, context: PassContext) -> int | None:
    """The static batch of ``sequence`` (the fused op needs one); an open one is pinned to 1 on
    the graph inputs it comes from when ``pin`` (a note says so), and left open (None) when
    that does not fix it."""
    batch = _static_batch(graph, sequence)
    if batch is not None or not pin:
        return batch
    index = NodeIndex.of(graph)
    pinned = _pin_batch(graph, sequence, index)
    batch = _static_batch(graph, sequence)
    if batch is None:
        for name in pinned:
            index.nodes[name].attr["shape"].shape.dim[0].size = -1
    elif pinned:
        context.note(f"{', '.join(pinned)}: batch 1 (the fused LSTM needs a fixed batch; "
                     "--input-shapes fixes another)")
    return batch


def fused_lstm(graph: Any, sequence: str, steps: int, kernel: np.ndarray, recurrent: np.ndarray,
               bias: np.ndarray, batch: int, scope: str, cell: Cell | None = None) -> str:
    """Add the call of the sequence LSTM function on ``sequence``; its [batch, time, units]
    output's name (projected by ``cell``'s projection, computed with its peepholes)."""
    from graphport.backend.runtime import tensorflow
    from graphport.passes.splice import add_subgraph

    tf = tensorflow()
    units = recurrent.shape[0]
    peepholes = cell.peepholes if cell is not None else None
    projection = cell.projection if cell is not None else None
    extra = b"" if peepholes is None else peepholes.tobytes()
    digest = hashlib.sha1(kernel.tobytes() + recurrent.tobytes() + extra).hexdigest()[:16]
    function = tf.function(_sequence_lstm if peepholes is None else _with_peepholes(peepholes),
                           autograph=False, experimental_attributes={
                               "api_implements": f"lstm_{digest}",
                               "api_preferred_device": "CPU", "time_major": False,
                               "go_backwards": False})

    def build(inputs: Any) -> list[Any]:
        zeros = tf.zeros([batch, units])  # the start state; the converter needs it static
        results = function(inputs, zeros, zeros, tf.constant(kernel), tf.constant(recurrent),
                           tf.constant(bias))
        if projection is None:
            return [results[1]]
        flat = tf.matmul(tf.reshape(results[1], [-1, units]), tf.constant(projection))
        return [tf.reshape(flat, [batch, steps, projection.shape[1]])]

    scope = unique_name(graph, scope)
    add_subgraph(graph, [sequence], [(_FLOAT, [batch, steps, kernel.shape[0]])], build, scope)
    if peepholes is not None:
        _mark_peepholes(graph, f"lstm_{digest}", peepholes, bias, kernel_sample(kernel))
    return f"{scope}/out_0"


def kernel_sample(kernel: np.ndarray) -> np.ndarray:
    """About KERNEL_SAMPLE values spread over a [inputs, 4 * units] kernel."""
    flat = kernel.ravel()
    return flat[::max(1, flat.size // KERNEL_SAMPLE)]


def _mark_peepholes(graph: Any, implements: str, peepholes: np.ndarray, bias: np.ndarray,
                    sample: np.ndarray) -> None:
    """Put the peephole weights, the bias and a kernel sample on the fused function, for the
    converter stage."""
    for function in graph.library.function:
        if "api_implements" in function.attr and \
                function.attr["api_implements"].s.decode() == implements:
            attr = function.attr[PEEPHOLES_ATTR].list
            for value in (peepholes, bias, sample):
                fill_tensor(attr.tensor.add(), value.astype(np.float32))


def _with_peepholes(peepholes: np.ndarray) -> Any:
    """``_sequence_lstm`` with these peephole weights (held by the closure: tf.function would
    make an array argument a tensor of its signature)."""

    def sequence_lstm(inputs: Any, init_h: Any, init_c: Any, kernel: Any, recurrent_kernel: Any,
                      bias: Any) -> tuple[Any, ...]:
        return _sequence_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias, peepholes)

    return sequence_lstm


def _sequence_lstm(inputs: Any, init_h: Any, init_c: Any, kernel: Any, recurrent_kernel: Any,
                   bias: Any, peepholes: np.ndarray | None = None) -> tuple[Any, ...]:
    """Keras' standard_lstm contract (what TensorFlow's converter fuses): batch-major inputs;
    returns (last output, outputs, h, c, runtime). With ``peepholes`` (w_i, w_f, w_o) the gates
    see the cell state as an LSTMCell's do; the converter replaces this body by its fused op,
    which the converter stage gives the same peepholes."""
    from graphport.backend.runtime import tensorflow

    tf = tensorflow()
    steps = inputs.shape[1]
    sequence = tf.transpose(inputs, [1, 0, 2])
    seen = [tf.constant(w) for w in peepholes] if peepholes is not None else None

    def step(t: Any, h: Any, c: Any, outputs: Any) -> tuple[Any, ...]:
        z = tf.matmul(sequence[t], kernel) + tf.matmul(h, recurrent_kernel) + bias
        i, f, g, o = tf.split(z, 4, axis=1)
        if seen is not None:
            i, f = i + seen[0] * c, f + seen[1] * c
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        if seen is not None:
            o = o + seen[2] * c
        h = tf.sigmoid(o) * tf.tanh(c)
        return t + 1, h, c, outputs.write(t, h)

    written = tf.TensorArray(tf.float32, size=steps, element_shape=init_h.shape)
    _, h, c, written = tf.while_loop(lambda t, *_: t < steps, step,
                                     (tf.constant(0), init_h, init_c, written))
    outputs = tf.transpose(written.stack(), [1, 0, 2])
    return h, outputs, h, c, tf.constant(0.0)


def slice_in_place(graph: Any, node: Any, sequence: str, step: int) -> None:
    """Turn ``node`` (a step's h', a loop's final h) into ``sequence[:, step, :]``, so its
    readers are untouched."""
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

