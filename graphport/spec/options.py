"""The option groups that travel together through graphport, as typed objects: built once by
the CLI (from its strings) or by an API caller, and passed whole to every stage that needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphport.errors import UserError


def placeholder_name(name: str, option: str) -> str:
    """``x:0`` -> ``x``; a placeholder has one output, so ``x:1`` is an error."""
    node, colon, index = name.rpartition(":")
    if not colon:
        return name
    if index != "0":
        raise UserError(f"{option} {name}: a placeholder has one output, {node}:0",
                        f"write {node} or {node}:0")
    return node


def shape_text(shape: Any) -> str:
    """A shape as --input-shapes writes it: ``1,784``; None or -1 unknown -> ``?``."""
    if isinstance(shape, str):
        return shape
    try:
        return ",".join("?" if d is None or int(d) < 0 else str(int(d)) for d in shape)
    except (TypeError, ValueError):
        raise UserError(f"input shape {shape!r}: give a list of sizes such as [1, 784] "
                        "(None for unknown) or the text 1,784") from None


@dataclass(frozen=True)
class GraphSpec:
    """What to take from a frozen graph: the signature, the pinned values, the repairs.

    ``inputs``/``outputs`` None: what ``inspect`` finds. ``set_values``: placeholder -> a
    value as the CLI writes it (``40``, ``0.6,0.7``, ``@file.npy``) or a number, list or
    array. ``input_shapes``: input -> ``d0,d1`` with ``?`` for unknown, or a list with None
    or -1 for unknown. Names may carry their tensor index (``keep_prob:0``). ``passes`` None:
    the default pipeline; an empty list: no repairs. ``pass_params``: pass name ->
    parameters, wherever that pass runs (the CLI's detection options set
    ``detection_postprocess``'s). ``signature``, ``tag_set``: which signature of which meta
    graph of a SavedModel input."""

    inputs: list[str] | None = None
    outputs: list[str] | None = None
    set_values: dict[str, Any] = field(default_factory=dict)
    input_shapes: dict[str, Any] = field(default_factory=dict)
    passes: list[str] | None = None
    allow_unsafe_ops: bool = False
    pass_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: str | None = None
    tag_set: str | None = None  # a SavedModel's meta graph, by its tags ("serve,gpu")

    def __post_init__(self) -> None:
        """One name grammar everywhere: ``x:0`` is the placeholder ``x``; shapes as text."""
        object.__setattr__(self, "set_values", {
            placeholder_name(k, "--set"): v for k, v in self.set_values.items()})
        object.__setattr__(self, "input_shapes", {
            placeholder_name(k, "--input-shapes"): shape_text(v)
            for k, v in self.input_shapes.items()})

    def names_signature(self) -> bool:
        """Does it choose or pin signature tensors (which a SavedModel already fixes)?"""
        return bool(self.inputs or self.outputs or self.set_values or self.input_shapes)

    def refuse_for_saved_model(self) -> None:
        """Options that only mean something for a frozen graph, refused with the reason."""
        if self.names_signature():
            raise UserError("--inputs/--outputs/--set/--input-shapes apply to frozen graphs",
                            "a SavedModel's signature already fixes them")
        if self.passes is not None or self.pass_params:
            raise UserError("--passes, --no-rewrite and the object-detection options apply to "
                            "frozen graphs: a SavedModel is converted as it is",
                            "repair the frozen graph it came from instead")


@dataclass(frozen=True)
class CalibrationSpec:
    """Representative data for full int8: an image folder, ``.npy``/``.npz``, or ``random``;
    images are resized to the input, then ``(x - mean) / std``, channels reversed if ``bgr``."""

    data: str | None = None
    samples: int = 100
    mean: float = 0.0
    std: float = 1.0
    bgr: bool = False
    # A graph that carries its ranges (fake-quant points): toco's --mean_values/--std_values
    # for its inputs (input -> (mean, std); "" for every input), and the range of tensors no
    # point covers (toco's --default_ranges_min/max).
    input_stats: dict[str, tuple[float, float]] = field(default_factory=dict)
    default_ranges: tuple[float, float] | None = None


@dataclass(frozen=True)
class VerifySpec:
    """How a result is checked against its source: ``enabled`` runs the parity check, on
    ``given`` inputs (name -> file or value) or on ``count`` generated/calibration samples
    (None: up to 16 within a time budget, see commands/tflite.py);
    ``eval_file`` (labelled ``x``, ``y``) adds accuracy; ``require`` fails a quantized result
    whose verdict is not a pass (float results must always match)."""

    enabled: bool = True
    given: dict[str, str] = field(default_factory=dict)
    count: int | None = None
    bgr: bool = False
    eval_file: Path | None = None
    require: bool = False
