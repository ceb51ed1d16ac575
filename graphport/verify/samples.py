"""Inputs for verification runs: the user's files, or seeded random data of the right shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from graphport.errors import UserError
from graphport.spec import values as vals
from graphport.spec.signature import SignatureTensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
UNKNOWN_DIM = 64  # size given to an unknown dimension (batch dimensions get 1)
# Generated inputs may take at most this share of the memory available now (and 4 GiB), so a
# declared shape such as [100000, 784] is refused with an estimate instead of dying later.
MEMORY_SHARE = 0.25
MEMORY_CAP = 4 << 30


def concrete_shape(shape: list[int]) -> list[int]:
    """The graph shape with unknown dimensions made small."""
    return [d if d >= 0 else (1 if i == 0 and len(shape) == 4 else UNKNOWN_DIM)
            for i, d in enumerate(shape)]


def image_size(shape: list[int] | None) -> tuple[int, int] | None:
    """(height, width) of an image input whose both are known, else None."""
    if shape is None or len(shape) not in (3, 4) or any(d < 0 for d in shape[-3:-1]):
        return None
    return shape[-3], shape[-2]


def decode_image(path: Path, channels: int, size: tuple[int, int] | None, bgr: bool,
                 where: str) -> tuple[np.ndarray, tuple[int, int]]:
    """An image file as float32 0..255 [H, W, C], RGB (or BGR), resized bilinearly to ``size``
    when given, and its size as stored: the one way --sample and --calib images are read."""
    from graphport.backend.runtime import tensorflow

    tf = tensorflow()
    try:
        image = tf.io.decode_image(path.read_bytes(), channels=channels, expand_animations=False)
    except Exception as error:  # TF raises InvalidArgumentError for undecodable bytes
        raise UserError(f"{where}: {path} is not a readable image ({type(error).__name__})"
                        ) from None
    array = tf.cast(image, tf.float32)
    stored = (int(array.shape[0]), int(array.shape[1]))
    if size is not None and stored != size:
        array = tf.image.resize(array, size)
    array = array.numpy()
    return (array[..., ::-1] if bgr else array), stored


def load_value(tensor: SignatureTensor, text: str, bgr: bool, notes: list[str],
               option: str = "--sample", mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """A .npy file, an image file (``(pixels - mean) / std``), raw bytes for a string input
    (``@FILE``, or any existing file), or a literal value written as for --set."""
    where = f"{option} {tensor.key}"
    path = Path(text[1:] if text.startswith("@") and tensor.dtype == "string" else text)
    if tensor.dtype == "string":
        if not path.is_file():
            raise UserError(f"{where}: {path}: no such file",
                            "a string input takes a file's bytes: NAME=@FILE")
        if tensor.shape not in (None, []):
            raise UserError(f"{where}: a file fills a scalar string input; this one is "
                            f"{vals.format_shape(tensor.shape)}")
        return np.array(path.read_bytes(), dtype=object)
    if not path.is_file():
        if path.suffix.lower() in (*IMAGE_SUFFIXES, ".npy"):
            raise UserError(f"{where}: {path}: no such file")
        return vals.parse_value(tensor.key, text, tensor.dtype, tensor.shape, option=option)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        shape = tensor.shape
        channels = shape[-1] if shape and shape[-1] in (1, 3) else 3
        size = image_size(shape)
        array, stored = decode_image(path, channels, size, bgr, where)
        if size is not None and stored != size:
            notes.append(f"{tensor.key}: {path.name} resized to {size[0]}x{size[1]} "
                         "(bilinear, as --calib images are)")
        if (mean, std) != (0.0, 1.0):
            array = (array - mean) / std
        if shape is not None and len(shape) == 4:
            array = array[None]
        np_type: Any = np.dtype(vals.numpy_dtype(tensor.dtype))
        if np_type.kind in "iu":  # pixels for an integer input: rounded, not truncated
            info = np.iinfo(np_type)
            array = np.clip(np.round(array), info.min, info.max)
    else:
        array = vals.load_npy(path, where)
    array = array.astype(vals.numpy_dtype(tensor.dtype))
    if not vals.shape_fits(array.shape, tensor.shape):
        raise UserError(f"{where}: {path} has shape {list(array.shape)}, "
                        f"the input needs {vals.format_shape(tensor.shape)}")
    return array


def generate(tensor: SignatureTensor, rng: np.random.Generator) -> np.ndarray:
    if tensor.dtype == "string":
        raise UserError(f"input {tensor.key} is a string, so no verification sample can be "
                        "made for it", f"give one with --sample {tensor.key}=@FILE (the file's "
                        "bytes), or --no-verify")
    if tensor.shape is None and tensor.example_shape is None:
        raise UserError(f"input {tensor.key} has an unknown rank, so no verification sample can "
                        "be made for it",
                        f"give --input-shapes {tensor.key}:d0,d1,... or "
                        f"--sample {tensor.key}=FILE.npy (or --no-verify)")
    return _generate(tensor, rng)


def _generate(tensor: SignatureTensor, rng: np.random.Generator) -> np.ndarray:
    """Seeded data: floats in [0, 1), uint8 over its whole range (pixels: a detector shown
    near-black noise scores every anchor alike, ties everywhere), other integers in [0, 10),
    bools False. Scalars are knobs (sizes, factors, counts) where a random value can send a
    loop far: they get 0.5 or 1."""
    known = tensor.shape if tensor.shape is not None else tensor.example_shape
    assert known is not None  # generate() refused unknown ranks
    shape = concrete_shape(known)
    np_type = vals.numpy_dtype(tensor.dtype)
    if not shape and np.dtype(np_type).kind in "fiu":
        return np.array(0.5 if np.dtype(np_type).kind == "f" else 1, dtype=np_type)
    if np.dtype(np_type) in (np.float32, np.float64):
        return rng.random(shape, dtype=np_type)  # made in the input's dtype, not via float64
    if np.dtype(np_type).kind == "f":
        return rng.random(shape, dtype=np.float32).astype(np_type)
    if np.dtype(np_type) == np.uint8:
        return rng.integers(0, 256, shape).astype(np_type)
    if np.dtype(np_type).kind in "iu":
        return rng.integers(0, 10, shape).astype(np_type)
    return np.zeros(shape, dtype=np_type)


def _available_memory() -> int:
    """Bytes the system says are available (MemAvailable), or the cap where it does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return MEMORY_CAP * 4


def memory_budget() -> int:
    return min(MEMORY_CAP, int(_available_memory() * MEMORY_SHARE))


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_memory(tensors: list[SignatureTensor], count: int, what: str, helps: str) -> None:
    """Refuse, before allocating anything, inputs whose estimated size exceeds the budget."""
    per_sample = 0
    for tensor in tensors:
        shape = tensor.shape if tensor.shape is not None else tensor.example_shape
        if shape is None or tensor.dtype == "string":
            continue  # refused with its own message when generated
        elements = int(np.prod(concrete_shape(shape), dtype=np.float64))
        per_sample += elements * np.dtype(vals.numpy_dtype(tensor.dtype)).itemsize
    total, budget = per_sample * count, memory_budget()
    if total > budget:
        shapes = ", ".join(f"{t.key} {vals.format_shape(concrete_shape(t.shape))}"
                           for t in tensors if t.shape is not None and t.dtype != "string")
        raise UserError(f"{what} would take about {_human(total)} ({count} x {shapes}): more "
                        f"than the {_human(budget)} graphport allows itself here", helps)


def sample_inputs(inputs: list[SignatureTensor], given: dict[str, str] | None = None,
                  seed: int = 0, bgr: bool = False, count: int = 1
                  ) -> tuple[dict[str, np.ndarray], list[str]]:
    """One sample per signature input, keyed by signature key, and notes on what was generated.
    ``count``: how many such samples the caller will make (for the memory estimate)."""
    given = given or {}
    known = {t.key for t in inputs} | {t.source.split(":")[0] for t in inputs}
    for name in given:
        if name not in known:
            raise UserError(f"--sample {name}: not a signature input",
                            f"the inputs are {', '.join(t.key for t in inputs)}")
    generated = [t for t in inputs
                 if not (given.get(t.key) or given.get(t.source.split(":")[0]))]
    check_memory(generated, count, "generated verification inputs",
                 "give real inputs with --sample NAME=FILE, fewer with --parity-samples N, "
                 "smaller shapes with --input-shapes, or skip with --no-verify")
    rng = np.random.default_rng(seed)
    samples: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for tensor in inputs:
        text = given.get(tensor.key) or given.get(tensor.source.split(":")[0])
        if text:
            samples[tensor.key] = load_value(tensor, text, bgr, notes)
        else:
            samples[tensor.key] = generate(tensor, rng)
            assumed = " (its shape is unknown; only elementwise ops read it)" \
                if tensor.shape is None else ""
            notes.append(f"{tensor.key}: random {tensor.dtype} of shape "
                         f"{list(samples[tensor.key].shape)} (seed {seed}){assumed}")
    return samples, notes
