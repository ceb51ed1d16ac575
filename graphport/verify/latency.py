"""Inference latency: warm-up runs, then median and p90 of timed runs, one sample at a time."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Latency:
    median_ms: float
    p90_ms: float
    mean_ms: float
    runs: int
    warmup: int


def measure(call: Callable[[], Any], runs: int = 50, warmup: int = 5) -> Latency:
    """Time ``call`` ``runs`` times after ``warmup`` untimed calls."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return Latency(statistics.median(times), float(np.percentile(times, 90)),
                   statistics.fmean(times), runs, warmup)


def tflite_inputs(runner: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """A random sample for a TFLite model from its own input details (unknown dims -> 1)."""
    rng = np.random.default_rng(seed)
    sample = {}
    for key, detail in runner.input_details.items():
        shape = [d if d > 0 else 1 for d in detail["shape_signature"]]
        dtype = np.dtype(detail["dtype"])
        if dtype.kind == "f":
            sample[key] = rng.random(shape).astype(dtype)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            sample[key] = rng.integers(max(info.min, -128), min(info.max, 127) + 1,
                                       shape).astype(dtype)
        else:
            sample[key] = np.zeros(shape, dtype)
    return sample
