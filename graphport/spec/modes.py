"""The TFLite conversion modes, in one place: the CLI's choices, tflite, compare and migrate."""

from __future__ import annotations

from enum import Enum


class Mode(str, Enum):
    """TFLite conversion modes (float32 unless chosen). int16x8: 16-bit activations, 8-bit
    weights (TFLite's EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8)."""

    float32 = "float32"
    fp16 = "fp16"
    dynamic = "dynamic"
    int8 = "int8"
    int16x8 = "int16x8"


MODES = tuple(m.value for m in Mode)


def calibrated(mode: str) -> bool:
    """Full-integer modes: their activation ranges come from representative data."""
    return mode in (Mode.int8.value, Mode.int16x8.value)
