"""What a converted model stores more than once, stored once: the flatbuffer is rewritten, the
numbers are not touched.

Measured on a 2-layer LSTM unrolled 200 steps (weights shared by every step), int8 came out at
1.9 MB against 0.9 MB for float32, for reasons the converter leaves in:

- names: TensorFlow's int8 quantizer names every output of a multi-output op (UNPACK, SPLIT)
  with the names of all of them joined by ";" (then a counter): an input unstacked into N time
  steps carries N^2 name bytes, and each QUANTIZE of such an output copies one. Each output gets
  back its own name, the part at its position, as the float model has it;
- quantization parameters: every tensor carries its own scale/zero-point table, identical for
  thousands of tensors of one range; identical tables are written once and shared (flatbuffers
  let several tensors reference one table);
- empty buffers: every tensor without data has its own empty buffer entry; they all point at
  the empty buffer 0, as the schema intends.

A repack costs about a second on such a model, so it runs only when it saves at least 1% of the
file (never on a model whose size is its weights).
"""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from graphport.graph.tflite_model import pack_model

WORTH = 0.01  # the least share of the file a repack must save


def _joined_base(names: list[bytes]) -> bytes | None:
    """The joined name the quantizer gave a multi-output op's outputs (``a;b;c``, then
    ``a;b;c1``, ``a;b;c2`` to keep them unique), or None for names of their own."""
    first = names[0]
    if len(names) < 2 or first.count(b";") != len(names) - 1:
        return None
    if all(name == first + str(k).encode() for k, name in enumerate(names) if k):
        return first
    return None


class _SharedTable(schema.QuantizationParametersT):
    """A quantization table packed once per builder, then referenced by every tensor using it."""

    def Pack(self, builder: flatbuffers.Builder) -> int:
        if getattr(self, "_builder", None) is not builder:
            self._offset = super().Pack(builder)
            self._builder = builder
        return int(self._offset)


def _quant_key(quant: Any) -> tuple[Any, ...] | None:
    if quant is None or quant.details is not None:
        return None
    values = [None if v is None else tuple(np.asarray(v).ravel().tolist())
              for v in (quant.scale, quant.zeroPoint, quant.min, quant.max)]
    return (*values, quant.quantizedDimension)


def _estimate(data: bytes) -> int:
    """Bytes a repack would save, roughly, read without unpacking the model."""
    model = schema.Model.GetRootAs(data, 0)
    saved = 12 * sum(1 for b in range(1, model.BuffersLength())
                     if model.Buffers(b).DataLength() == 0)
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            names = [graph.Tensors(op.Outputs(k)).Name() or b""
                     for k in range(op.OutputsLength()) if op.Outputs(k) >= 0]
            base = _joined_base(names) if len(names) > 1 else None
            if base is not None:
                saved += 2 * len(base) * len(names)  # the outputs and their QUANTIZE copies
        tables = 0
        for t in range(graph.TensorsLength()):
            quant = graph.Tensors(t).Quantization()
            tables += quant is not None and quant.ScaleLength() > 0
        saved += 14 * tables  # a table is ~28 bytes; about half repeat another's values
    return saved


def _names(graph: Any) -> None:
    """Joined output names get back their own part; QUANTIZE copies take their input's."""
    bases: list[bytes] = []
    renamed: set[int] = set()
    for op in graph.operators or []:
        outputs = [t for t in (op.outputs if op.outputs is not None else []) if t >= 0]
        base = _joined_base([graph.tensors[t].name or b"" for t in outputs]) \
            if len(outputs) > 1 else None
        if base is None:
            continue
        bases.append(base)
        for tensor, part in zip(outputs, base.split(b";"), strict=True):
            graph.tensors[tensor].name = part
            renamed.add(tensor)
    if not bases:
        return
    for op in graph.operators or []:
        ins = [t for t in (op.inputs if op.inputs is not None else []) if t >= 0]
        outs = [t for t in (op.outputs if op.outputs is not None else []) if t >= 0]
        if len(ins) == 1 and len(outs) == 1 and ins[0] in renamed and any(
                (graph.tensors[outs[0]].name or b"").startswith(b) for b in bases):
            graph.tensors[outs[0]].name = graph.tensors[ins[0]].name


def _share_tables(graph: Any, tables: dict[tuple[Any, ...], _SharedTable]) -> None:
    for tensor in graph.tensors or []:
        key = _quant_key(tensor.quantization)
        if key is None:
            continue
        if key not in tables:
            shared = _SharedTable()
            shared.__dict__.update(tensor.quantization.__dict__)
            tables[key] = shared
        tensor.quantization = tables[key]


def _empty_buffers(tree: Any) -> None:
    """Tensors without data point at buffer 0; buffers nobody uses any more are dropped."""
    buffers = tree.buffers or []

    def empty(index: int) -> bool:
        data = buffers[index].data
        return (data is None or len(data) == 0) and not buffers[index].size

    for graph in tree.subgraphs or []:
        for tensor in graph.tensors or []:
            if not tensor.isVariable and 0 < tensor.buffer < len(buffers) and empty(
                    tensor.buffer):
                tensor.buffer = 0
    used = {0} | {t.buffer for g in tree.subgraphs or [] for t in g.tensors or []}
    used |= {m.buffer for m in tree.metadata or []}
    keep = [i for i in range(len(buffers)) if i in used]
    new_index = {old: new for new, old in enumerate(keep)}
    tree.buffers = [buffers[i] for i in keep]
    for graph in tree.subgraphs or []:
        for tensor in graph.tensors or []:
            tensor.buffer = new_index[tensor.buffer]
    for item in tree.metadata or []:
        item.buffer = new_index[item.buffer]


def compact_model(data: bytes) -> tuple[bytes, int]:
    """``data`` with joined names split, identical quantization tables shared and empty
    buffers merged; the bytes saved (0, and ``data`` itself, when not worth a repack)."""
    if _estimate(data) < WORTH * len(data):
        return data, 0
    tree = schema.ModelT.InitFromPackedBuf(data, 0)
    tables: dict[tuple[Any, ...], _SharedTable] = {}
    for graph in tree.subgraphs or []:
        _names(graph)
        _share_tables(graph, tables)
    _empty_buffers(tree)
    compacted = pack_model(tree, len(data))
    return (compacted, len(data) - len(compacted)) if len(compacted) < len(data) else (data, 0)
