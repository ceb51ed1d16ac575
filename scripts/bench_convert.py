"""Benchmark: `graphport tflite` vs a plain TensorFlow script doing the same conversion of the
179 MB frozen ResNet-v2-101, in float32, dynamic and int8 modes, side by side in one run.

Both sides run in fresh processes, import TensorFlow first, then time the conversion alone
(graphport: read, prepare, convert, add the signature, write; plain script:
TFLiteConverter.from_frozen_graph, convert, write). graphport's report (op table, zipped size) is
timed apart ("report s"), and "full run s" is one whole default run: report, the float32
reference conversion for the size ratio, and a 2-sample parity check. Target: graphport at most
1.10x the plain script in wall time and in peak memory.

    python scripts/bench_convert.py [--modes float32,dynamic,int8] [--calib-samples 8] [--runs 3]
    BENCH_NO_REWRITE=1 python scripts/bench_convert.py   # graphport without graph repairs
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_resnet101 import DEFAULT, build

_COMMON = """
import json, os, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
model, mode, out, samples = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with_report = sys.argv[5] == "1"
rng = np.random.default_rng(0)
calib = [rng.random((1, 299, 299, 3), dtype=np.float32) for _ in range(samples)]
"""

_GRAPHPORT = _COMMON + """
from graphport.commands.tflite import convert_tflite
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec
np.save(out + ".calib.npy", np.concatenate(calib))
calibration = CalibrationSpec(out + ".calib.npy" if mode == "int8" else None, samples)
start = time.perf_counter()
graph = GraphSpec(passes=[] if os.environ.get("BENCH_NO_REWRITE") else None)
result = convert_tflite(model, out, mode=mode, overwrite=True, size_ratio=False, graph=graph,
                        calibration=calibration, verify=VerifySpec(enabled=False))
wall = time.perf_counter() - start
t = result.timings
seconds = t["prepare_s"] + t["conversion_s"] + t["write_s"]  # the report is timed apart
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the report run
extra = None
if with_report:  # a second, full run: report (with the float32 size ratio) and parity included
    report_start = time.perf_counter()
    convert_tflite(model, out + ".report.tflite", mode=mode, overwrite=True,
                   verify=VerifySpec(count=2), calibration=calibration)
    extra = time.perf_counter() - report_start
print(json.dumps({"seconds": seconds, "size": os.path.getsize(out), "peak_mb": peak_mb,
                  "report_s": t["report_s"], "wall_s": wall, "with_report_and_parity_s": extra}))
"""

_PLAIN = _COMMON + """
start = time.perf_counter()
converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
    model, ["input"], ["Identity"], {"input": [1, 299, 299, 3]})
if mode == "dynamic":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
elif mode == "int8":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([c] for c in calib)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                           tf.lite.OpsSet.TFLITE_BUILTINS]
data = converter.convert()
open(out, "wb").write(data)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "size": len(data),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, model: Path, mode: str, out: Path, samples: int, report: bool = False
        ) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code, str(model), mode, str(out), str(samples),
                           "1" if report else "0"], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="float32,dynamic,int8")
    parser.add_argument("--calib-samples", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", type=Path, default=DEFAULT)
    args = parser.parse_args()
    model = build(args.model)
    out = model.parent
    ok = True
    print(f"model: {model} ({model.stat().st_size / 1e6:.1f} MB); median of {args.runs} runs "
          f"each, alternating order; int8 calibrates on {args.calib_samples} samples")
    print(f"{'mode':8} {'graphport s':>11} {'plain s':>8} {'time x':>7} {'graphport MB':>12} "
          f"{'plain MB':>9} {'mem x':>6} {'report s':>9} {'full run s':>11}")
    for mode in args.modes.split(","):
        runs: dict[str, list[dict[str, float]]] = {"ours": [], "plain": []}
        for i in range(args.runs):  # alternate who goes first: the machine drifts
            pair = [("ours", _GRAPHPORT), ("plain", _PLAIN)][:: 1 if i % 2 == 0 else -1]
            for name, code in pair:
                runs[name].append(run(code, model, mode, out / f"{name}.{mode}.tflite",
                                      args.calib_samples, report=name == "ours" and i == 0))
        full_s = runs["ours"][0]["with_report_and_parity_s"]
        report_s = statistics.median(r["report_s"] for r in runs["ours"])
        ours, plain = ({key: statistics.median(r[key] for r in runs[name])
                        for key in ("seconds", "peak_mb", "size")} for name in ("ours", "plain"))
        time_ratio = ours["seconds"] / plain["seconds"]
        memory_ratio = ours["peak_mb"] / plain["peak_mb"]
        ok &= time_ratio <= 1.10 and memory_ratio <= 1.10
        print(f"{mode:8} {ours['seconds']:11.1f} {plain['seconds']:8.1f} {time_ratio:7.2f} "
              f"{ours['peak_mb']:12.0f} {plain['peak_mb']:9.0f} {memory_ratio:6.2f} "
              f"{report_s:9.1f} {full_s:11.1f}")
        print(f"{'':8} sizes: graphport {ours['size'] / 1e6:.1f} MB, plain "
              f"{plain['size'] / 1e6:.1f} MB")
    print("targets (<= 1.10x time and memory):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
