"""Benchmark: what an int8 model of a convolutional graph weighs against its float32 twin, part
by part, and which parts the runtime needs (issue 27, item 2), measured in one run.

Default graph: the onnx-tf face detector (scripts/make_onnx_tf_face.py writes it; it needs its
own environment). Any frozen graph with one float input of static shape works (--graph).
Both models come from the default `graphport tflite` run (int8: 8 random-normal calibration
samples). The int8 model is taken apart into: int8 weights, int32 biases, the per-channel
quantization tables of weights and of biases, the tables of activations, tensor names, the
rest (ops, tensors, offsets). Then two copies test whether the tables are waste:
- the biases' tables removed: same numbers? how many pieces XNNPACK still takes, latency;
- per-channel zero points stored once instead of per channel: does LiteRT load it?

    python scripts/bench_int8_floor.py [--graph out/bench/face_slim_onnx_tf.pb]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from graphport.commands.tflite import convert_tflite
from graphport.graph.load import read_graph_def
from graphport.graph.tensors import shape_list
from graphport.graph.tflite_model import pack_model
from graphport.spec.options import CalibrationSpec

DEFAULT = Path(__file__).resolve().parent.parent / "out" / "bench" / "face_slim_onnx_tf.pb"


def anatomy(data: bytes) -> Counter[str]:
    """Bytes of each part of a .tflite model."""
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    parts: Counter[str] = Counter()
    seen: set[int] = set()
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            buffer = model.buffers[tensor.buffer].data
            constant = buffer is not None and len(buffer) > 0
            if constant and tensor.buffer not in seen:
                seen.add(tensor.buffer)
                parts[{schema.TensorType.INT8: "int8 weights", schema.TensorType.INT32:
                       "int32 constants (biases)"}.get(tensor.type, "other constants")] += len(
                    buffer)
            parts["tensor names"] += len(tensor.name or b"")
            quant = tensor.quantization
            if quant is None:
                continue
            table = sum(np.asarray(v).nbytes for v in (quant.scale, quant.zeroPoint, quant.min,
                                                        quant.max) if v is not None)
            if not constant:
                parts["activation tables"] += table
            elif tensor.type == schema.TensorType.INT32:
                parts["bias tables (per channel)"] += table
            else:
                parts["weight tables (per channel)"] += table
    parts["rest (ops, tensors, offsets)"] = len(data) - sum(parts.values())
    return parts


def variant(data: bytes, change: str) -> bytes:
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    for tensor in model.subgraphs[0].tensors:
        quant = tensor.quantization
        if quant is None or quant.scale is None or len(quant.scale) < 2:
            continue
        if change == "bias" and tensor.type == schema.TensorType.INT32:
            tensor.quantization = None
        elif change == "zero points":
            quant.zeroPoint = np.zeros(1, np.int64)
    return pack_model(model)


def run(data: bytes, x: np.ndarray) -> tuple[np.ndarray, float, int]:
    """First output, best latency of 5 rounds of 10 calls (ms), XNNPACK pieces."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data, num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(10):
            interpreter.invoke()
        best = min(best, (time.perf_counter() - started) / 10)
    pieces = sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), best * 1e3, pieces


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=DEFAULT)
    args = parser.parse_args()
    if not args.graph.exists():
        raise SystemExit(f"error: {args.graph} not found\nhint: build it with "
                         "scripts/make_onnx_tf_face.py (see its docstring)")
    graph = read_graph_def(args.graph)
    (placeholder,) = [n for n in graph.node if n.op == "Placeholder"]
    shape = shape_list(placeholder.attr["shape"].shape)
    assert shape is not None and all(d > 0 for d in shape), shape
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as scratch:
        calib = Path(scratch) / "calib.npy"
        np.save(calib, rng.standard_normal((8, *shape[1:]), dtype=np.float32))
        sizes = {}
        for mode in ("float32", "int8"):
            result = convert_tflite(args.graph, Path(scratch) / f"{mode}.tflite", mode=mode,
                                    calibration=CalibrationSpec(calib if mode == "int8"
                                                                else None, 8))
            sizes[mode] = Path(result.path).read_bytes()
            print(f"{mode}: {len(sizes[mode]):,} bytes, {len(result.operators)} ops, verdict "
                  f"{result.parity.get('verdict')}")
    float_size, int8 = len(sizes["float32"]), sizes["int8"]
    print(f"graph: {args.graph} ({len(graph.node)} nodes)")
    print(f"int8 / float32: {len(int8) / float_size:.3f}")
    parts = anatomy(int8)
    print(f"{'part of the int8 model':32} {'bytes':>9} {'/ float32':>9}")
    for part, size in parts.most_common():
        print(f"{part:32} {size:9,} {size / float_size:9.3f}")
    needed = sum(parts[p] for p in ("int8 weights", "int32 constants (biases)",
                                    "weight tables (per channel)", "bias tables (per channel)"))
    print(f"{'weights, biases and their tables':32} {needed:9,} {needed / float_size:9.3f}")
    x = rng.standard_normal(shape, dtype=np.float32)
    reference, ms, pieces = run(int8, x)
    print(f"as converted: {ms:.2f} ms, XNNPACK runs it in {pieces} piece(s)")
    lighter = variant(int8, "bias")
    out, ms, pieces = run(lighter, x)
    print(f"bias tables removed ({len(int8) - len(lighter):,} bytes less): outputs within "
          f"{np.abs(out - reference).max():.2g}, {ms:.2f} ms, XNNPACK "
          f"takes {pieces} pieces (the convolutions it no longer takes run on the reference "
          "kernels)")
    try:
        run(variant(int8, "zero points"), x)
        print("zero points stored once: LiteRT loads it")
    except (RuntimeError, ValueError) as error:
        print(f"zero points stored once: LiteRT refuses it ({str(error).splitlines()[0][:90]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
