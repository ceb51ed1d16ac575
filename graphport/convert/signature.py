"""Give a converted model the `serving_default` signature its SavedModel would have had.

TensorFlow's GraphDef converter writes no SignatureDef; LiteRT's signature runner (and our
parity check) call models by signature keys, so we add one naming the converter's inputs and
outputs, which keep the order they were given in.

Rebuilding the whole flatbuffer for it copied a 178 MB model four times (0.7 s of a
ResNet-v2-101 run). A flatbuffer's offsets point forward, so a new root table placed before
the old bytes can point into them: the signature costs a few hundred bytes and one copy."""

from __future__ import annotations

import struct

import flatbuffers
from ai_edge_litert import schema_py_generated as schema

from graphport.graph.tflite_model import pack_model
from graphport.spec.signature import SignatureTensor

# The Model table's fields, in schema order: version (a scalar) and seven offsets, the last
# signature_defs. A model whose schema has more fields is rebuilt instead.
_FIELDS = 8
_SIGNATURES = 7
# The old bytes start at a multiple of this, so every alignment inside them holds (the
# converter aligns buffers to 16).
_ALIGN = 64


def add_signature(model: bytes, inputs: list[SignatureTensor], outputs: list[SignatureTensor],
                  key: str = "serving_default") -> bytes:
    """The same model with one SignatureDef mapping our keys to subgraph 0's I/O tensors
    (any signature it had is replaced)."""
    root = schema.Model.GetRootAs(model, 0)
    main = root.Subgraphs(0)
    if main.InputsLength() != len(inputs) or main.OutputsLength() != len(outputs):
        raise ValueError(f"model has {main.InputsLength()} inputs and {main.OutputsLength()} "
                         f"outputs; the signature names {len(inputs)} and {len(outputs)}")
    signature = schema.SignatureDefT(
        inputs=[schema.TensorMapT(name=t.key, tensorIndex=int(main.Inputs(i)))
                for i, t in enumerate(inputs)],
        outputs=[schema.TensorMapT(name=t.key, tensorIndex=int(main.Outputs(i)))
                 for i, t in enumerate(outputs)],
        signatureKey=key, subgraphIndex=0)
    fields = _fields(model)
    if fields is None or any(root.Buffers(i).Offset() > 1 for i in range(root.BuffersLength())):
        # Buffers stored past the flatbuffer (models over 2 GB) are addressed from the
        # file's start, which a prefix would move: rebuild.
        tree = schema.ModelT.InitFromPackedBuf(model, 0)
        tree.signatureDefs = [signature]
        return pack_model(tree, len(model) + 4096)
    return _with_root_before(model, fields, signature)


def _fields(model: bytes) -> list[int | None] | None:
    """Where each field of the root Model table points in ``model`` (the version: its
    value), None for an absent field; None when the table has fields we do not know."""
    (table,) = struct.unpack_from("<I", model, 0)
    (back,) = struct.unpack_from("<i", model, table)
    vtable = table - back
    size, _ = struct.unpack_from("<HH", model, vtable)
    count = (size - 4) // 2
    if count > _FIELDS:
        return None
    found: list[int | None] = []
    for i in range(_FIELDS):
        (where,) = struct.unpack_from("<H", model, vtable + 4 + 2 * i) if i < count else (0,)
        if not where:
            found.append(None)
            continue
        (value,) = struct.unpack_from("<I", model, table + where)
        found.append(value if i == 0 else table + where + value)
    return found


def _with_root_before(model: bytes, fields: list[int | None],
                      signature: schema.SignatureDefT) -> bytes:
    """``model`` behind a new header, vtable and root table whose fields (``fields``, as
    ``_fields`` found them) point into it, and a signature_defs vector holding
    ``signature``."""
    builder = flatbuffers.Builder(1024)
    packed = signature.Pack(builder)
    builder.StartVector(4, 1, 4)
    builder.PrependUOffsetTRelative(packed)
    builder.Finish(builder.EndVector())
    block = bytes(builder.Output())  # [offset of the vector][the vector and its tables]
    # header (8) | vtable (4 + 2 per field) | table (4 + 4 per field) | block | pad | model
    vtable_at = 8
    table_at = vtable_at + 4 + 2 * _FIELDS
    block_at = table_at + 4 + 4 * _FIELDS
    assert block_at % 16 == 0  # the block keeps its own alignment
    model_at = -(-(block_at + len(block)) // _ALIGN) * _ALIGN
    (vector,) = struct.unpack_from("<I", block, 0)
    targets = [None if f is None or i == 0 else model_at + f for i, f in enumerate(fields)]
    targets[_SIGNATURES] = block_at + vector
    head = bytearray(model_at)
    struct.pack_into("<I4s", head, 0, table_at, b"TFL3")
    present = [(i == 0 and fields[0] is not None) or targets[i] is not None
               for i in range(_FIELDS)]
    struct.pack_into(f"<HH{_FIELDS}H", head, vtable_at, 4 + 2 * _FIELDS, 4 + 4 * _FIELDS,
                     *(4 + 4 * i if present[i] else 0 for i in range(_FIELDS)))
    struct.pack_into("<i", head, table_at, table_at - vtable_at)
    for i in range(_FIELDS):
        at = table_at + 4 + 4 * i
        if i == 0:
            struct.pack_into("<I", head, at, fields[0] or 0)
        elif targets[i] is not None:
            struct.pack_into("<I", head, at, targets[i] - at)  # type: ignore[operator]
    head[block_at:block_at + len(block)] = block
    return bytes(head) + model
