"""Any RNN unrolled over time steps -> one while loop over one copy of its step (a WHILE in
TFLite), for the cells no fused op computes: GRU, LSTMs with clipping or a state
input, stacks of them, whatever a hand-written loop in Python applied per step.

An unrolled RNN is the same subgraph once per step, so its model grows with the number of steps
and its int8 model carries every step's quantization parameters (issue 27). Found by structure
alone, no cell pattern and no names: MatMuls that multiply by the same constant seed a map from
each step's nodes to the next step's ones, grown along inputs and readers where op, attributes,
operand positions and constant operands agree. Every node on a chain of that map is one node of
the step (when step 0 lacks ops a constant folded, the loop starts at step 1); each of
its inputs is then the same tensor at every step (a weight: built into the loop body), the same
step's tensor, the previous step's (a loop variable, started from what step 0 reads) or one
tensor per step (stacked, read at the loop counter). Whatever outside reads a step's tensor
reads it from the loop's results: the last value of a loop variable, or the stacked values at
that step. A structure that does not fit is left unrolled with the reason.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from graphport.graph.index import NodeIndex
from graphport.graph.nodes import parse_input
from graphport.graph.tensors import behind_identities
from graphport.graph.types import GraphProto
from graphport.passes.base import TFLITE, GraphPass, PassContext
from graphport.passes.graph_util import topological, unique_name

# Ops that are not one step's computation: graph inputs, values and TF1 control flow.
_NOT_A_STEP = frozenset({"Const", "Placeholder", "PlaceholderWithDefault", "Enter", "Exit",
                         "Merge", "Switch", "NextIteration", "LoopCond", "VariableV2",
                         "VarHandleOp", "ReadVariableOp"})
_IGNORED_ATTRS = frozenset({"_output_shapes", "_class", "_XlaCompile", "_XlaScope"})
_MIN_STEPS = 3  # fewer is no loop worth a WHILE


@dataclass
class _Slot:
    """Input ``position`` of one step node, over the steps: ``kind`` says how it is fed."""

    kind: str  # "step" (same step), "carry" (previous step), "invariant", "sequence"
    tensors: list[str]  # what each step reads there


@dataclass
class _Unrolled:
    """One unrolled structure: ``chains[c][t]`` is node c of the step at step t."""

    chains: list[list[str]]
    steps: int
    reason: str | None = None
    from_step_1: bool = False  # step 0 is left as it is (see _unrolled)
    slots: dict[tuple[int, int], _Slot] = field(default_factory=dict)


class RerollLoop(GraphPass):
    summary = ("an RNN unrolled over time steps that no fused op computes (GRU, clipping, a "
               "state input) -> one while loop over one step (WHILE in TFLite)")
    targets = frozenset({TFLITE})

    def matches(self, index: NodeIndex) -> list[Any]:
        groups = _shared_products(index)
        if not groups:
            return []
        position = {node.name: k for k, node in enumerate(topological(index))}
        found: list[_Unrolled] = []
        failed: list[tuple[_Unrolled, set[str]]] = []
        covered: set[str] = set()
        # the group multiplied last first: the map grows back through every earlier layer
        ordered_groups = [sorted(group, key=position.__getitem__) for group in groups]
        for ordered in sorted(ordered_groups, key=lambda g: position[g[-1]], reverse=True):
            if covered.intersection(ordered) or len(ordered) < _MIN_STEPS:
                continue
            unrolled = _unrolled(index, ordered[-2], ordered[-1], strict=False)
            if unrolled.reason:  # a map grown into a structure running the other way?
                strict = _unrolled(index, ordered[-2], ordered[-1], strict=True)
                unrolled = unrolled if strict.reason else strict
            nodes = {name for chain in unrolled.chains for name in chain}
            if unrolled.steps < _MIN_STEPS or covered & nodes:
                continue  # no recurrence along these products, or one found already
            if unrolled.reason:  # reported unless another group's map re-rolls these steps
                failed.append((unrolled, nodes))
                continue
            covered |= nodes
            found.append(unrolled)
        for unrolled, nodes in failed:
            if not covered & nodes:
                covered |= nodes
                found.append(unrolled)
        return found

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        unrolled: _Unrolled = match
        first = unrolled.chains[0][0]
        where = f"{len(unrolled.chains)} ops x {unrolled.steps} steps from {first}"
        if unrolled.reason:
            context.note(f"{where}: not re-rolled: {unrolled.reason}; left unrolled")
            return False
        reason = _reroll(graph, unrolled, context.outputs)
        if reason:
            context.note(f"{where}: not re-rolled: {reason}; left unrolled")
            return False
        context.note(f"{where}: one while loop over one step" + (
            ", after step 0 (which differs: e.g. its product of the zero start state folded "
            "to a constant)" if unrolled.from_step_1 else ""))
        return True


def _shared_products(index: NodeIndex) -> list[list[str]]:
    """MatMuls grouped by the constant they multiply by (equal values count as one: a pass
    before may have written one copy per step), groups of more than one."""
    groups: dict[bytes, list[str]] = {}
    for node in index.graph.node:
        if node.op not in ("MatMul", "BatchMatMul", "BatchMatMulV2"):
            continue
        for item in node.input[:2]:
            weight = behind_identities(item, index.nodes)
            if weight is not None and weight.op == "Const":
                key = hashlib.sha1(weight.attr["value"].SerializeToString()).digest()
                groups.setdefault(key, []).append(node.name)
    return [names for names in groups.values() if len(names) > 1]


def _same_kind(index: NodeIndex, a: Any, b: Any) -> bool:
    """Same op, attributes and constant operands: a step's node and the next step's one."""
    if a.op != b.op or a.op in _NOT_A_STEP or len(a.input) != len(b.input):
        return False
    keys = (set(a.attr) | set(b.attr)) - _IGNORED_ATTRS
    if not all(k in a.attr and k in b.attr and a.attr[k] == b.attr[k] for k in keys):
        return False
    for x, y in zip(a.input, b.input, strict=True):
        left, right = behind_identities(x, index.nodes), behind_identities(y, index.nodes)
        constants = [n is not None and n.op == "Const" for n in (left, right)]
        if any(constants) and (not all(constants) or (
                left is not right and left.attr["value"] != right.attr["value"])):
            return False
    return True


def _unrolled(index: NodeIndex, seed: str, following: str, strict: bool) -> _Unrolled:
    """Grow the step-to-next-step map from ``seed`` -> ``following``, cut it into chains and
    classify the steps' inputs; its steps are the length of the chain through ``following``,
    and chains of other lengths are the reason it is not one loop. ``strict``: a reader joins
    the map only when its other inputs are known (see ``resolved``)."""
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    queue: deque[tuple[str, str]] = deque()

    def pair(p: str, q: str) -> None:
        if p == q or p in forward or q in backward or (p in backward and backward[p] == q):
            return
        a, b = index.nodes.get(p), index.nodes.get(q)
        if a is None or b is None or not _same_kind(index, a, b):
            return
        forward[p], backward[q] = q, p
        queue.append((p, q))

    def resolved(x: str, y: str) -> bool:
        """Is input ``y`` of a node the next step's ``x``: the same tensor, a constant (its
        value checked by _same_kind) or mapped already? A strict map takes a reader only then,
        so it never pairs by a tensor another map runs the other way (a backward RNN's
        outputs, concatenated with the forward ones)."""
        (xn, xi, _), (yn, yi, _) = parse_input(x), parse_input(y)
        if xi != yi:
            return False
        if xn == yn or forward.get(xn) == yn:
            return True
        left, right = behind_identities(x, index.nodes), behind_identities(y, index.nodes)
        return left is not None and right is not None and left.op == right.op == "Const"

    pair(seed, following)
    if following not in backward:  # the two products are not alike: no steps
        return _Unrolled([], 0, "its products differ")
    while queue:
        p, q = queue.popleft()
        a, b = index.nodes[p], index.nodes[q]
        for x, y in zip(a.input, b.input, strict=True):
            (xn, xi, xc), (yn, yi, yc) = parse_input(x), parse_input(y)
            if not (xc or yc) and xi == yi:
                pair(xn, yn)
        for reader in index.readers(p):
            if reader.node.name in forward:
                continue
            candidates = [r.node.name for r in index.readers(q)
                          if (r.position, r.output) == (reader.position, reader.output)
                          and r.node.name not in backward and r.node.name != reader.node.name
                          and _same_kind(index, r.node, reader.node)
                          and (not strict or all(resolved(x, y) for x, y in zip(
                              reader.node.input, r.node.input, strict=True)))]
            if len(candidates) == 1:
                pair(reader.node.name, candidates[0])
    chains = []
    for start in forward.keys() - backward.keys():
        chain = [start]
        while chain[-1] in forward:
            chain.append(forward[chain[-1]])
        chains.append(chain)
    steps = next(len(chain) for chain in chains if following in chain)
    lengths = sorted({len(chain) for chain in chains})
    if len(lengths) == 2 and lengths[1] == lengths[0] + 1 and steps in lengths:
        # ops missing at one step, e.g. step 0's product of the zero start state folded to a
        # constant: the loop runs from step 1, started from step 0's results, which stay
        # (_classify finds out when the missing step is not the first)
        steps = lengths[0]
        chains = [chain[-steps:] for chain in chains]
    reason = None if {len(chain) for chain in chains} == {steps} else \
        f"its steps are not alike (ops repeat {', '.join(map(str, lengths))} times)"
    unrolled = _Unrolled(sorted(chains), steps, reason, from_step_1=steps < lengths[-1])
    if not reason:
        _classify(index, unrolled)
    return unrolled


def _classify(index: NodeIndex, unrolled: _Unrolled) -> None:
    """How each input of each step node is fed over the steps (``slots``), or the reason the
    structure is not one loop."""
    where = {name: (c, t) for c, chain in enumerate(unrolled.chains)
             for t, name in enumerate(chain)}
    steps = unrolled.steps
    for c, chain in enumerate(unrolled.chains):
        nodes = [index.nodes[name] for name in chain]
        if any(i.startswith("^") for node in nodes for i in node.input):
            unrolled.reason = f"{chain[0]} has control inputs"
            return
        for position in range(len(nodes[0].input)):
            tensors = [node.input[position] for node in nodes]
            kind = _slot_kind(index, tensors, where)
            if kind is None:
                unrolled.reason = (f"input {position} of {chain[0]} is not the same step's, the "
                                   f"previous step's or a per-step tensor over {steps} steps")
                return
            unrolled.slots[(c, position)] = _Slot(kind, tensors)
    if not any(slot.kind == "carry" for slot in unrolled.slots.values()):
        unrolled.reason = "no step reads the step before it (not a recurrence)"


def _slot_kind(index: NodeIndex, tensors: list[str], where: dict[str, tuple[int, int]]
               ) -> str | None:
    parsed = [parse_input(t)[:2] for t in tensors]
    located = [where.get(name) for name, _ in parsed]
    outputs = {output for _, output in parsed}
    chains = {loc[0] for loc in located if loc is not None}
    if all(loc is not None and loc[1] == t for t, loc in enumerate(located)):
        return "step" if len(chains) == 1 and len(outputs) == 1 else None
    if located[0] is None and all(loc is not None and loc[1] == t - 1
                                  for t, loc in enumerate(located) if t):
        return "carry" if len(chains) == 1 and len({o for _, o in parsed[1:]}) == 1 else None
    if any(loc is not None for loc in located):
        return None
    if len(set(tensors)) == 1 or _equal_constants(index, tensors):
        return "invariant"
    return "sequence"


def _equal_constants(index: NodeIndex, tensors: list[str]) -> bool:
    """Do the tensors all hold one constant value (a copy per step, or reads of one)?"""
    nodes = [behind_identities(tensor, index.nodes) for tensor in tensors]
    values = {node.attr["value"].SerializeToString() if node is not None and node.op == "Const"
              else None for node in nodes}
    return len(values) == 1 and None not in values


def _reroll(graph: GraphProto, unrolled: _Unrolled, outputs: list[str]) -> str | None:
    """Replace the unrolled steps by a while loop built with TensorFlow over one step's nodes,
    and point every outside reader at the loop's results; or the reason it cannot, before
    any change."""
    from graphport.backend.tf_graph import get_tensor, import_graph, to_tf
    from graphport.graph.schema import GraphDef
    from graphport.passes.splice import add_subgraph

    index = NodeIndex.of(graph)
    steps = unrolled.steps
    typical = 1  # step 0 reads the start values; step 1 is the pattern of all later ones
    where = {name: (c, t) for c, chain in enumerate(unrolled.chains)
             for t, name in enumerate(chain)}
    tf_graph = import_graph(to_tf(graph))

    def info(tensor: str) -> tuple[int, list[int] | None]:
        found = get_tensor(tf_graph, tensor)
        shape = found.shape.as_list() if found.shape.rank is not None else None
        return found.dtype.as_datatype_enum, shape

    body = GraphDef()
    # The loop's inputs, in order: (kind, what feeds it, the body placeholder it feeds)
    feeds: list[tuple[str, Any, str]] = []
    carried: list[str] = []  # per loop variable, the body tensor it becomes each step
    placeholder_of: dict[tuple[str, Any], str] = {}

    def placeholder(kind: str, key: Any, tensor: str) -> str:
        if (kind, key) not in placeholder_of:
            name = f"graphport_{kind}_{len(placeholder_of)}"
            body.node.add(name=name, op="Placeholder").attr["dtype"].type = info(tensor)[0]
            placeholder_of[(kind, key)] = name
            feeds.append((kind, key, name))
        return placeholder_of[(kind, key)]

    def constant(tensor: str) -> str | None:
        source = behind_identities(tensor, index.nodes)
        if source is None or source.op != "Const":
            return None
        if not any(node.name == source.name for node in body.node):
            body.node.add().CopyFrom(source)
            del body.node[-1].input[:]
        return source.name

    for c, chain in enumerate(unrolled.chains):
        node = body.node.add()
        node.CopyFrom(index.nodes[chain[typical]])
        for position in range(len(node.input)):
            slot = unrolled.slots[(c, position)]
            tensor = slot.tensors[typical]
            if slot.kind == "carry":
                name, output, _ = parse_input(tensor)
                step_tensor = f"{unrolled.chains[where[name][0]][typical]}:{output}"
                key = (slot.tensors[0], step_tensor)
                if ("carry", key) not in placeholder_of:
                    carried.append(step_tensor)
                node.input[position] = placeholder("carry", key, tensor)
            elif slot.kind == "invariant":
                node.input[position] = constant(tensor) or placeholder("invariant", tensor,
                                                                       tensor)
            elif slot.kind == "sequence":
                node.input[position] = placeholder("sequence", tuple(slot.tensors), tensor)

    in_loop = set(where)
    read: dict[tuple[int, int], set[int]] = {}  # (chain, output) -> the steps read outside
    for name, (c, t) in where.items():
        for reader in index.readers(name):
            if reader.node.name not in in_loop:
                read.setdefault((c, reader.output), set()).add(t)
        if name in outputs:
            read.setdefault((c, 0), set()).add(t)
    finals: dict[tuple[int, int], int] = {}  # read at the last step only: a variable's end
    stacked: list[tuple[int, int]] = []
    for (c, output), when in sorted(read.items()):
        step_tensor = f"{unrolled.chains[c][typical]}:{output}"
        if when == {steps - 1} and step_tensor in carried:
            finals[(c, output)] = carried.index(step_tensor)
        else:
            stacked.append((c, output))
    results = [f"{unrolled.chains[c][typical]}:{output}" for c, output in stacked]
    result_types = [info(r)[0] for r in results]
    result_shapes = [info(r)[1] for r in results]
    if any(shape is None or None in shape for shape in result_shapes):
        return ("its steps' outputs are read outside and their shape is open (the converter "
                "needs a static one to stack them); --input-shapes pins it")

    for kind, key, _ in feeds:
        if kind == "sequence" and len({repr(info(tensor)) for tensor in key}) > 1:
            return f"its steps read tensors of different shapes at one input ({key[0]} ..)"
    data, specs = [], []
    for kind, key, _ in feeds:
        if kind == "sequence":
            dtype, shape = info(key[0])
            data.append(_stacked(graph, key, index, dtype, shape, in_loop))
            specs.append((dtype, [steps, *shape] if shape is not None else None))
        else:
            tensor = key if kind == "invariant" else key[0]
            data.append(tensor)
            specs.append(info(tensor))
    step_bytes = body.SerializeToString()

    def build(*tensors: Any) -> list[Any]:
        from graphport.backend.runtime import tensorflow

        tf = tensorflow()
        step_def = tf.compat.v1.GraphDef.FromString(step_bytes)
        starts = [x for x, (kind, _, _) in zip(tensors, feeds, strict=True) if kind == "carry"]

        def step(t: Any, *state: Any) -> tuple[Any, ...]:
            values = iter(state[:len(carried)])
            feed = {}
            for x, (kind, _, name) in zip(tensors, feeds, strict=True):
                feed[f"{name}:0"] = next(values) if kind == "carry" else \
                    x[t] if kind == "sequence" else x
            out = tf.graph_util.import_graph_def(step_def, input_map=feed,
                                                 return_elements=carried + results, name="step")
            arrays = state[len(carried):]
            return (t + 1, *out[:len(carried)],
                    *(a.write(t, v) for a, v in zip(arrays, out[len(carried):], strict=True)))

        written = [tf.TensorArray(tf.as_dtype(d), size=steps, element_shape=shape)
                   for d, shape in zip(result_types, result_shapes, strict=True)]
        ends = tf.while_loop(lambda t, *_: t < steps, step, (tf.constant(0), *starts, *written),
                             maximum_iterations=steps)
        return [*ends[1:1 + len(carried)], *(a.stack() for a in ends[1 + len(carried):])]

    scope = unique_name(graph, f"{unrolled.chains[0][0]}/graphport_loop")
    add_subgraph(graph, data, specs, build, scope)
    for (c, output), k in finals.items():
        _redirect(index, in_loop, unrolled.chains[c][-1], output, f"{scope}/out_{k}", outputs)
    for s, (c, output) in enumerate(stacked):
        values = f"{scope}/out_{len(carried) + s}"
        for t, name in enumerate(unrolled.chains[c]):
            at = _at_step(graph, values, result_types[s], t, f"{name}/graphport_step")
            _redirect(index, in_loop, name, output, at, outputs)
    # TensorFlow's shape inference over the result: a step that does not fit the loop raises
    # here, and the pipeline rolls the pass back
    import_graph(to_tf(graph))
    return None


def _stacked(graph: GraphProto, tensors: tuple[str, ...], index: NodeIndex, dtype: int,
             piece: list[int] | None, in_loop: set[str]) -> str:
    """One [steps, ...] tensor of a per-step input: taken whole where the steps are the
    outputs, in order, of an Unpack along axis 0 or 1 or of a Split along axis 0 (``piece``:
    the static shape of one step), else a Pack of them."""
    import numpy as np

    from graphport.graph.edit import add_node
    from graphport.graph.tensors import constant_value
    from graphport.passes.graph_util import anchored_const
    from graphport.passes.lstm_cells import int_value

    steps = len(tensors)
    names = [parse_input(t) for t in tensors]
    source = index.nodes.get(names[0][0])
    base = f"{names[0][0]}/graphport_steps"
    if source is None or not all(n == source.name and k == t
                                 for t, (n, k, _) in enumerate(names)):
        return _packed(graph, tensors, dtype, base)
    if source.op == "Unpack" and source.attr["num"].i == steps:
        whole, axis = str(source.input[0]), source.attr["axis"].i
        if axis == 0:
            return whole
        if axis == 1 and piece is not None:  # batch-major: the first two axes swapped
            perm = anchored_const(graph, f"{base}/perm",
                                  np.array([1, 0, *range(2, len(piece) + 1)], np.int32), whole)
            return str(add_node(graph, unique_name(graph, base), "Transpose", [whole, perm],
                                types={"T": dtype, "Tperm": "int32"}).name)
    if source.op == "Split" and source.attr["num_split"].i == steps and \
            int_value(constant_value(source.input[0], index.nodes)) == 0 and \
            piece is not None and all(d is not None and d >= 0 for d in piece[1:]):
        shape = anchored_const(graph, f"{base}/shape",
                               np.array([steps, -1, *piece[1:]], np.int32), source.input[1])
        whole = str(add_node(graph, unique_name(graph, base), "Reshape",
                             [source.input[1], shape], types={"T": dtype, "Tshape": "int32"}
                             ).name)
        for reader in index.readers(source.name):  # the Split goes: its other readers too
            if reader.node.name not in in_loop:
                reader.node.input[reader.position] = _at_step(
                    graph, whole, dtype, reader.output, f"{source.name}/graphport_step")
        return whole
    return _packed(graph, tensors, dtype, base)


def _packed(graph: GraphProto, tensors: tuple[str, ...], dtype: int, base: str) -> str:
    from graphport.graph.edit import add_node

    return str(add_node(graph, unique_name(graph, base), "Pack", list(tensors),
                        types={"T": dtype}, ints={"N": len(tensors), "axis": 0}).name)


def _at_step(graph: GraphProto, values: str, dtype: int, step: int, base: str) -> str:
    """``values[step]`` as a new node."""
    import numpy as np

    from graphport.graph.edit import add_node
    from graphport.passes.graph_util import anchored_const

    at = anchored_const(graph, f"{base}/index", np.array(step, np.int32), values)
    axis = anchored_const(graph, f"{base}/axis", np.array(0, np.int32), values)
    node = add_node(graph, unique_name(graph, base), "GatherV2", [values, at, axis],
                    types={"Tparams": dtype, "Tindices": "int32", "Taxis": "int32"},
                    ints={"batch_dims": 0})
    return str(node.name)


def _redirect(index: NodeIndex, in_loop: set[str], name: str, output: int, tensor: str,
              outputs: list[str]) -> None:
    """Every reader outside the loop of ``name:output`` reads ``tensor`` instead; a graph
    output ``name`` becomes an Identity of it."""
    for reader in index.readers(name):
        if reader.output == output and reader.node.name not in in_loop:
            reader.node.input[reader.position] = tensor
    if name in outputs and output == 0:
        node = index.nodes[name]
        dtype = next((node.attr[k].type for k in ("T", "dtype") if k in node.attr), None)
        del node.input[:]
        node.ClearField("attr")
        node.op = "Identity"
        node.input.append(tensor)
        if dtype is not None:
            node.attr["T"].type = dtype
