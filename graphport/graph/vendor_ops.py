"""Vendor ops stock TensorFlow does not know, read as the stock ops they compute.

Xilinx Vitis AI's ``decent_q`` writes a ``FixNeuron`` after every quantized tensor: with
``step = 2^-quantize_pos`` it computes ``clip(round(x / step) * step, -2^(b-1) step,
(2^(b-1) - 1) step)`` for ``b = bit_width`` (Vitis AI's fix_neuron kernel, evaluation phase).
That is ``FakeQuantWithMinMaxArgs(min = -2^(b-1) step, max = (2^(b-1) - 1) step, num_bits=b)``:
its scale is exactly ``step`` and its zero point exactly ``2^(b-1)``, so nothing is nudged.
Rounding: FakeQuant rounds halves up, as the kernel does for activations (its "DPU round",
``mode`` 1): bit-exact up to 8 bits (tests/test_fix_neuron.py); at 16 bits FakeQuant's float32
shift by ``min`` puts a value within float32 rounding of a half step one step off (2 in
136,072 measured). For weights the kernel rounds halves away from zero, so a weight exactly at
a negative half step lands one step higher here.
The graph then is a quantization-aware-trained graph like any other.
"""

from __future__ import annotations

from typing import Any

FIX_NEURON = "FixNeuron"


def fix_neuron_range(node: Any) -> tuple[float, float, int]:
    """(min, max, bits) of the FakeQuant equivalent of a FixNeuron."""
    bits = node.attr["bit_width"].i if "bit_width" in node.attr else 8
    step = 2.0 ** -node.attr["quantize_pos"].i
    return -(2 ** (bits - 1)) * step, (2 ** (bits - 1) - 1) * step, bits


def translate_vendor_ops(graph: Any) -> list[str]:
    """Rewrite every FixNeuron in place (same name); the notes saying so."""
    count = 0
    for node in graph.node:
        if node.op != FIX_NEURON or "quantize_pos" not in node.attr:
            continue
        low, high, bits = fix_neuron_range(node)
        data = [i for i in node.input if not i.startswith("^")][:1]
        controls = [i for i in node.input if i.startswith("^")]
        node.op = "FakeQuantWithMinMaxArgs"
        del node.input[:]
        node.input.extend([*data, *controls])
        node.ClearField("attr")
        node.attr["min"].f = low
        node.attr["max"].f = high
        node.attr["num_bits"].i = bits
        node.attr["narrow_range"].b = False
        count += 1
    if not count:
        return []
    return [f"{count} Vitis AI FixNeuron node{'s' * (count > 1)} read as "
            "FakeQuantWithMinMaxArgs (power-of-two scales 2^-quantize_pos; TensorFlow has no "
            "FixNeuron, so verification runs the graph read this way)"]
