"""`graphport run`: run any model graphport reads (frozen graph, SavedModel, .tflite,
checkpoint) on real inputs and show what comes out, so a converted model can be checked on the
user's own data without ten lines of session or interpreter code."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from graphport.convert.source import source_model
from graphport.errors import ConversionError, UserError, api_errors
from graphport.graph import load
from graphport.outputs import FILE, atomic_path, check_target, output_path
from graphport.progress import Progress, or_silent
from graphport.spec import values as vals
from graphport.spec.options import GraphSpec
from graphport.spec.signature import SignatureTensor
from graphport.verify.samples import load_value

InputValue = str | float | int | bool | list[Any] | np.ndarray


@dataclass
class OutputValue:
    key: str
    dtype: str
    shape: list[int]
    value: np.ndarray = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """min/max/mean of a numeric output (over its finite values), else nothing."""
        if self.value.dtype.kind not in "fiub" or self.value.size == 0:
            return {}
        finite = self.value[np.isfinite(self.value)] if self.value.dtype.kind == "f" \
            else self.value
        stats: dict[str, Any] = {"nonfinite": int(self.value.size - finite.size)}
        if finite.size:
            stats.update(min=float(finite.min()), max=float(finite.max()),
                         mean=float(finite.astype(np.float64).mean()))
        return stats

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "dtype": self.dtype, "shape": self.shape,
                "summary": self.summary(), "values": vals.plain_value(self.value)}


@dataclass
class RunResult:
    """What ran, on what, and what came out (``outputs`` hold the full arrays)."""

    model: str
    kind: str  # frozen graph, SavedModel or TFLite
    inputs: list[dict[str, Any]]
    outputs: list[OutputValue]
    notes: list[str]
    seconds: float
    written: str | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        return {o.key: o.value for o in self.outputs}

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "kind": self.kind, "inputs": self.inputs,
                "outputs": [o.to_json() for o in self.outputs], "notes": self.notes,
                "seconds": self.seconds, "written": self.written}


def _tflite_tensors(details: dict[str, dict[str, Any]]) -> list[SignatureTensor]:
    """Signature inputs of a .tflite model; -1 where the model takes any size."""
    tensors = []
    for key, detail in details.items():
        shape = [int(d) for d in detail.get("shape_signature", detail["shape"])]
        tensors.append(SignatureTensor(key, key, key, vals.dtype_name(np.dtype(detail["dtype"])),
                                       shape))
    return tensors


def _tflite_float_view(tensor: SignatureTensor, detail: dict[str, Any]) -> SignatureTensor:
    """An integer-quantized input takes real values (TFLiteRunner quantizes them)."""
    if detail["quantization"][0] and np.dtype(detail["dtype"]).kind in "iu":
        return SignatureTensor(tensor.key, tensor.tensor, tensor.source, "float", tensor.shape)
    return tensor


def _value(tensor: SignatureTensor, given: InputValue, notes: list[str], bgr: bool,
           mean: float, std: float) -> np.ndarray:
    """One input from the CLI's text (file, image, literal) or an API caller's number/array."""
    if isinstance(given, str):
        return load_value(tensor, given, bgr, notes, option="--input", mean=mean, std=std)
    try:
        array: np.ndarray = np.asarray(given, dtype=vals.numpy_dtype(tensor.dtype))
    except (TypeError, ValueError) as error:
        raise UserError(f"input {tensor.key}: {error}") from None
    if not vals.shape_fits(array.shape, tensor.shape):
        raise UserError(f"input {tensor.key}: value has shape {list(array.shape)}, the input "
                        f"needs {vals.format_shape(tensor.shape)}")
    return array


def _feeds(tensors: list[SignatureTensor], given: Mapping[str, InputValue], bgr: bool,
           mean: float, std: float) -> tuple[dict[str, np.ndarray], list[str]]:
    """Every signature input from ``given`` (by signature key or by tensor/node name)."""
    names = {t.key: t for t in tensors}
    for tensor in tensors:
        names.setdefault(tensor.source.split(":")[0], tensor)
    unknown = [name for name in given if name.split(":")[0] not in names]
    if unknown:
        raise UserError(f"--input {unknown[0]}: not an input of this model",
                        f"its inputs are {', '.join(t.key for t in tensors)}")
    chosen = {names[name.split(":")[0]].key: value for name, value in given.items()}
    missing = [t for t in tensors if t.key not in chosen]
    if missing:
        listing = ", ".join(f"{t.key} ({t.dtype} {vals.format_shape(t.shape)})" for t in missing)
        raise UserError(f"no value for input {listing}",
                        " ".join(f"--input {t.key}=..." for t in missing) +
                        " (an image, .npy, a number or a list like 0.6,0.7,0.7)")
    notes: list[str] = []
    feeds = {t.key: _value(t, chosen[t.key], notes, bgr, mean, std) for t in tensors}
    return feeds, notes


def _runner(model: Path, kind: str, spec: GraphSpec
            ) -> tuple[list[SignatureTensor], Callable[[dict[str, np.ndarray]],
                                                       dict[str, np.ndarray]], list[str]]:
    """The model's inputs, a function running it once whatever its format, and notes on how
    it was read (a checkpoint frozen on the fly)."""
    if kind == load.TFLITE:
        if spec.names_signature() or spec.passes is not None or spec.signature:
            raise UserError("--inputs/--outputs/--set/--input-shapes/--signature apply to "
                            "frozen graphs and SavedModels",
                            "a .tflite model's signature already fixes them")
        from graphport.verify.tflite_runner import TFLiteRunner

        runner = TFLiteRunner(model.read_bytes())
        tensors = [_tflite_float_view(t, runner.input_details[t.key])
                   for t in _tflite_tensors(runner.input_details)]
        return tensors, runner, []
    frozen = kind != load.SAVED_MODEL  # run never repairs a frozen graph
    with source_model(model, replace(spec, passes=[] if frozen else spec.passes)) as source:
        return source.inputs, source.runner(), source.notes


def _run_once(call: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
              feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One call; TensorFlow's errors become one clear line."""
    from graphport.backend.runtime import tensorflow
    from graphport.backend.tf_graph import error_line

    try:
        return call(feeds)
    except tensorflow().errors.OpError as error:
        raise ConversionError(f"the model failed on these inputs: {error_line(error)}",
                              "check the inputs' shapes and values against graphport inspect"
                              ) from None


@api_errors
def run_model(
    model: str | os.PathLike[str],
    inputs: Mapping[str, InputValue],
    graph: GraphSpec | None = None,
    bgr: bool = False,
    mean: float = 0.0,
    std: float = 1.0,
    output: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    """Run ``model`` once on ``inputs`` (signature key or tensor name -> an image/.npy path,
    a literal as for --set, ``@FILE`` for a string input, or a number/list/array).

    Images are resized to a fixed input, ``(pixels - mean) / std``, reversed to BGR with
    ``bgr``. ``output``: write every output to this ``.npz`` (keyed by output name)."""
    step = or_silent(progress)
    model = Path(model)
    spec = graph or GraphSpec()
    target = check_target(output_path(output, f"{model.stem}.outputs.npz", FILE), overwrite) \
        if output is not None else None
    kind = load.detect_format(model)
    step("loading the model")
    tensors, call, read_notes = _runner(model, kind, spec)
    feeds, notes = _feeds(tensors, inputs, bgr, mean, std)
    notes[:0] = read_notes
    step("running")
    started = time.perf_counter()
    results = _run_once(call, feeds)
    seconds = time.perf_counter() - started
    outputs = [OutputValue(key, vals.dtype_name(np.asarray(v).dtype), list(np.shape(v)),
                           np.asarray(v)) for key, v in results.items()]
    if target is not None:
        with atomic_path(target, overwrite, directory=False) as temp, temp.open("wb") as handle:
            np.savez(handle, **{o.key: o.value for o in outputs})  # type: ignore[arg-type]
    described = [{"key": t.key, "dtype": vals.dtype_name(feeds[t.key].dtype), "shape":
                  list(feeds[t.key].shape)} for t in tensors]
    kinds = {load.TFLITE: "TFLite", load.SAVED_MODEL: "SavedModel",
             load.CHECKPOINT: "checkpoint (frozen)"}
    return RunResult(str(model), kinds.get(kind, "frozen graph"), described, outputs, notes,
                     round(seconds, 4), str(target) if target else None)
