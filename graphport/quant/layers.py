"""The vocabulary the quantization modules share: a layer of a calibrated model, and how the
quantizer renames tensors."""

from __future__ import annotations

from dataclasses import dataclass


def renamed_from(name: str, original: str) -> bool:
    """Whether a tensor of a quantized model is ``original`` of the calibrated one: the
    quantizer keeps names but may append digits to keep them unique."""
    return name.startswith(original) and (name == original or name[len(original):].isdigit())


@dataclass(frozen=True)
class Layer:
    """An op of the calibrated model the quantizer may quantize."""

    subgraph: int  # 0: the main graph; others: while/if bodies
    index: int  # in its subgraph
    op: str
    tensor: str  # its output tensor's name: what the quantizer's node denylist matches
    reads: tuple[str, ...] = ()  # names of the activation tensors it reads
    in_loop: bool = False  # in a while body (or called from one): runs once per iteration

    @property
    def tf_nodes(self) -> list[str]:
        """The TF nodes fused into this op (the tensor name joins them with ';')."""
        return [part for part in self.tensor.split(";") if part]
