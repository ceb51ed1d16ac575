"""Shared paths and helpers. ../shared/graphs/mtcnn.pb is always present in CI: tests that need
it fail there if it is missing, and skip only on a developer machine without it.

Tests that run TensorFlow or LiteRT carry the ``tf`` mark; the rest form the fast tier
(``scripts/test --fast``), and a test left unmarked that imports TensorFlow fails."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SHARED = ROOT.parent / "shared" / "graphs"
MTCNN = SHARED / "mtcnn.pb"
FACES = SHARED / "faces.png"
SSD = SHARED / "ssd_mobilenet_aiy_256.pb"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def _fast_tier_stays_tensorflow_free(request: pytest.FixtureRequest) -> object:
    """An unmarked test must not import TensorFlow (checked when it was not loaded before)."""
    loaded_before = "tensorflow" in sys.modules
    yield
    if not loaded_before and request.node.get_closest_marker("tf") is None:
        assert "tensorflow" not in sys.modules, \
            f"{request.node.nodeid} imports TensorFlow: mark it @pytest.mark.tf"


def shared_file(path: Path) -> Path:
    """A file from ../shared/graphs: a failure in CI (where it is always there), a skip on a
    developer machine without it."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing in CI")
        pytest.skip(f"{path} not present on this machine")
    return path


@pytest.fixture(scope="session")
def mtcnn() -> Path:
    return shared_file(MTCNN)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300,
            memory: int | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess, as a user would; ``memory`` bounds
    its address space, so a memory blow-up fails instead of swapping; ``env`` adds variables."""
    return subprocess.run([sys.executable, "-m", "graphport", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          preexec_fn=limited_memory(memory) if memory else None,
                          env={**os.environ, **env} if env else None)


@pytest.fixture(scope="session")
def ssd() -> Path:
    return shared_file(SSD)


@pytest.fixture(scope="session")
def faces_bgr() -> object:
    """faces.png decoded as the MTCNN README says: 3 channels, reversed to BGR, float32."""
    import numpy as np

    from graphport.backend.runtime import tensorflow

    tf = tensorflow()
    image = tf.io.decode_png(shared_file(FACES).read_bytes(), channels=3).numpy()
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


def freeze_v1(graph: Any, fetches: list[str]) -> Any:
    """A TF1 graph's variables initialized and frozen into constants, as freeze_graph did,
    as graphport's GraphDef."""
    import tensorflow as tf

    from graphport.graph.schema import GraphDef

    v1 = tf.compat.v1
    with v1.Session(graph=graph) as session:
        session.run(v1.global_variables_initializer())
        frozen = v1.graph_util.convert_variables_to_constants(session, graph.as_graph_def(),
                                                              fetches)
    return GraphDef.FromString(frozen.SerializeToString())


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


@contextmanager
def memory_bound(extra: int = 2 << 30) -> Iterator[None]:
    """Let this process map at most ``extra`` more bytes while the block runs, so a test of a
    memory blow-up fails with MemoryError instead of swapping the machine."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    limit = pages * resource.getpagesize() + extra
    previous = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit, previous[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, previous)


def limited_memory(limit: int) -> Callable[[], None]:
    """A preexec_fn for subprocesses: at most ``limit`` bytes of address space."""
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def malformed_graphs(directory: Path) -> dict[str, tuple[Path, str]]:
    """Small graphs TensorFlow would refuse, built without it: name -> (file, node to name)."""
    from graphport.graph.edit import add_node
    from graphport.graph.schema import GraphDef

    def base() -> Any:
        graph = GraphDef()
        graph.versions.producer = 27
        add_node(graph, "x", "Placeholder", types={"dtype": "float"})
        return graph

    cycle = base()
    add_node(cycle, "a", "Add", ["x", "b"], types={"T": "float"})
    add_node(cycle, "b", "Relu", ["a"], types={"T": "float"})
    add_node(cycle, "y", "Identity", ["b"], types={"T": "float"})
    dangling = base()
    add_node(dangling, "y", "Add", ["x", "nowhere:0"], types={"T": "float"})
    missing = base()
    add_node(missing, "w", "Placeholder")  # no dtype
    add_node(missing, "y", "Add", ["x", "w"], types={"T": "float"})
    huge = base()
    const = add_node(huge, "splat", "Const", types={"dtype": "float"})
    tensor = const.attr["value"].tensor
    tensor.dtype = 1
    for size in (100000, 100000, 100):
        tensor.tensor_shape.dim.add(size=size)
    tensor.float_val.append(1.0)
    add_node(huge, "y", "Add", ["x", "splat"], types={"T": "float"})
    directory.mkdir(parents=True, exist_ok=True)
    found = {}
    for name, graph, node in (("cycle", cycle, "a"), ("dangling", dangling, "y"),
                              ("missing_attr", missing, "w"), ("huge_constant", huge, "splat")):
        path = directory / f"{name}.pb"
        path.write_bytes(graph.SerializeToString())
        found[name] = (path, node)
    return found
