"""One model of a `graphport migrate` batch, in its own process so that a converter crash or a
memory blow-up stops this model only. Reads its job as JSON on stdin; writes JSON lines on
stdout: ``{"stage": ...}`` as it goes, then ``{"result": ...}``.

    python -m graphport.commands.migrate_worker < job.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from graphport.errors import GraphportError, use_cli_terms
from graphport.spec.modes import calibrated
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec


def _emit(**data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def _graph_spec(options: dict[str, Any], allow_unsafe: bool) -> GraphSpec:
    return GraphSpec(options.get("inputs"), options.get("outputs"),
                     {k: str(v) for k, v in options.get("set", {}).items()},
                     {k: str(v) for k, v in options.get("input_shapes", {}).items()},
                     options.get("passes"), allow_unsafe)


def _step(steps: list[dict[str, Any]], name: str, work: Any) -> Any:
    """Run one step; its failure is recorded (message, hint, exit code) and the batch goes on."""
    _emit(stage=name)
    started = time.perf_counter()
    try:
        value = work()
    except GraphportError as error:
        steps.append({"step": name, "ok": False, "error": error.message, "hint": error.hint,
                      "seconds": round(time.perf_counter() - started, 2)})
        return None
    steps.append({"step": name, "ok": True, "seconds": round(time.perf_counter() - started, 2)})
    return value


def migrate_one(job: dict[str, Any]) -> dict[str, Any]:
    """inspect, (freeze), SavedModel, TFLite in each mode: what each step gave."""
    from graphport.commands.freeze import freeze
    from graphport.commands.inspect import inspect_model
    from graphport.commands.tflite import convert_tflite
    from graphport.commands.to_savedmodel import to_savedmodel

    model, out = Path(job["model"]), Path(job["out"])
    options, allow_unsafe = job["options"], job["allow_unsafe_ops"]
    spec = _graph_spec(options, allow_unsafe)
    samples = {k: str(v) for k, v in options.get("samples", {}).items()}
    check = VerifySpec(True, samples, bgr=bool(options.get("bgr", False)))
    steps: list[dict[str, Any]] = []
    result: dict[str, Any] = {"steps": steps, "tflite": {}}
    if job["kind"] != "graph":  # frozen graphs were inspected by the batch, TF-free
        anatomy = _step(steps, "inspect", lambda: inspect_model(model))
        if anatomy is None:
            return result
        result["next_command"] = anatomy.get("next_command")
        unsafe = anatomy.get("unsafe_ops") or []
        if unsafe and not allow_unsafe:
            ops = ", ".join(sorted({u["op"] for u in unsafe}))
            result["next_command"] = None  # every command would refuse it the same way
            steps[-1].update(ok=False, error=f"the graph holds unsafe ops ({ops}): not run",
                             hint="migrate with --allow-unsafe-ops if you trust it")
            return result
    graph = model
    if job["kind"] == "checkpoint":
        frozen = _step(steps, "freeze", lambda: freeze(
            model, out / "frozen.pb", options.get("graph"), options.get("outputs"),
            allow_unsafe_ops=allow_unsafe))
        if frozen is None:
            return result
        result["verdicts"] = {"freeze": frozen.verdict}
        graph = Path(frozen.path)
    result.setdefault("verdicts", {})
    if job["kind"] != "saved_model":
        saved = _step(steps, "savedmodel", lambda: to_savedmodel(
            graph, out / "saved_model", spec, check))
        if saved is not None:
            result["verdicts"]["savedmodel"] = saved.verdict
    for mode in options.get("modes", job["modes"]):
        calibration = CalibrationSpec(options.get("calib") or job.get("calib")
                                      if calibrated(mode) else None,
                                      int(options.get("calib_samples", 100)),
                                      float(options.get("mean", 0.0)),
                                      float(options.get("std", 1.0)),
                                      bool(options.get("bgr", False)))
        converted = _step(steps, f"tflite {mode}", lambda mode=mode, cal=calibration:
                          convert_tflite(graph, out / f"{model.stem}.{mode}.tflite", mode,
                                         graph=spec if job["kind"] != "saved_model"
                                         else GraphSpec(allow_unsafe_ops=allow_unsafe),
                                         calibration=cal, verify=check))
        if converted is not None:
            summary = converted.summary
            result["verdicts"][f"tflite {mode}"] = converted.parity.get("verdict", "unverified")
            result["tflite"][mode] = {
                "path": converted.path, "size_bytes": converted.size_bytes,
                "float_fallbacks": len(summary["float_fallback"]),
                "flex_ops": summary["flex_ops"],
                "warnings": converted.warnings}
    return result


def main() -> int:
    from graphport.backend.runtime import tensorflow

    tensorflow()  # quiet import, once, before the first stage is announced
    job = json.loads(sys.stdin.read())
    if job.get("cli_terms"):
        use_cli_terms()  # the batch runs under the CLI: hints name options, not API fields
    _emit(result=migrate_one(job))
    return 0


if __name__ == "__main__":
    sys.exit(main())
