"""Parse the user's `--set NAME=VALUE` and `--input-shapes NAME:d0,d1` strings, checked against
what the graph says about each placeholder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from graphport.errors import UserError

_NUMPY = {"float": np.float32, "double": np.float64, "int32": np.int32, "int64": np.int64,
          "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "uint16": np.uint16,
          "bool": np.bool_, "half": np.float16}


def numpy_dtype(dtype: str) -> type:
    """The numpy type for a TensorFlow dtype name graphport can feed."""
    if dtype not in _NUMPY:
        raise UserError(f"inputs of dtype {dtype} cannot be given on the command line")
    return _NUMPY[dtype]


_NAMES = {np.dtype(t): name for name, t in _NUMPY.items()}


def dtype_name(dtype: np.dtype) -> str:
    """graphport's (TensorFlow's) name for a numpy dtype: float32 -> float, bytes -> string."""
    return "string" if dtype.kind in "OSU" else _NAMES.get(dtype, dtype.name)


def plain_value(value: np.ndarray) -> Any:
    """An array as JSON-able lists: float32 shown as typed (0.709, not 0.7089999914), bytes
    decoded."""
    if value.dtype.kind == "f":
        return np.array([float(str(x)) for x in value.ravel()]).reshape(value.shape).tolist()
    if value.dtype.kind in "OS":
        return np.array([b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)
                         for b in value.ravel()], dtype=object).reshape(value.shape).tolist()
    return value.tolist()


def shape_fits(actual: tuple[int, ...], expected: list[int] | None) -> bool:
    """Does a concrete shape satisfy a graph shape (-1 unknown, None unknown rank)?"""
    if expected is None:
        return True
    if len(actual) != len(expected):
        return False
    return all(e < 0 or a == e for a, e in zip(actual, expected, strict=True))


def _parse_scalar(text: str, dtype: str, where: str) -> object:
    lowered = text.lower()
    if dtype == "bool":
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise UserError(f"{where}: {text!r} is not a bool", "use true or false")
    try:
        number = float(text) if dtype in ("float", "double", "half") else int(text, 0)
    except ValueError:
        kind = "a number" if dtype in ("float", "double", "half") else "an integer"
        raise UserError(f"{where}: {text!r} is not {kind} (the input is {dtype})") from None
    return number


def load_npy(path: Path, where: str) -> np.ndarray:
    """One array from a .npy file, or a UserError naming the option and the file."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{where}: {path}: no such file") from None
    except Exception as error:  # ValueError, OSError, EOFError: not an .npy we can read
        raise UserError(f"{where}: {path} is not a readable .npy file "
                        f"({type(error).__name__})") from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        array.close()
        raise UserError(f"{where}: {path} must hold one array (.npy), not an archive")
    return array


def _fill_shape(array: np.ndarray, shape: list[int]) -> np.ndarray:
    """A flat list shaped as the input: ``1,2,3,4`` fits [2, 2] and, with one unknown
    dimension, [?, 4] as [1, 4]."""
    unknown = [i for i, d in enumerate(shape) if d < 0]
    known = int(np.prod([d for d in shape if d >= 0]))
    if not unknown and array.size == known:
        return array.reshape(shape)
    if len(unknown) == 1 and known and array.size % known == 0:
        return array.reshape([d if d >= 0 else -1 for d in shape])
    return array


def parse_value(name: str, text: Any, dtype: str, shape: list[int] | None,
                option: str = "--set") -> np.ndarray:
    """A `--set` value as an array of the placeholder's dtype and a shape that fits it: the
    CLI's text, or (from the API) a number, list or array."""
    where = f"{option} {name}"
    np_type = numpy_dtype(dtype)
    if not isinstance(text, str):
        try:
            array: np.ndarray = np.asarray(text, dtype=np_type)
        except (TypeError, ValueError) as error:
            raise UserError(f"{where}: {error}") from None
    elif text.startswith("@"):
        path = Path(text[1:])
        array = load_npy(path, where)
        if array.dtype.kind != np.dtype(np_type).kind and not (
                array.dtype.kind in "iu" and np.dtype(np_type).kind in "iuf"):
            raise UserError(f"{where}: {path} holds {array.dtype}, the input is {dtype}")
        array = array.astype(np_type)
    else:
        values = [_parse_scalar(t.strip(), dtype, where) for t in text.strip("[]").split(",")]
        if len(values) == 1 and not shape:
            array = np.array(values[0], dtype=np_type)
        else:
            array = np.array(values, dtype=np_type)
            if shape and len(shape) > 1:
                array = _fill_shape(array, shape)
    if not shape_fits(array.shape, shape):
        raise UserError(f"{where}: value has shape {list(array.shape)}, "
                        f"the input needs {format_shape(shape)}")
    return array


def parse_shape(text: str) -> list[int]:
    """``1,299,299,3`` or ``?,?,3`` -> [1, 299, 299, 3] / [-1, -1, 3]."""
    dims = []
    for item in text.split(","):
        item = item.strip()
        if item in ("?", "-1", "None"):
            dims.append(-1)
        elif item.isdigit():
            dims.append(int(item))
        else:
            raise UserError(f"--input-shapes: {item!r} is not a dimension",
                            "use whole numbers, or ? for an unknown dimension")
    return dims


def merge_shape(name: str, graph_shape: list[int] | None, user: list[int]) -> list[int]:
    """The user's shape, unless it contradicts a known rank or dimension in the graph."""
    if graph_shape is not None:
        if len(graph_shape) != len(user):
            raise UserError(f"--input-shapes {name}: rank {len(user)} given, the graph says "
                            f"{format_shape(graph_shape)} (rank {len(graph_shape)})")
        for g, u in zip(graph_shape, user, strict=True):
            if g >= 0 and u >= 0 and g != u:
                raise UserError(f"--input-shapes {name}: {format_shape(user)} contradicts the "
                                f"graph's {format_shape(graph_shape)}")
        return [g if u < 0 else u for g, u in zip(graph_shape, user, strict=True)]
    return user


def format_shape(shape: list[int] | None) -> str:
    if shape is None:
        return "<unknown rank>"
    return "[" + ",".join("?" if d < 0 else str(d) for d in shape) + "]"
