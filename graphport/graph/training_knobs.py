"""Training switches found by what they feed, not by their names: a placeholder that mixes
with a random tensor the way dropout does is a dropout knob, whatever it is called
(``Placeholder_6``), and its inference value follows from the arithmetic.

TF 1.0-1.12 dropout: ``floor(keep_prob + uniform) * x / keep_prob``: the knob is added to the
random tensor, so it is a keep probability (1.0 at inference). TF 1.13+ and Keras:
``uniform >= rate`` with ``rate = 1 - keep_prob`` when called with keep_prob: the knob is
compared with the random tensor, so it is a rate (0.0), or a keep probability (1.0) when it went
through ``1 - x`` on the way.
"""

from __future__ import annotations

from typing import Any

from graphport.graph.nodes import parse_input

_RANDOM = frozenset({"RandomUniform", "RandomUniformInt", "RandomStandardNormal",
                     "StatelessRandomUniform", "StatelessRandomUniformV2"})
_CARRY = frozenset({"Identity", "Cast", "Reshape", "ExpandDims", "Squeeze", "Mul", "RealDiv",
                    "Div", "Reciprocal", "Add", "AddV2", "Sub", "Maximum", "Minimum"})
_ADD = frozenset({"Add", "AddV2"})
_COMPARE = frozenset({"GreaterEqual", "Greater", "Less", "LessEqual"})


def _random_within(name: str, nodes: dict[str, Any], depth: int = 3) -> bool:
    """Whether ``name`` is, or is computed within ``depth`` steps from, a random op."""
    frontier = [name]
    for _ in range(depth + 1):
        found = [nodes[n] for n in frontier if n in nodes]
        if any(node.op in _RANDOM for node in found):
            return True
        frontier = [parse_input(i)[0] for node in found for i in node.input
                    if not i.startswith("^")]
    return False


def dropout_inference_value(name: str, readers: dict[str, list[Any]],
                            nodes: dict[str, Any], depth: int = 4) -> str | None:
    """"1.0" for a keep probability, "0.0" for a rate, None when ``name`` is no dropout knob.
    ``readers``: node name -> the nodes reading it (data inputs)."""
    frontier, seen = [(name, False)], {name}
    for _ in range(depth):
        following = []
        for current, inverted in frontier:
            for reader in readers.get(current, []):
                others = [parse_input(i)[0] for i in reader.input
                          if not i.startswith("^") and parse_input(i)[0] != current]
                if any(_random_within(o, nodes) for o in others):
                    if reader.op in _ADD:
                        return "0.0" if inverted else "1.0"
                    if reader.op in _COMPARE:
                        return "1.0" if inverted else "0.0"
                if reader.op in _CARRY and reader.name not in seen:
                    seen.add(reader.name)
                    flips = reader.op == "Sub" and len(reader.input) > 1 and \
                        parse_input(reader.input[1])[0] == current
                    following.append((reader.name, inverted != flips))
        frontier = following
    return None
