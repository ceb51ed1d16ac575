"""Benchmark: `graphport tflite` vs a plain TensorFlow script doing the same conversion of the
179 MB frozen ResNet-v2-101, in float32, dynamic and int8 modes, side by side in one run.

Headline: the whole default command, `graphport tflite MODEL [--int8 --calib X]` exactly as a
user runs it (report, size ratio, zipped size, the parity check within its time budget, write),
against the plain script, both as fresh processes timed from start to exit, TensorFlow's import
included; peak memory from the kernel's accounting of each process. Every run is printed.
Target: at most 1.3x in every run.

Then the conversion alone: both sides in fresh processes import TensorFlow first, then time
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
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

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

# The plain script's converter, as a user would set it up by hand.
_CONVERTER = """
converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
    model, ["input"], ["Identity"], {"input": [1, 299, 299, 3]})
if mode == "dynamic":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
elif mode == "int8":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([c] for c in calib)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                           tf.lite.OpsSet.TFLITE_BUILTINS]
"""

_PLAIN = _COMMON + """
start = time.perf_counter()
""" + _CONVERTER + """
data = converter.convert()
open(out, "wb").write(data)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "size": len(data),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


_PLAIN_WHOLE = _COMMON + _CONVERTER + """
open(out, "wb").write(converter.convert())
"""


def whole(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak MB of one process, start to exit."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        raise SystemExit(f"{argv[:4]} failed: {process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def headline(model: Path, modes: list[str], samples: int, runs: int) -> bool:
    """The whole default graphport command against the plain script, alternating order;
    every run is printed (a pair is one graphport run and the plain run beside it)."""
    out = model.parent
    calib = out / "calib.npy"
    rng = np.random.default_rng(0)
    np.save(calib, rng.random((samples, 299, 299, 3), dtype=np.float32))
    ok = True
    print(f"{'whole run':10} {'graphport s':>11} {'plain s':>8} {'time x':>7} "
          f"{'graphport MB':>12} {'plain MB':>9} {'mem x':>6}")
    for mode in modes:
        ours_cmd = [sys.executable, "-m", "graphport", "tflite", str(model), "--mode", mode,
                    "-o", str(out / f"whole.{mode}.tflite"), "--overwrite"]
        if mode == "int8":
            ours_cmd += ["--calib", str(calib), "--calib-samples", str(samples)]
        plain_cmd = [sys.executable, "-c", _PLAIN_WHOLE, str(model), mode,
                     str(out / f"plain_whole.{mode}.tflite"), str(samples), "0"]
        timed: dict[str, list[tuple[float, float]]] = {"ours": [], "plain": []}
        for i in range(runs):
            pair = [("ours", ours_cmd), ("plain", plain_cmd)][:: 1 if i % 2 == 0 else -1]
            for name, argv in pair:
                timed[name].append(whole(argv))
        for i, (ours, plain) in enumerate(zip(timed["ours"], timed["plain"], strict=True)):
            ok &= ours[0] / plain[0] <= 1.3 and ours[1] / plain[1] <= 1.3
            print(f"{f'{mode} #{i + 1}':10} {ours[0]:11.1f} {plain[0]:8.1f} "
                  f"{ours[0] / plain[0]:7.2f} {ours[1]:12.0f} {plain[1]:9.0f} "
                  f"{ours[1] / plain[1]:6.2f}")
    print("headline target (whole default run <= 1.3x time and memory, in every run):",
          "met" if ok else "NOT met")
    return ok


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
    parser.add_argument("--headline-only", action="store_true",
                        help="only the whole default run against the plain script")
    args = parser.parse_args()
    model = build(args.model)
    out = model.parent
    ok = headline(model, args.modes.split(","), args.calib_samples, args.runs)
    if args.headline_only:
        return 0 if ok else 1
    print(f"model: {model} ({model.stat().st_size / 1e6:.1f} MB); median of {args.runs} runs "
          f"each, alternating order; int8 calibrates on {args.calib_samples} samples")
    alone_ok = True
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
        alone_ok &= time_ratio <= 1.10 and memory_ratio <= 1.10
        print(f"{mode:8} {ours['seconds']:11.1f} {plain['seconds']:8.1f} {time_ratio:7.2f} "
              f"{ours['peak_mb']:12.0f} {plain['peak_mb']:9.0f} {memory_ratio:6.2f} "
              f"{report_s:9.1f} {full_s:11.1f}")
        print(f"{'':8} sizes: graphport {ours['size'] / 1e6:.1f} MB, plain "
              f"{plain['size'] / 1e6:.1f} MB")
    print("conversion-alone targets (<= 1.10x time and memory):",
          "met" if alone_ok else "NOT met")
    return 0 if ok and alone_ok else 1


if __name__ == "__main__":
    sys.exit(main())
