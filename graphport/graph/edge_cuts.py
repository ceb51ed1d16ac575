"""Where to cut a graph so the part left converts to builtin TFLite ops: ops with no builtin at
its edges (an audio front end before the network, a CTC decoder after it) stay outside.

A blocker is at the head when everything it is computed from is graph inputs, constants, other
head blockers and reshaping glue (DecodeWav -> AudioSpectrogram -> Mfcc from a wav string); every
other
blocker is at the tail, with all it feeds. The cut is what crosses into the middle: the head's
tensors the network reads (``--inputs Mfcc``) and the tensors the tail reads from the network
(``--outputs`` the decoder's logits input). No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphport.graph.index import NodeIndex
from graphport.graph.nodes import canonical_tensor, parse_input

# TF ops with no TFLite builtin (nor a graphport repair) that sit at a model's edges in the
# graphs people bring: decoders of files and strings, audio front ends, sequence decoders.
EDGE_OPS = frozenset({
    "DecodeWav", "EncodeWav", "AudioSpectrogram", "Mfcc",
    "DecodeJpeg", "DecodePng", "DecodeBmp", "DecodeGif", "DecodeImage", "DecodeAndCropJpeg",
    "DecodeRaw", "DecodeBase64", "EncodeJpeg", "EncodePng", "ParseExample", "ParseExampleV2",
    "ParseSingleExample", "ParseTensor", "StringToNumber", "AsString", "StringSplit",
    "StringSplitV2", "Substr", "RegexReplace", "StaticRegexReplace",
    "CTCGreedyDecoder", "CTCBeamSearchDecoder",
})
_FREE = ("Const", "Placeholder", "PlaceholderWithDefault")
# Ops that only reshape or pass values: a head blocker may be fed through them.
_GLUE = frozenset({"Identity", "Reshape", "Squeeze", "ExpandDims", "Cast", "StridedSlice",
                   "Slice", "Transpose", "Pack", "Unpack", "Shape"})


@dataclass
class EdgeCut:
    """The cut that leaves the blockers out: new inputs and outputs, and the ops left out."""

    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    head: list[str] = field(default_factory=list)  # op types cut off before
    tail: list[str] = field(default_factory=list)  # op types cut off after

    def __bool__(self) -> bool:
        return bool(self.inputs or self.outputs)


def _ancestors(index: NodeIndex, names: set[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(names)
    while stack:
        node = index.nodes.get(stack.pop())
        if node is None:
            continue
        for item in node.input:
            name, _, control = parse_input(item)
            if not control and name not in seen:
                seen.add(name)
                stack.append(name)
    return seen


def _descendants(index: NodeIndex, names: set[str]) -> set[str]:
    seen = set(names)
    stack = list(names)
    while stack:
        for reader in index.readers(stack.pop()):
            if reader.node.name not in seen:
                seen.add(reader.node.name)
                stack.append(reader.node.name)
    return seen


def edge_cut(index: NodeIndex, blockers: set[str], outputs: list[str]) -> EdgeCut:
    """The cut for blocking node names ``blockers`` in a graph serving ``outputs``; empty
    when there is no blocker or cutting would leave nothing between the edges."""
    needed = _ancestors(index, {parse_input(o)[0] for o in outputs}) | \
        {parse_input(o)[0] for o in outputs}
    blockers = blockers & needed
    if not blockers:
        return EdgeCut()
    head: set[str] = set()
    for name in sorted(blockers, key=lambda n: len(_ancestors(index, {n}))):
        if all(a in head or index.nodes[a].op in _FREE or index.nodes[a].op in _GLUE
               for a in _ancestors(index, {name}) if a in index.nodes):
            head.add(name)
    head_region = head | _ancestors(index, head)
    tail_region = _descendants(index, blockers - head)
    cut = EdgeCut(head=sorted({index.nodes[n].op for n in head}),
                  tail=sorted({index.nodes[n].op for n in blockers - head}))
    middle = needed - head_region - tail_region
    if not any(index.nodes[n].op not in _FREE for n in middle if n in index.nodes):
        return EdgeCut()  # nothing convertible between the edges
    cut.inputs = _crossing(index, head_region, middle)
    cut.outputs = _crossing(index, middle, tail_region)
    return cut


def _crossing(index: NodeIndex, sources: set[str], readers: set[str]) -> list[str]:
    """The computed tensors of ``sources`` that nodes of ``readers`` read, in name order."""
    found: list[str] = []
    for name in sorted(readers):
        node = index.nodes.get(name)
        for item in node.input if node is not None else []:
            source, _, control = parse_input(item)
            if not control and source in sources and index.nodes[source].op not in _FREE:
                tensor = canonical_tensor(item)
                if tensor not in found:
                    found.append(tensor)
    return found
