"""`graphport tflite MODEL --prune-sweep 0.25,0.5,0.75`: the pruning trade-off, measured.

Each level is pruned, converted, checked against the unpruned source (parity, accuracy with
``--eval``) and timed, exactly as a `--prune` run would be; nothing is written."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from graphport.commands.tflite import check_mode, convert_source
from graphport.convert.calibration import load_calibration
from graphport.convert.op_report import zipped_size
from graphport.convert.source import source_model
from graphport.errors import UserError, api_errors
from graphport.progress import Progress, or_silent
from graphport.quant.prune import PruneSpec, Pruning, pruned_source
from graphport.spec.io_types import IoTypes
from graphport.spec.modes import calibrated
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec


@dataclass
class SweepRow:
    target: float
    sparsity: float
    size_bytes: int
    zipped_bytes: int
    sparse_encoding_used: bool
    verdict: str | None
    max_abs: float | None
    accuracy: float | None
    top1_agreement: float | None
    latency_ms: float | None


@dataclass
class SweepResult:
    model: str
    mode: str
    unpruned: dict[str, Any]
    rows: list[SweepRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_levels(text: str) -> list[float]:
    """``0.25,0.5,0.75`` -> the levels, each a fraction in (0, 1)."""
    levels = []
    for item in text.split(","):
        try:
            level = float(item)
        except ValueError:
            raise UserError(f"--prune-sweep {text}: {item!r} is not a fraction",
                            "write levels like 0.25,0.5,0.75") from None
        if not 0 < level < 1:
            raise UserError(f"--prune-sweep {text}: {level:g} is not in (0, 1)")
        levels.append(level)
    return sorted(set(levels))


@api_errors
def prune_sweep(model: str | os.PathLike[str], levels: list[float], mode: str = "float32",
                io: IoTypes | None = None, select_ops: bool = False,
                graph: GraphSpec | None = None, calibration: CalibrationSpec | None = None,
                verify: VerifySpec | None = None,
                progress: Progress | None = None) -> SweepResult:
    """One row per level: sparsity reached, size raw and zipped (sparse encoding where it
    is smaller), parity with the unpruned source, accuracy on ``verify.eval_file``, latency."""
    step = or_silent(progress)
    calib = calibration or CalibrationSpec()
    check_mode(mode, io, False, calib.data)
    with source_model(Path(model), graph or GraphSpec()) as source, \
            tempfile.TemporaryDirectory(prefix="graphport-sweep-") as scratch:
        samples = load_calibration(calib, source.inputs) if calibrated(mode) else None
        cache: bytes | None = None
        result = SweepResult(str(model), mode, {})
        for n, level in enumerate(levels, 1):
            step(f"level {n}/{len(levels)}: sparsity {level:g}")
            pruned, report = pruned_source(source, PruneSpec(level))
            context = Pruning(source, report, cache)
            converted = convert_source(pruned, Path(scratch) / f"{n}.tflite", mode, io,
                                       select_ops=select_ops, calibration=samples,
                                       verify=verify, overwrite=True, size_ratio=False,
                                       progress=step, pruning=context)
            cache = context.unpruned_data
            info = converted.prune or {}
            sparse = info.get("sparse_encoding", {})
            outputs = converted.parity.get("outputs") or []
            evaluated = converted.eval or {}
            result.rows.append(SweepRow(
                level, round(report.sparsity, 4), converted.size_bytes, converted.zipped_bytes,
                bool(sparse.get("used")), converted.parity.get("verdict"),
                max((o["max_abs"] for o in outputs if o["max_abs"] is not None), default=None),
                evaluated.get("tflite_accuracy"), evaluated.get("top1_agreement"),
                sparse.get("latency_sparse_ms" if sparse.get("used") else "latency_dense_ms")))
            if not result.unpruned and cache is not None:
                result.unpruned = {**info.get("unpruned", {"size_bytes": len(cache),
                                                           "zipped_bytes": zipped_size(cache)[0]}),
                                   "accuracy": evaluated.get("source_accuracy")}
    return result
