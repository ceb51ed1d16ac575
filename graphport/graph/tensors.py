"""TensorProto and TensorShapeProto values as numpy and plain Python, without TensorFlow."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from graphport.graph.nodes import parse_input
from graphport.graph.schema import DATA_TYPES, DTYPE_NAMES

if TYPE_CHECKING:
    import numpy as np

# numpy's name for each dtype's values, by name so that reading a graph's metadata (inspect)
# never imports numpy (~0.05 s of a 0.4 s inspect).
_NUMPY: dict[str, str] = {
    "float": "float32", "double": "float64", "int32": "int32", "uint8": "uint8",
    "int16": "int16", "int8": "int8", "complex64": "complex64", "int64": "int64",
    "bool": "bool", "qint8": "int8", "quint8": "uint8", "qint32": "int32",
    "qint16": "int16", "quint16": "uint16", "uint16": "uint16", "complex128": "complex128",
    "half": "float16", "uint32": "uint32", "uint64": "uint64", "bfloat16": "uint16",
}
_ITEMSIZE = {"float32": 4, "float64": 8, "int32": 4, "uint8": 1, "int16": 2, "int8": 1,
             "complex64": 8, "int64": 8, "bool": 1, "uint16": 2, "complex128": 16,
             "float16": 2, "uint32": 4, "uint64": 8}
# Which repeated field holds the values of a dtype when tensor_content is empty.
_VALUE_FIELD = {
    "float": "float_val", "double": "double_val", "int32": "int_val", "uint8": "int_val",
    "int16": "int_val", "int8": "int_val", "qint8": "int_val", "quint8": "int_val",
    "qint32": "int_val", "qint16": "int_val", "quint16": "int_val", "uint16": "int_val",
    "int64": "int64_val", "bool": "bool_val", "half": "half_val", "bfloat16": "half_val",
    "uint32": "uint32_val", "uint64": "uint64_val", "complex64": "scomplex_val",
    "complex128": "dcomplex_val", "string": "string_val",
}


def dtype_name(enum_value: int) -> str:
    """TensorFlow's short name for a DataType value (``float``, ``int32``, ``float_ref``...)."""
    return DTYPE_NAMES.get(enum_value, f"dtype_{enum_value}")


def dtype_enum(name: str) -> int:
    """The DataType value of a short dtype name (``float`` -> DT_FLOAT), from the schema's
    table, so no module writes magic numbers."""
    return DATA_TYPES[f"DT_{name.upper()}"]


def shape_list(shape: Any) -> list[int] | None:
    """A TensorShapeProto as a list with -1 for unknown dimensions, or None for unknown rank."""
    if shape.unknown_rank:
        return None
    return [int(d.size) for d in shape.dim]


def num_elements(shape: list[int] | None) -> int | None:
    """Element count of a fully known shape, else None."""
    if shape is None or any(d < 0 for d in shape):
        return None
    return math.prod(shape)


def itemsize(dtype: str) -> int:
    """Bytes per element (strings count as 0 here; their bytes are counted from the data)."""
    np_type = _NUMPY.get(dtype.removesuffix("_ref"))
    return _ITEMSIZE[np_type] if np_type is not None else 0


def tensor_nbytes(tensor: Any) -> int:
    """Bytes the tensor holds once materialised (a splatted scalar counts at full size)."""
    dtype = dtype_name(tensor.dtype)
    if dtype == "string":
        return sum(len(s) for s in tensor.string_val)
    count = num_elements(shape_list(tensor.tensor_shape)) or 0
    return count * itemsize(dtype)


def tensor_to_numpy(tensor: Any) -> np.ndarray:
    """Decode a TensorProto like tf.make_ndarray does: content bytes, or value fields where the
    last value fills the rest."""
    import numpy as np

    dtype = dtype_name(tensor.dtype)
    shape = shape_list(tensor.tensor_shape) or []
    count = math.prod(shape)
    if dtype == "string":
        strings = np.array(list(tensor.string_val), dtype=object)
        return strings.reshape(shape) if strings.size == count else strings
    np_type = _NUMPY.get(dtype)
    if np_type is None:
        raise ValueError(f"cannot decode a tensor of dtype {dtype}")
    if tensor.tensor_content:
        return np.frombuffer(tensor.tensor_content, dtype=np_type).reshape(shape).copy()
    values: list[Any] = list(getattr(tensor, _VALUE_FIELD[dtype]))
    if dtype in ("half", "bfloat16"):
        array = np.array(values, dtype=np.uint16).view(np_type)
    elif dtype.startswith("complex"):
        array = np.array(values, dtype=np.float64).view(np.complex128).astype(np_type)
    else:
        array = np.array(values, dtype=np_type)
    if array.size == count:
        return array.reshape(shape)
    filled = np.empty(count, dtype=np_type)
    filled[: array.size] = array
    filled[array.size:] = array[-1] if array.size else 0
    return filled.reshape(shape)


def behind_identities(name: str, nodes: dict[str, Any]) -> Any:
    """The node that computes tensor ``name``, looking through Identity and a TF1 while loop's
    Enter (the same value, loop-invariant); None if the graph lacks it."""
    node = nodes.get(parse_input(name)[0])
    while node is not None and node.op in ("Identity", "Enter") and node.input:
        node = nodes.get(parse_input(node.input[0])[0])
    return node


def constant_value(name: str, nodes: dict[str, Any]) -> np.ndarray | None:
    """The value of tensor ``name`` when a Const gives it (through Identity and Enter)."""
    node = behind_identities(name, nodes)
    return tensor_to_numpy(node.attr["value"].tensor) if node is not None and \
        node.op == "Const" else None
