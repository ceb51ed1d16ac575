"""Run a .tflite model with ai-edge-litert (tf.lite.Interpreter is deprecated), through its
signature, quantizing float inputs and dequantizing integer outputs where the model has
integer I/O, so results compare with the float source directly."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from graphport.backend import compat
from graphport.backend.runtime import quiet_native
from graphport.errors import ConversionError


class NotRunnable(ConversionError):
    """The model needs ops (Flex, custom) that the Python interpreter cannot run."""


def _quantize(value: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """A real-valued input for the model: quantized with the input's own scale where it is
    integer (pixels given as uint8 are values too), else cast to its dtype."""
    dtype = detail["dtype"]
    scale, zero_point = detail["quantization"]
    if np.dtype(dtype).kind in "iu" and value.dtype.kind in "fiu" and scale:
        info = np.iinfo(dtype)
        return np.clip(np.round(value / scale + zero_point), info.min, info.max).astype(dtype)
    return value.astype(dtype)


def _dequantize(value: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if value.dtype.kind in "iu" and scale:
        return ((value.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return value


def default_threads() -> int:
    """Interpreter threads unless told: all cores."""
    return os.cpu_count() or 1


REGULAR_NMS_NOTE = (
    "LiteRT runs TFLite_Detection_PostProcess's regular (per-class) NMS wrongly on more than "
    "one thread: with T threads the class numbered T (0-based) is never reported (its worker "
    "loop starts the shared next-class counter at T and pre-increments it; measured on "
    "ai-edge-litert 2.3); graphport runs this model on one thread, and so must the app "
    "(num_threads=1), or convert with --nms fast")


STATE_NOTE = (
    "this model keeps recurrent state between calls (variable tensors of a fused sequence "
    "LSTM: LiteRT starts each call from the last call's final state): reset it before each "
    "new sequence (Python interpreter.reset_all_variables(), C++ "
    "Interpreter::ResetVariableTensors()); graphport's verification does")


def has_variable_tensors(model: bytes) -> bool:
    """Whether ``model`` holds variable tensors (state that outlives a call), read without
    unpacking it."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAs(model, 0)
    for g in range(root.SubgraphsLength()):
        graph = root.Subgraphs(g)
        if any(graph.Tensors(k).IsVariable() for k in range(graph.TensorsLength())):
            return True
    return False


def _signature_outputs(model: bytes) -> tuple[Any, dict[int, tuple[str, int]],
                                              list[tuple[str, int]]]:
    """Subgraph 0 (flatbuffer accessors), who writes each of its tensors (op name, the op's
    first input), and each signature output's (key, tensor); nothing for a model without a
    signature. Read without unpacking the model."""
    from ai_edge_litert import schema_py_generated as schema

    from graphport.graph.tflite_model import builtin_name

    root = schema.Model.GetRootAs(model, 0)
    if not root.SignatureDefsLength() or not root.SubgraphsLength():
        return None, {}, []
    graph = root.Subgraphs(0)
    made_by: dict[int, tuple[str, int]] = {}
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = root.OperatorCodes(op.OpcodeIndex())
        name = builtin_name(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        for j in range(op.OutputsLength()):
            made_by[int(op.Outputs(j))] = (name, int(op.Inputs(0)) if op.InputsLength() else -1)
    signature = root.SignatureDefs(0)
    outputs = [(signature.Outputs(j).Name().decode(), int(signature.Outputs(j).TensorIndex()))
               for j in range(signature.OutputsLength())]
    return graph, made_by, outputs


def output_steps(model: bytes) -> dict[str, float]:
    """Each signature output's quantization step (one LSB): its own scale when it is integer,
    else the scale of what its final DEQUANTIZE reads; outputs computed in float have none.
    Read without unpacking the model."""
    graph, made_by, outputs = _signature_outputs(model)

    def scale(index: int) -> float | None:
        quantization = graph.Tensors(index).Quantization()
        scales = quantization.ScaleAsNumpy() if quantization is not None and \
            quantization.ScaleLength() == 1 else None
        return float(scales[0]) if scales is not None and scales[0] > 0 else None

    steps = {}
    for key, index in outputs:
        op, source = made_by.get(index, ("", -1))
        step = scale(index) or (scale(source) if op == "DEQUANTIZE" else None)
        if step:
            steps[key] = step
    return steps


def output_producers(model: bytes) -> dict[str, str]:
    """The builtin op that computes each signature output (for an output a final DEQUANTIZE
    makes float, the op before it). Read without unpacking the model."""
    _, made_by, outputs = _signature_outputs(model)
    producers = {}
    for key, index in outputs:
        op, source = made_by.get(index, ("", -1))
        if op == "DEQUANTIZE":
            op = made_by.get(source, ("", -1))[0]
        if op:
            producers[key] = op
    return producers


def regular_nms_classes(model: bytes) -> int:
    """The classes of a regular-NMS detection op in ``model`` (0 without one), read without
    unpacking the model (cheap on large ones)."""
    from ai_edge_litert import schema_py_generated as schema
    from flatbuffers import flexbuffers

    root = schema.Model.GetRootAs(model, 0)
    codes = {i for i in range(root.OperatorCodesLength())
             if root.OperatorCodes(i).CustomCode() == b"TFLite_Detection_PostProcess"}
    if not codes:
        return 0
    for g in range(root.SubgraphsLength()):
        graph = root.Subgraphs(g)
        for k in range(graph.OperatorsLength()):
            op = graph.Operators(k)
            if op.OpcodeIndex() in codes:
                options = flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy()))
                if options.get("use_regular_nms"):
                    return int(options.get("num_classes", 0))
    return 0


class TFLiteRunner:
    """One interpreter for many calls; inputs and outputs keyed like the SavedModel signature."""

    def __init__(self, model: bytes, signature: str = "serving_default",
                 threads: int | None = None, keep_tensors: bool = False) -> None:
        """``threads`` None: every core, as TensorFlow runs the source (LiteRT alone would use
        one: 0.27 s against 0.15 s per ResNet-v2-101 sample on 2 cores). ``keep_tensors``:
        every intermediate tensor stays readable after a call (debugging); the builtin
        kernels then run without XNNPACK, whose fused nodes would not keep them."""
        import warnings

        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if keep_tensors \
            else OpResolverType.AUTO
        try:
            with warnings.catch_warnings(), quiet_native():  # keep_tensors warns (debugging)
                warnings.simplefilter("ignore", UserWarning)
                if regular_nms_classes(model) > 1:  # see REGULAR_NMS_NOTE
                    threads = 1
                self.interpreter = Interpreter(model_content=model,
                                               num_threads=threads or default_threads(),
                                               experimental_op_resolver_type=resolver,
                                               experimental_preserve_all_tensors=keep_tensors)
        except (RuntimeError, ValueError) as error:
            raise NotRunnable(f"the Python LiteRT interpreter cannot run this model: "
                              f"{str(error).splitlines()[0]}") from None
        signatures = self.interpreter.get_signature_list()
        key = signature if signature in signatures else next(iter(signatures), None)
        if key is None:
            raise NotRunnable("the model has no signature to call")
        self.runner = self.interpreter.get_signature_runner(key)
        self._stateful = has_variable_tensors(model)  # see STATE_NOTE
        self._announced = False  # LiteRT logs its XNNPACK delegate at the first call
        self.input_details = self.runner.get_input_details()
        self.output_details = self.runner.get_output_details()

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {k: _quantize(np.asarray(v), self.input_details[k]) for k, v in inputs.items()}
        try:
            if self._announced:
                out = self.runner(**feed)
            else:
                with quiet_native():
                    out = self.runner(**feed)
                self._announced = True
        except ValueError as error:
            if "Invalid tensor size" not in str(error):
                raise ConversionError(f"the TFLite model failed to run: {error}") from None
            out = self._outputs_with_empty()
        except RuntimeError as error:  # kernel log lines come first; the failure is last
            lines = [line for line in str(error).splitlines() if line.strip()]
            raise ConversionError(f"the TFLite model failed to run: "
                                  f"{lines[-1] if lines else 'unknown error'}") from None
        if self._stateful:  # the next call is a sequence of its own, as in TensorFlow
            self.interpreter.reset_all_variables()
        return {k: _dequantize(v, self.output_details[k]) for k, v in out.items()}

    def _outputs_with_empty(self) -> dict[str, np.ndarray]:
        """Outputs read one by one: LiteRT refuses to hand out a dynamic tensor with zero
        elements (no detections, say), which is a valid result, not an error."""
        subgraph = compat.runner_subgraph(self.runner)
        out = {}
        for key, detail in self.runner.get_output_details().items():
            if 0 in detail["shape"]:
                out[key] = np.zeros(detail["shape"], detail["dtype"])
            else:
                out[key] = self.interpreter.get_tensor(detail["index"], subgraph)
        return out
