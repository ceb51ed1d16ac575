"""Benchmark: size and LiteRT latency of unrolled LSTMs, unrolled (what TensorFlow's converter
and graphport before re-rolling give) against re-rolled (graphport's default), side by side in
one run.

Graphs written by TensorFlow's own static_rnn (scripts/make_fixtures.py):
- the HAR tutorial model of 2017 (har_graph): a dense 3->64 ReLU layer, two stacked
  BasicLSTMCells of 64 units over 200 steps, 6 classes, open batch (issue 27's real shapes);
  re-rolled into fused LSTMs (reroll_lstm);
- the same with GRUCells, re-rolled into a while loop (reroll_loop), since no fused op computes
  them, and with LSTMCells with peepholes and a projection, fused (reroll_lstm, the peepholes
  added after conversion: convert/lstm_peepholes.py);
- a 2-layer LSTM of 128 units over 200 steps (lstm_graph; issue 19's benchmark).
Targets (issue 27): int8 / float32 size <= 0.3 and latency >= 3x better than the unrolled float32
model. Latency: LiteRT, one thread, the best of 5 rounds of 20 calls, the state reset between
calls as the app must.

    python scripts/bench_size.py [--rounds 5] [--graphs har,har-gru,har-peephole,lstm128]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import har_graph, lstm_graph

from graphport.commands.tflite import convert_tflite
from graphport.passes.pipeline import DEFAULT_PIPELINE
from graphport.spec.options import CalibrationSpec, GraphSpec, VerifySpec

# graphport before issue 27
UNROLLED = [p for p in DEFAULT_PIPELINE if p not in ("reroll_lstm", "reroll_loop")]


def latency_ms(model: Path, shape: tuple[int, ...], rounds: int) -> float:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model), num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(20):
            interpreter.set_tensor(index, x)
            interpreter.invoke()
            interpreter.reset_all_variables()
        best = min(best, (time.perf_counter() - started) / 20)
    return best * 1000


def measure(name: str, graph: Any, shape: tuple[int, ...], scratch: Path, rounds: int) -> None:
    model = scratch / f"{name}.pb"
    model.write_bytes(graph.SerializeToString())
    rows: list[tuple[Any, ...]] = []
    for label, passes in (("unrolled (before)", UNROLLED), ("re-rolled (default)", None)):
        for mode in ("float32", "dynamic", "int8"):
            out = scratch / f"{name}-{len(rows)}.tflite"
            started = time.perf_counter()
            result = convert_tflite(
                model, out, mode, graph=GraphSpec(passes=passes),
                calibration=CalibrationSpec("random", 16) if mode == "int8" else None,
                verify=VerifySpec(count=4), size_ratio=False)
            seconds = time.perf_counter() - started
            rows.append((label, mode, result.size_bytes, latency_ms(out, shape, rounds),
                         seconds, result.parity.get("verdict"),
                         result.summary["operators"]))
    base_size, base_ms = rows[0][2], rows[0][3]
    print(f"\n{name}: input {list(shape)}")
    print(f"{'':20} {'mode':8} {'ops':>5} {'bytes':>10} {'/float':>7} {'ms':>8} "
          f"{'speed-up':>8} {'convert':>8}  verdict")
    for label, mode, size, ms, seconds, verdict, ops in rows:
        print(f"{label:20} {mode:8} {ops:5,} {size:10,} {size / base_size:7.3f} {ms:8.3f} "
              f"{base_ms / ms:7.2f}x {seconds:7.1f}s  {verdict}")
    rolled_float = next(r for r in rows if r[0].startswith("re-") and r[1] == "float32")
    rolled_int8 = next(r for r in rows if r[0].startswith("re-") and r[1] == "int8")
    print(f"re-rolled int8 / re-rolled float32 size: {rolled_int8[2] / rolled_float[2]:.3f} "
          f"(target <= 0.3); / unrolled float32: {rolled_int8[2] / base_size:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--graphs", default=",".join(GRAPHS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for key in args.graphs.split(","):
            title, build, shape = GRAPHS[key]
            measure(title, build(), shape, Path(scratch), args.rounds)
    return 0


GRAPHS: dict[str, tuple[str, Any, tuple[int, ...]]] = {
    "har": ("HAR LSTM, 200 steps, 2 x 64 units", har_graph, (1, 200, 3)),
    "har-gru": ("HAR GRU, 200 steps, 2 x 64 units", lambda: har_graph(cell="GRUCell"),
                (1, 200, 3)),
    "har-peephole": ("HAR LSTMCell (peepholes, projection to 32), 200 steps, 2 x 64 units",
                     lambda: har_graph(cell="LSTMCell"), (1, 200, 3)),
    "lstm128": ("2-layer LSTM, 200 steps, 128 units", lambda: lstm_graph(200, 128),
                (1, 200, 16)),
}


if __name__ == "__main__":
    sys.exit(main())
