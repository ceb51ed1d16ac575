"""Shared paths and helpers. ../shared/graphs/mtcnn.pb is always present in CI: tests that need
it fail there if it is missing, and skip only on a developer machine without it.

Tests that run TensorFlow or LiteRT carry the ``tf`` mark; the rest form the fast tier
(``scripts/test --fast``), and a test left unmarked that imports TensorFlow fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SHARED = ROOT.parent / "shared" / "graphs"
MTCNN = SHARED / "mtcnn.pb"
FACES = SHARED / "faces.png"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def _fast_tier_stays_tensorflow_free(request: pytest.FixtureRequest) -> object:
    """An unmarked test must not import TensorFlow (checked when it was not loaded before)."""
    loaded_before = "tensorflow" in sys.modules
    yield
    if not loaded_before and request.node.get_closest_marker("tf") is None:
        assert "tensorflow" not in sys.modules, \
            f"{request.node.nodeid} imports TensorFlow: mark it @pytest.mark.tf"


def _shared_file(path: Path) -> Path:
    """A file from ../shared/graphs: a failure in CI (where it is always there), a skip on a
    developer machine without it."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing in CI")
        pytest.skip(f"{path} not present on this machine")
    return path


@pytest.fixture(scope="session")
def mtcnn() -> Path:
    return _shared_file(MTCNN)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300
            ) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "graphport", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="session")
def faces_bgr() -> object:
    """faces.png decoded as the MTCNN README says: 3 channels, reversed to BGR, float32."""
    import numpy as np

    from graphport.backend.runtime import tensorflow

    tf = tensorflow()
    image = tf.io.decode_png(_shared_file(FACES).read_bytes(), channels=3).numpy()
    return image[..., ::-1].astype(np.float32)


def readme_table(section: str, columns: int) -> list[list[float]]:
    """The numeric rows of the first table under the ``## {section}`` heading of
    ../shared/graphs/README.md (other sections hold other models' tables)."""
    text = (SHARED / "README.md").read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    rows = []
    for line in text[start:end if end >= 0 else None].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == columns and cells[0].isdigit():
            rows.append([float(c) for c in cells[1:]])
    return rows


def reference_faces() -> list[list[float]]:
    """MTCNN's reference table in ../shared/graphs/README.md: rows of prob, y1, x1, y2, x2."""
    return readme_table("faces.png", 6)


@pytest.fixture(scope="session")
def digits_savedmodel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits fixture wrapped by graphport (verified), shared by several tests."""
    from graphport.commands.to_savedmodel import to_savedmodel

    target = tmp_path_factory.mktemp("sm") / "digits"
    to_savedmodel(FIXTURES / "digits_cnn.pb", target)
    return target


@pytest.fixture(scope="session")
def digits_tflite(digits_savedmodel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A float TFLite model converted by TensorFlow's own converter, for reading tests."""
    from graphport.backend.runtime import tensorflow

    tf = tensorflow()
    path = tmp_path_factory.mktemp("tfl") / "digits.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(digits_savedmodel)).convert())
    return path
