"""Full int8 with the user in control: `--keep-float`, `--debug-quant` and the auto-tuning
targets. Plain `--int8` does not come here; it is one converter call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from graphport.convert.calibration import Calibration
from graphport.convert.source import SourceModel
from graphport.errors import ConversionError, UserError
from graphport.progress import Progress, or_silent
from graphport.quant.autotune import Target, Tuning, autotune
from graphport.quant.calibrated import calibrate
from graphport.quant.keep_float import KeepFloat, resolve_keep_float
from graphport.quant.layer_errors import LayerError, layer_errors
from graphport.spec.io_types import IoTypes


@dataclass
class QuantOptions:
    keep_float: list[str] = field(default_factory=list)
    debug: bool = False
    target_agreement: float | None = None
    target_error: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.keep_float or self.debug or self.target)

    @property
    def target(self) -> Target | None:
        if self.target_agreement is not None:
            return Target("agreement", self.target_agreement)
        if self.target_error is not None:
            return Target("error", self.target_error)
        return None

    def check(self, mode: str, strict: bool) -> None:
        """Reject combinations that mean nothing, before any slow work."""
        if not self.active:
            return
        if mode != "int8":
            raise UserError("--keep-float, --debug-quant and --target-* need --int8")
        if self.target_agreement is not None and self.target_error is not None:
            raise UserError("give one target: --target-agreement or --target-error")
        if self.target_agreement is not None and not 0 < self.target_agreement <= 1:
            raise UserError(f"--target-agreement {self.target_agreement:g}: a fraction in "
                            "(0, 1], e.g. 0.99")
        if self.target_error is not None and not self.target_error > 0:
            raise UserError(f"--target-error {self.target_error:g}: must be above 0")
        if strict and (self.keep_float or self.target):
            raise UserError("--strict forbids float ops; --keep-float and --target-* add them",
                            "drop one of them")


@dataclass
class QuantOutcome:
    data: bytes
    keep: KeepFloat
    samples: str  # what the layer errors and the tuning were measured on
    layers: list[LayerError] | None = None
    tuning: Tuning | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kept_float": self.keep.to_json(), "measured_on": self.samples,
                "layers": None if self.layers is None else [
                    {**asdict(r), "sensitive": r.sensitive} for r in self.layers],
                "tuning": None if self.tuning is None else asdict(self.tuning)}


class TargetNotMet(ConversionError):
    """Auto-tuning ran out of layers; ``outcome`` holds the tables to show why."""

    def __init__(self, message: str, hint: str, outcome: QuantOutcome) -> None:
        super().__init__(message, hint)
        self.outcome = outcome
        self.details = {"quant": outcome.to_json()}


def quantize_int8(source: SourceModel, calibration: Calibration, options: QuantOptions,
                  io: IoTypes | None, select_ops: bool, samples: list[dict[str, np.ndarray]],
                  described: str, reference: Callable[[], list[dict[str, np.ndarray]]],
                  progress: Progress | None = None) -> QuantOutcome:
    """Calibrate once; measure layer errors if asked (or needed for tuning); quantize with the
    chosen float layers or tune to the target (``reference()``: the source's outputs on
    ``samples``, asked for only then). Raises TargetNotMet when the target is out of
    reach, with every step measured."""
    step = or_silent(progress)
    step("calibrating")
    model = calibrate(source, calibration, select_ops)
    keep = resolve_keep_float(options.keep_float, model)
    outcome = QuantOutcome(b"", keep, described)
    if options.debug or options.target:
        step("measuring per-layer quantization error")
        outcome.layers = layer_errors(model.quantize(keep, debug=True), samples, model.layers,
                                      step)
    target = options.target
    if target is None:
        step("quantizing")
        outcome.data = model.quantize(keep, io)
        return outcome
    assert outcome.layers is not None
    # latency on one calibration sample: one input exactly as the model takes it
    tuning, data, last_keep = autotune(model, keep, outcome.layers, io, target, samples,
                                       reference(), calibration.samples[0], step)
    outcome.tuning = tuning
    if data is None:
        measured = [(s.top1_agreement if target.metric == "agreement" else s.max_abs, s)
                    for s in tuning.steps]
        known = [(value, s) for value, s in measured if value is not None]
        if not known:
            raise TargetNotMet(
                f"target {target.describe()} cannot be met: no step gave outputs shaped like the "
                "source's (a detector finding a different number of objects, say), even with "
                "every layer that adds error in float; nothing was written",
                "keep the op types of the post-processing in float (--keep-float MUL,SUB,...) "
                "or give data the model responds to", outcome)
        last = measured[-1][0]
        best, best_step = (max if target.metric == "agreement" else min)(
            known, key=lambda pair: pair[0])
        raise TargetNotMet(
            f"target {target.describe()} cannot be met: the best step reached {best:.4g} "
            f"({best_step.float_layers} layer(s) in float); with every layer that adds error "
            f"in float: {'-' if last is None else f'{last:.4g}'}; nothing was written",
            "loosen the target, or check the calibration data", outcome)
    outcome.data, outcome.keep = data, last_keep  # the search stops at the first step met
    return outcome
