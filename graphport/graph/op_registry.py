"""TensorFlow's op registry as graphport knows it without TensorFlow: the op types, which are
stateful, and the attributes a node must carry (graphport/data/tf_ops.txt, written by
scripts/make_op_list.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from graphport.graph.oplists import RUNTIME_CUSTOM_OPS


@dataclass(frozen=True)
class OpInfo:
    """What graphport knows of a registered op without TensorFlow."""

    stateful: bool
    required_attrs: tuple[str, ...]


@cache
def op_list() -> dict[str, OpInfo]:
    """Every op registered in the supported TensorFlow."""
    text = resources.files("graphport").joinpath("data/tf_ops.txt").read_text()
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, *marks = line.split()
        required = next((m.removeprefix("requires=") for m in marks
                         if m.startswith("requires=")), "")
        found[name] = OpInfo("stateful" in marks, tuple(filter(None, required.split(","))))
    return found


@cache
def registered_ops() -> frozenset[str]:
    """Op types registered in the supported TensorFlow."""
    return frozenset(op_list())


def is_stateful(op: str) -> bool:
    """Whether TensorFlow's OpDef marks ``op`` stateful (random, I/O, variables); an op it
    does not know counts as stateful."""
    info = op_list().get(op)
    if info is None:
        return op not in RUNTIME_CUSTOM_OPS
    return info.stateful
