"""What a converted model is checked on: the reference samples parity runs on, and the
labelled ``--eval`` data with the accuracy of source and TFLite on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphport.convert.calibration import Calibration
from graphport.convert.source import SourceModel
from graphport.errors import UserError
from graphport.spec import values as vals
from graphport.verify.samples import sample_inputs


def reference_samples(source: SourceModel, calibration: Calibration | None, count: int,
                      given: dict[str, str] | None = None, bgr: bool = False
                      ) -> tuple[list[dict[str, np.ndarray]], str]:
    """Inputs to compare source and TFLite on: the user's --sample for every input, else real
    calibration data when there is some (an image folder's samples carry the --sample values
    of the other inputs), else the given values with the rest generated, else seeded random
    data (which may exercise little of a detector)."""
    covered = given and all(given.get(t.key) or given.get(t.source.split(":")[0])
                            for t in source.inputs)
    real = calibration is not None and not calibration.is_random
    if given and (covered or not real):
        sample, notes = sample_inputs(source.inputs, given, bgr=bgr)
        generated = f"; generated: {'; '.join(notes)}" if notes else ""
        return [sample], f"the given sample{generated}"
    if calibration is not None and not calibration.is_random:
        used = min(count, len(calibration.samples))
        return calibration.samples[:count], f"{used} calibration sample{'' if used == 1 else 's'}"
    samples = [sample_inputs(source.inputs, seed=seed, count=count)[0] for seed in range(count)]
    shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in samples[0].items())
    return samples, f"{count} generated samples (random, seeds 0..{count - 1}: {shapes})"


def _batches(x: np.ndarray, source: SourceModel, batch: int = 64) -> list[np.ndarray]:
    shape = source.inputs[0].shape
    if shape and shape[0] > 0:  # a fixed batch size (often 1): only whole batches fit
        return [x[i:i + shape[0]] for i in range(0, len(x) - shape[0] + 1, shape[0])]
    return [x[i:i + batch] for i in range(0, len(x), batch)]


def _stacked(x: np.ndarray, source: SourceModel, eval_file: Path) -> np.ndarray:
    """``x`` as rows along the model's batch axis: the rows themselves, or (as ``--calib``
    takes them) a stack of whole inputs of batch 1, which are joined."""
    shape = source.inputs[0].shape
    if shape is None or not shape:
        return x
    if x.ndim == len(shape) and vals.shape_fits((1, *x.shape[1:]), shape):
        return x
    if x.ndim == len(shape) + 1 and x.shape[1] == 1 and vals.shape_fits(x.shape[1:], shape):
        return x[:, 0]
    raise UserError(f"--eval {eval_file}: x has shape {list(x.shape)}, which is not a stack "
                    f"of inputs of shape {vals.format_shape(shape)}",
                    "stack the samples along the first axis (N, ...)")


@dataclass
class EvalData:
    """The ``--eval`` data, loaded once: batches keyed by the model's input, and their labels.
    The source's outputs on them are computed on first use and kept, since the accuracy check
    and auto-tuning both compare against them."""

    samples: list[dict[str, np.ndarray]]
    labels: np.ndarray
    _reference: list[dict[str, np.ndarray]] | None = field(default=None, repr=False)

    def source_outputs(self, source: SourceModel) -> list[dict[str, np.ndarray]]:
        if self._reference is None:
            self._reference = source.run(self.samples)
        return self._reference


def load_eval(eval_file: Path, source: SourceModel) -> EvalData:
    """The labelled data of ``--eval`` (arrays ``x``, ``y``) in batches the model accepts."""
    try:
        with np.load(eval_file, allow_pickle=False) as data:
            x, y = data["x"], data["y"]
    except KeyError:
        raise UserError(f"--eval {eval_file}: needs arrays 'x' and 'y'") from None
    except Exception as error:
        raise UserError(f"--eval {eval_file}: not a readable .npz ({type(error).__name__})"
                        ) from None
    if len(source.inputs) != 1:
        raise UserError("--eval works on single-input models")
    batches = _batches(_stacked(x, source, eval_file).astype(np.float32), source)
    if not batches:
        raise UserError(f"--eval {eval_file}: fewer samples than the model's batch size")
    return EvalData([{source.inputs[0].key: b} for b in batches], y)


def evaluate(data: EvalData, source: SourceModel, runner: Any) -> dict[str, Any]:
    """Accuracy of source and TFLite on labelled data (``x``, ``y``), like the seed's eval_model."""
    reference = data.source_outputs(source)
    converted = [runner(s) for s in data.samples]
    output = next(iter(reference[0]))
    sizes = [len(next(iter(s.values()))) for s in data.samples]
    labels = data.labels[: sum(sizes)]
    ref_pred = np.concatenate([np.asarray(r[output]).reshape(n, -1).argmax(1)
                               for r, n in zip(reference, sizes, strict=True)])
    got_pred = np.concatenate([np.asarray(c[output]).reshape(n, -1).argmax(1)
                               for c, n in zip(converted, sizes, strict=True)])
    return {"samples": len(labels), "output": output,
            "source_accuracy": float(np.mean(ref_pred == labels)),
            "tflite_accuracy": float(np.mean(got_pred == labels)),
            "top1_agreement": float(np.mean(ref_pred == got_pred))}


def quant_samples(source: SourceModel, calibration: Calibration, eval_data: EvalData | None
                  ) -> tuple[list[dict[str, np.ndarray]], str,
                             Callable[[], list[dict[str, np.ndarray]]]]:
    """What layer errors and auto-tuning are measured on: the --eval data when given (held out
    from calibration), else the calibration samples; and how to get the source's outputs."""
    if eval_data is not None:
        count = sum(len(next(iter(s.values()))) for s in eval_data.samples)
        return (eval_data.samples, f"{count} --eval samples",
                lambda: eval_data.source_outputs(source))
    return (calibration.samples, f"{len(calibration.samples)} calibration samples",
            lambda: source.run(calibration.samples))
