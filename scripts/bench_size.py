"""Benchmark: model size and conversion time of an unrolled RNN, int8 against float32, as
TensorFlow's converter writes them and as graphport writes them, side by side in one run.

A 2-layer LSTM unrolled 200 time steps (weights shared by every step; built by
scripts/make_fixtures.py's lstm_graph). Targets (issue 19): int8 / float32 size <= 0.3 when the
weights make the model (the ratio is structure-bound when they do not, and the warning says so);
int8 conversion time <= 2x float32.

    python scripts/bench_size.py [--steps 200] [--hidden 128]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import lstm_graph

from graphport.commands.tflite import convert_tflite
from graphport.convert.calibration import load_calibration
from graphport.convert.converter import convert
from graphport.convert.source import source_model
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        model = Path(scratch) / "lstm.pb"
        model.write_bytes(lstm_graph(args.steps, args.hidden).SerializeToString())
        with source_model(model, GraphSpec()) as source:
            started = time.perf_counter()
            raw_float = convert(source, "float32")
            float_s = time.perf_counter() - started
            calibration = load_calibration(CalibrationSpec("random", 8), source.inputs)
            started = time.perf_counter()
            raw_int8 = convert(source, "int8", calibration=calibration)
            int8_s = time.perf_counter() - started
        ours = {mode: convert_tflite(model, Path(scratch) / f"{mode}.tflite", mode,
                                     calibration=CalibrationSpec("random", 8) if mode == "int8"
                                     else None, verify=VerifySpec(enabled=False),
                                     size_ratio=False).size_bytes
                for mode in ("float32", "int8")}
    print(f"2-layer LSTM, {args.steps} steps, {args.hidden} units")
    print(f"{'':24} {'float32':>10} {'int8':>10} {'int8/float':>10}")
    print(f"{'TensorFlow converter':24} {len(raw_float):10,} {len(raw_int8):10,} "
          f"{len(raw_int8) / len(raw_float):10.2f}")
    print(f"{'graphport':24} {ours['float32']:10,} {ours['int8']:10,} "
          f"{ours['int8'] / ours['float32']:10.2f}")
    print(f"conversion: float32 {float_s:.1f} s, int8 {int8_s:.1f} s "
          f"({int8_s / float_s:.2f}x; target <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
