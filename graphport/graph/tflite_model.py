"""Read a .tflite flatbuffer with the schema code that ships with ai-edge-litert (no TensorFlow).

Used by `inspect` and by the conversion report, so both describe a model the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flatbuffers
from ai_edge_litert import schema_py_generated as schema

from graphport.errors import UserError


def _enum_names(enum_class: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items()
            if not k.startswith("_") and isinstance(v, int)}


_OP_NAMES = _enum_names(schema.BuiltinOperator)
_TYPE_NAMES = {k: v.lower() for k, v in _enum_names(schema.TensorType).items()}
CONTROL_FLOW_OPS = frozenset({"WHILE", "IF", "CALL_ONCE"})


@dataclass
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: list[int]
    quantized: bool
    constant: bool = False


@dataclass
class OperatorInfo:
    subgraph: int
    index: int
    op: str
    kind: str  # "builtin" | "flex" | "custom"
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    calls: tuple[int, ...] = ()  # subgraphs a WHILE (cond, body) or IF (then, else) runs
    loops: bool = False  # WHILE: what it calls runs once per iteration


def _calls(op: Any) -> tuple[tuple[int, ...], bool]:
    options = op.builtinOptions
    if hasattr(options, "bodySubgraphIndex"):
        return (options.condSubgraphIndex, options.bodySubgraphIndex), True
    if hasattr(options, "thenSubgraphIndex"):
        return (options.thenSubgraphIndex, options.elseSubgraphIndex), False
    return (), False


@dataclass
class TFLiteModel:
    """Operators, tensors, I/O and signatures of a flatbuffer, in model order."""

    path: Path
    size_bytes: int
    operators: list[OperatorInfo]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    signatures: dict[str, dict[str, list[dict[str, Any]]]]
    subgraph_count: int
    params: dict[str, int] = field(default_factory=dict)

    @property
    def op_counts(self) -> dict[str, int]:
        return dict(Counter(op.op for op in self.operators).most_common())


def decode_name(value: bytes | str | None) -> str:
    """A flatbuffer string (the object API gives bytes) as text."""
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _tensor_info(subgraph: Any, index: int, buffers: list[Any] | None = None) -> TensorInfo:
    tensor = subgraph.tensors[index]
    quant = tensor.quantization
    quantized = bool(quant is not None and quant.scale is not None and len(quant.scale) > 0)
    shape = tensor.shapeSignature if tensor.shapeSignature is not None else tensor.shape
    buffer = buffers[tensor.buffer] if buffers and 0 < tensor.buffer < len(buffers) else None
    constant = buffer is not None and (buffer.data is not None or bool(buffer.size))
    return TensorInfo(int(index), decode_name(tensor.name),
                      _TYPE_NAMES.get(tensor.type, str(tensor.type)),
                      [int(d) for d in (shape if shape is not None else [])], quantized, constant)


def builtin_code(code: Any) -> int:
    """An operator code's builtin operator (``OperatorCodeT``): schema 3a models keep it in
    ``builtinCode``, older ones in ``deprecatedBuiltinCode`` only."""
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def uses_builtin(model: bytes, builtin: int) -> bool:
    """Does ``model`` have an operator code for ``builtin``? Read without unpacking, so a
    fix that applies to few models costs the others nothing."""
    root = schema.Model.GetRootAs(model, 0)
    return any(max(root.OperatorCodes(i).BuiltinCode(),
                   root.OperatorCodes(i).DeprecatedBuiltinCode()) == builtin
               for i in range(root.OperatorCodesLength()))


def builtin_name(builtin: int) -> str:
    """A builtin operator's name (``CONV_2D``) from its number."""
    return _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")


def op_name(code: Any) -> tuple[str, str]:
    """An operator code as (name, kind): BUILTIN name or custom code; builtin/flex/custom."""
    name = builtin_name(builtin_code(code))
    if name != "CUSTOM":
        return name, "builtin"
    custom = decode_name(code.customCode)
    return custom, "flex" if custom.startswith("Flex") else "custom"


def pack_model(tree: Any, size_hint: int = 1 << 16) -> bytes:
    """A model tree (``schema.ModelT``, edited) as .tflite bytes."""
    builder = flatbuffers.Builder(size_hint)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read_tflite(path: str | Path) -> TFLiteModel:
    """Parse a .tflite file; a file that is not a valid flatbuffer gets a UserError."""
    return parse_tflite(Path(path).read_bytes(), Path(path))


def parse_tflite(data: bytes, path: Path | str) -> TFLiteModel:
    """Parse flatbuffer bytes (``path`` only names them in messages and the result)."""
    if data[4:8] != b"TFL3":
        raise UserError(f"{path} is not a TFLite model (no TFL3 identifier)",
                        "pass a .tflite flatbuffer")
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as error:  # the generated code raises whatever a bad offset causes
        raise UserError(f"{path} is a corrupt TFLite model ({type(error).__name__})",
                        "re-convert the model") from None
    codes = [op_name(code) for code in model.operatorCodes or []]
    operators = []
    buffers = model.buffers or []
    for s, subgraph in enumerate(model.subgraphs or []):
        for i, op in enumerate(subgraph.operators or []):
            name, kind = codes[op.opcodeIndex]
            ins = op.inputs if op.inputs is not None else []
            outs = op.outputs if op.outputs is not None else []
            operators.append(OperatorInfo(
                s, i, name, kind,
                [_tensor_info(subgraph, t, buffers) for t in ins if t >= 0],
                [_tensor_info(subgraph, t, buffers) for t in outs if t >= 0],
                *_calls(op),
            ))
    main = model.subgraphs[0]
    signatures = {}
    for sig in model.signatureDefs or []:
        graph = model.subgraphs[sig.subgraphIndex]
        signatures[decode_name(sig.signatureKey)] = {
            side: [{"key": decode_name(t.name), **vars(_tensor_info(graph, t.tensorIndex))}
                   for t in (getattr(sig, side) or [])]
            for side in ("inputs", "outputs")
        }
    constant_bytes = sum(len(b.data) for b in model.buffers or [] if b.data is not None)
    constant_bytes += sum(b.size for b in model.buffers or [] if b.data is None and b.size)
    as_float, quant_params = _float_equivalent(model)
    return TFLiteModel(
        path=Path(path),
        size_bytes=len(data),
        operators=operators,
        inputs=[_tensor_info(main, t) for t in main.inputs],
        outputs=[_tensor_info(main, t) for t in main.outputs],
        signatures=signatures,
        subgraph_count=len(model.subgraphs),
        params={"bytes": int(constant_bytes), "quant_param_bytes": quant_params,
                "float_estimate_bytes": len(data) - int(constant_bytes) - quant_params
                + as_float},
    )


_NARROW = {"INT8", "UINT8", "INT16", "FLOAT16", "INT4"}  # stored narrower than float32


def _float_equivalent(model: Any) -> tuple[int, int]:
    """(bytes the constants would take as float32, bytes of quantization parameters): what a
    quantized model's float32 twin would weigh, without converting it. A buffer shared by
    several tensors counts once, as it is stored once."""
    buffers = model.buffers or []
    counted: dict[int, int] = {}
    params = 0
    for subgraph in model.subgraphs or []:
        for tensor in subgraph.tensors or []:
            quant = tensor.quantization
            if quant is not None and quant.scale is not None:
                params += 4 * len(quant.scale) + 8 * len(
                    quant.zeroPoint if quant.zeroPoint is not None else [])
            index = tensor.buffer
            if not 0 < index < len(buffers) or index in counted:
                continue
            data = buffers[index].data
            size = 0 if data is None else len(data)
            dtype = _TYPE_NAMES.get(tensor.type, "")
            if size and dtype.upper() in _NARROW:
                elements = 1
                for d in tensor.shape if tensor.shape is not None else []:
                    elements *= int(d)
                size = 4 * elements
            counted[index] = size
    return sum(counted.values()), params


def control_flow_ops(model: TFLiteModel) -> dict[str, int]:
    """Counts of TFLite control-flow operators (WHILE, IF, ...)."""
    return {op: n for op, n in model.op_counts.items() if op in CONTROL_FLOW_OPS}
