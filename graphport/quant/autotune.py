"""Auto-tuning to an accuracy target: keep the worst layer (with its readers) in float, measure,
repeat until the target is met or no layer that adds error is left. Every step is measured for
real on the same samples, so the trade-off table is the curve, not an estimate."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphport.errors import UserError
from graphport.progress import Progress, or_silent
from graphport.quant.calibrated import CalibratedModel
from graphport.quant.int8_weights import HYBRID_OPS
from graphport.quant.keep_float import KeepFloat
from graphport.quant.layer_errors import LayerError
from graphport.spec.io_types import IoTypes
from graphport.verify.latency import measure
from graphport.verify.parity import OutputAgreement, agreement
from graphport.verify.tflite_runner import TFLiteRunner


@dataclass(frozen=True)
class Target:
    """``agreement``: top-1 agreement with the source on every class-probability output is at
    least ``value``; ``error``: max abs error on every output is at most ``value``."""

    metric: str
    value: float

    def met(self, measured: float | None) -> bool:
        if measured is None:
            return False
        return measured >= self.value if self.metric == "agreement" else measured <= self.value

    def describe(self) -> str:
        return (f"top-1 agreement >= {self.value:g}" if self.metric == "agreement"
                else f"max abs error <= {self.value:g}")


def _worst_top1(rows: list[OutputAgreement]) -> float | None:
    found = [r.top1_agreement for r in rows if r.top1_agreement is not None]
    return min(found) if found else None


def _worst_error(rows: list[OutputAgreement]) -> float | None:
    found = [r.max_abs for r in rows if r.max_abs is not None]
    return max(found) if found else None


@dataclass
class TuneStep:
    change: str  # "float": layers put in float; "int8 weights": a float layer's weights to int8
    added: list[str]  # the layers changed (in float: the worst first, then its readers)
    float_layers: int
    int8_weight_layers: int
    size_bytes: int
    top1_agreement: float | None
    max_abs: float | None
    latency_ms: float
    met: bool
    shape_mismatches: int  # samples whose outputs were shaped unlike the source's
    keep: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Tuning:
    target: str
    steps: list[TuneStep]
    chosen: int | None  # index into steps of the written model; None: target not met
    # Every layer the debug table flags as sensitive kept in float, for comparison.
    all_sensitive: TuneStep | None = None

    @property
    def met(self) -> bool:
        return self.chosen is not None


class _Measure:
    """Quantize with a keep set, run on the samples, compare with the source's outputs."""

    def __init__(self, model: CalibratedModel, io: IoTypes | None, target: Target,
                 samples: list[dict[str, np.ndarray]], reference: list[dict[str, np.ndarray]],
                 latency_sample: dict[str, np.ndarray]) -> None:
        self.model, self.io, self.target = model, io, target
        self.samples, self.reference, self.latency_sample = samples, reference, latency_sample

    def __call__(self, keep: KeepFloat, change: str, added: list[str]
                 ) -> tuple[TuneStep, bytes]:
        data = self.model.quantize(keep, self.io)
        runner = TFLiteRunner(data)
        rows = agreement(self.reference, [runner(s) for s in self.samples])
        latency = measure(lambda: runner(self.latency_sample), runs=10, warmup=2)
        top1, max_abs = _worst_top1(rows), _worst_error(rows)
        met = self.target.met(top1 if self.target.metric == "agreement" else max_abs)
        mismatches = max((r.shape_mismatches for r in rows), default=0)
        return TuneStep(change, added, len(keep.nodes), len(keep.int8_weights), len(data), top1,
                        max_abs, latency.median_ms, met and not mismatches, mismatches,
                        keep.to_json()), data


def autotune(model: CalibratedModel, base: KeepFloat, ranking: list[LayerError],
             io: IoTypes | None, target: Target, samples: list[dict[str, np.ndarray]],
             reference: list[dict[str, np.ndarray]], latency_sample: dict[str, np.ndarray],
             progress: Progress | None = None
             ) -> tuple[Tuning, bytes | None, KeepFloat]:
    """Greedy search from ``base`` (the user's own --keep-float) along ``ranking`` (worst
    first), then, once the target is met, int8 weights for each layer it put in float while the
    target holds. Returns the table, the chosen model's bytes (None if the target is not met)
    and its float set."""
    step = or_silent(progress)
    run = _Measure(model, io, target, samples, reference, latency_sample)
    layers = {layer.tensor: layer for layer in model.layers}
    # Pass-through ops (pooling, reshape) show float rounding only: no reason to keep them.
    candidates = [r for r in ranking if r.error_per_scale > 1e-3 and r.tensor in layers]
    keep = base
    step("auto-tuning: measuring the int8 model")
    first, data = run(keep, "float", [])
    if target.metric == "agreement" and first.top1_agreement is None:
        raise UserError("--target-agreement needs a class-probability output (rows summing to "
                        "1); this model has none", "use --target-error instead")
    steps = [first]
    chosen_data = data if first.met else None
    for row in candidates:
        if steps[-1].met:
            break
        if row.tensor in keep.nodes:  # already in float as a reader of an earlier pick
            continue
        before = set(keep.nodes)
        keep = keep.plus(model, layers[row.tensor])
        step(f"auto-tuning step {len(steps)}/{len(candidates)} at most: {row.tensor} in float")
        result, data = run(keep, "float", [n for n in keep.nodes if n not in before])
        steps.append(result)
        if result.met:
            chosen_data = data
    chosen = len(steps) - 1 if steps[-1].met else None
    if chosen is not None:
        # A layer kept for its activations rarely needs float weights, which are most of its
        # size; each that can take int8 weights without missing the target gets them.
        for node in [n for n in keep.nodes if n not in base.nodes]:
            if layers[node].op not in HYBRID_OPS:
                continue
            trial = keep.with_int8_weights(node)
            step(f"auto-tuning step {len(steps)}: int8 weights for {node}")
            result, data = run(trial, "int8 weights", [node])
            steps.append(result)
            if result.met:
                keep, chosen, chosen_data = trial, len(steps) - 1, data
    tuning = Tuning(target.describe(), steps, chosen)
    sensitive = [layers[r.tensor] for r in candidates if r.sensitive]
    if tuning.met and sensitive:
        every = base
        for layer in sensitive:
            every = every.plus(model, layer)
        if set(every.nodes) != set(keep.nodes) or keep.int8_weights:
            step("measuring every sensitive layer in float, for comparison")
            tuning.all_sensitive = run(every, "float", [layer.tensor for layer in sensitive])[0]
    return tuning, chosen_data, keep
