"""The option groups that travel together through graphport, as typed objects: built once by
the CLI (from its strings) or by an API caller, and passed whole to every stage that needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class GraphSpec:
    """What to take from a frozen graph: the signature, the pinned values, the repairs.

    ``inputs``/``outputs`` None: what ``inspect`` finds. ``set_values``: placeholder -> value
    text (``40``, ``0.6,0.7``, ``@file.npy``). ``input_shapes``: input -> ``d0,d1`` with ``?``
    for unknown. ``passes`` None: the default pipeline; an empty list: no repairs.
    ``pass_params``: pass name -> parameters, wherever that pass runs (the CLI's detection
    options set ``detection_postprocess``'s)."""

    inputs: list[str] | None = None
    outputs: list[str] | None = None
    set_values: dict[str, str] = field(default_factory=dict)
    input_shapes: dict[str, str] = field(default_factory=dict)
    passes: list[str] | None = None
    allow_unsafe_ops: bool = False
    pass_params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def names_signature(self) -> bool:
        """Does it choose or pin signature tensors (which a SavedModel already fixes)?"""
        return bool(self.inputs or self.outputs or self.set_values or self.input_shapes)


@dataclass(frozen=True)
class CalibrationSpec:
    """Representative data for full int8: an image folder, ``.npy``/``.npz``, or ``random``;
    images are resized to the input, then ``(x - mean) / std``, channels reversed if ``bgr``."""

    data: str | None = None
    samples: int = 100
    mean: float = 0.0
    std: float = 1.0
    bgr: bool = False


@dataclass(frozen=True)
class VerifySpec:
    """How a result is checked against its source: ``enabled`` runs the parity check, on
    ``given`` inputs (name -> file or value) or on ``count`` generated/calibration samples;
    ``eval_file`` (labelled ``x``, ``y``) adds accuracy; ``require`` fails a quantized result
    whose verdict is not a pass (float results must always match)."""

    enabled: bool = True
    given: dict[str, str] = field(default_factory=dict)
    count: int = 16
    bgr: bool = False
    eval_file: Path | None = None
    require: bool = False
