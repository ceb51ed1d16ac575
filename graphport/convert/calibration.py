"""Representative data for full-integer quantization: an image folder, .npy/.npz arrays, or
(only when asked for by name) random data, which the report then states loudly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphport.errors import UserError
from graphport.spec import values as vals
from graphport.spec.options import CalibrationSpec
from graphport.spec.signature import SignatureTensor
from graphport.verify.samples import (
    IMAGE_SUFFIXES,
    check_memory,
    decode_image,
    image_size,
    load_value,
    sample_inputs,
)

RANDOM = "random"


@dataclass
class Calibration:
    """Samples keyed by signature input, one dict per sample, and where they came from."""

    samples: list[dict[str, np.ndarray]]
    source: str  # "images", "npy", "npz", "random"
    description: str

    @property
    def is_random(self) -> bool:
        return self.source == RANDOM


def _split_samples(key: str, array: np.ndarray, tensor: SignatureTensor, origin: str
                   ) -> list[np.ndarray]:
    """A stack of samples -> one array per sample shaped like one model input."""
    np_type = vals.numpy_dtype(tensor.dtype)
    if array.dtype.kind not in "fiub" or (np.dtype(np_type).kind in "iu"
                                           and array.dtype.kind == "f"):
        raise UserError(f"--calib {origin}: {key} holds {array.dtype}, the input is "
                        f"{tensor.dtype}")
    array = array.astype(np_type)
    shape = tensor.shape
    if shape is not None and array.ndim == len(shape) + 1 and vals.shape_fits(array.shape[1:],
                                                                                shape):
        return list(array)
    if shape is not None and array.ndim == len(shape) and len(shape) and \
            vals.shape_fits((1, *array.shape[1:]), shape):
        return [array[i:i + 1] for i in range(len(array))]
    raise UserError(f"--calib {origin}: {key} has shape {list(array.shape)}, which is not a "
                    f"stack of inputs of shape {vals.format_shape(shape)}",
                    "stack the samples along a new first axis (N, ...)")


def _from_arrays(arrays: dict[str, np.ndarray], inputs: list[SignatureTensor], origin: str,
                 limit: int) -> list[dict[str, np.ndarray]]:
    per_input = {}
    for tensor in inputs:
        key = next((k for k in (tensor.key, tensor.source.split(":")[0]) if k in arrays), None)
        if key is None:
            raise UserError(f"--calib {origin}: no array for input {tensor.key!r}",
                            f"it holds {', '.join(sorted(arrays)) or 'nothing'}")
        per_input[tensor.key] = _split_samples(key, arrays[key], tensor, origin)
    count = min(len(v) for v in per_input.values())
    if count == 0:
        raise UserError(f"--calib {origin}: no samples in it")
    return [{k: v[i] for k, v in per_input.items()} for i in range(min(count, limit))]


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as error:  # zipfile.BadZipFile, ValueError, OSError, EOFError
        raise UserError(f"--calib {path}: not a readable .npz file ({type(error).__name__})"
                        ) from None


def _image_input(inputs: list[SignatureTensor], directory: Path) -> SignatureTensor:
    """The input the images feed: the one [N,] H, W, 1|3 numeric input."""
    images = [t for t in inputs if t.shape is not None and len(t.shape) in (3, 4)
              and t.shape[-1] in (1, 3) and t.dtype not in ("string", "bool")]
    if len(images) != 1:
        raise UserError(f"--calib {directory}: an image folder calibrates one image input; the "
                        f"model has {len(images)} (of {len(inputs)} inputs)",
                        "use a .npz with one array per input")
    return images[0]


def _images(directory: Path, inputs: list[SignatureTensor], limit: int, mean: float,
            std: float, bgr: bool, given: dict[str, str]) -> list[dict[str, np.ndarray]]:
    """Each image for the image input (resized to a fixed height and width, taken at its own
    size where the model takes any); every other input from its --sample value."""
    tensor = _image_input(inputs, directory)
    others = [t for t in inputs if t is not tensor]
    missing = [t.key for t in others if not (given.get(t.key) or given.get(
        t.source.split(":")[0]))]
    if missing:
        raise UserError(f"--calib {directory}: the images feed input {tensor.key}; the "
                        f"model's other inputs need values too: {', '.join(missing)}",
                        "give each with --sample (used for calibration and verification): "
                        + " ".join(f"--sample {k}=<value>" for k in missing))
    notes: list[str] = []
    fixed = {t.key: load_value(t, given.get(t.key) or given[t.source.split(":")[0]], bgr,
                               notes) for t in others}
    shape = tensor.shape
    assert shape is not None
    size = image_size(shape)
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"--calib {directory}: no images in it ({', '.join(IMAGE_SUFFIXES)})")
    samples = []
    for path in files[:limit]:
        image, _ = decode_image(path, shape[-1], size, bgr, "--calib")
        image = ((image - mean) / std).astype(np.float32)
        samples.append({tensor.key: image[None] if len(shape) == 4 else image, **fixed})
    return samples


def _count(n: int) -> str:
    return f"{n} sample{'' if n == 1 else 's'}"


def load_calibration(spec: CalibrationSpec, inputs: list[SignatureTensor], seed: int = 0,
                     given: dict[str, str] | None = None) -> Calibration:
    """Representative samples from ``spec.data``: a folder of images, .npy, .npz, or
    'random'. ``given``: the --sample values, which feed a model's other inputs while an
    image folder feeds its image input."""
    if spec.data is None:
        raise UserError("--int8 needs calibration data: --calib DIR|FILE.npy|FILE.npz",
                        "or --calib random to calibrate on random data (not recommended)")
    limit, mean, std, bgr = spec.samples, spec.mean, spec.std, spec.bgr
    if limit < 1:
        raise UserError("--calib-samples must be at least 1")
    if spec.data == RANDOM:
        check_memory(inputs, limit, "--calib random",
                     "calibrate on fewer samples (--calib-samples N), smaller shapes "
                     "(--input-shapes), or real data")
        # The verification inputs' generator: scalars (sizes, factors) keep their safe values.
        samples = [sample_inputs(inputs, seed=seed + i)[0] for i in range(limit)]
        return Calibration(samples, RANDOM, f"RANDOM data ({limit} samples, seed {seed}): "
                                            "quantization ranges do not reflect real inputs")
    path = Path(spec.data)
    if not path.exists():
        raise UserError(f"--calib {path}: no such file or directory",
                        "pass an image folder, a .npy/.npz file, or 'random'")
    if path.is_dir():
        samples = _images(path, inputs, limit, mean, std, bgr, given or {})
        images = f"{len(samples)} image{'' if len(samples) == 1 else 's'}"
        return Calibration(samples, "images", f"{images} from {path} "
                                              f"(mean {mean}, std {std}{', BGR' if bgr else ''})")
    if path.suffix == ".npz":
        samples = _from_arrays(_load_npz(path), inputs, str(path), limit)
        return Calibration(samples, "npz", f"{_count(len(samples))} from {path}")
    if path.suffix == ".npy":
        if len(inputs) != 1:
            raise UserError(f"--calib {path}: a .npy calibrates one input, the model has "
                            f"{len(inputs)}", "use a .npz with one array per input")
        array = vals.load_npy(path, "--calib")
        samples = _from_arrays({inputs[0].key: array}, inputs, str(path), limit)
        return Calibration(samples, "npy", f"{_count(len(samples))} from {path}")
    raise UserError(f"--calib {path}: expected an image folder, .npy, .npz or 'random'")
