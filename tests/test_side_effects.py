"""Default-deny: a graph whose ops have side effects is never run without --allow-unsafe-ops,
by any command, and inspect names what they would touch (issue 26, item 1).

The payload graphs are written by TensorFlow's own producing code (tf.print to a file, a
DebugIdentity with debug_urls, decode_proto with a descriptor file, a summary writer, a text-file
lookup table, ImmutableConst, a tf.data TFRecord writer), each wired into the output as a
control dependency so running the output runs the payload. Every check looks at the disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, run_cli

from graphport.graph.op_registry import op_list
from graphport.graph.side_effects import HARMLESS_STATEFUL, find_unsafe_ops

PAYLOADS = ("print_file", "debug_urls", "decode_proto", "summary_writer", "text_table",
            "immutable_const", "dataset_write")


def _payload_builders(victim: Path) -> dict[str, Callable[[Any], Any]]:
    import tensorflow as tf

    def table(_: Any) -> Any:
        init = tf.lookup.TextFileInitializer(
            str(victim / "vocab.txt"), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
        return tf.lookup.StaticHashTable(init, -1).lookup(tf.constant(["a"]))

    def summary(x: Any) -> Any:
        writer = tf.compat.v2.summary.create_file_writer(str(victim / "logs"))
        with writer.as_default():
            return tf.group(writer.init(), tf.compat.v2.summary.write(
                "x", tf.reduce_sum(x), step=0), writer.flush())

    def records(_: Any) -> Any:
        data = tf.data.Dataset.from_tensors(tf.constant(b"payload"))
        return tf.data.experimental.TFRecordWriter(str(victim / "written.tfrecord")).write(data)

    return {
        "print_file": lambda x: tf.print("payload", x,
                                         output_stream=f"file://{victim}/printed.txt"),
        "debug_urls": lambda x: tf.raw_ops.DebugIdentity(
            input=x, debug_urls=[f"file://{victim}/debug"]),
        "decode_proto": lambda _: tf.io.decode_proto(
            tf.constant([b""]), "tensorflow.Example", ["features"], [tf.string],
            descriptor_source=str(victim / "descriptor.bin")).values[0],
        "summary_writer": summary,
        "text_table": table,
        "immutable_const": lambda _: tf.raw_ops.ImmutableConst(
            dtype=tf.float32, shape=[4], memory_region_name=str(victim / "weights.bin")),
        "dataset_write": records,
    }


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(graphs folder, victim folder): one frozen graph per payload, y = 2x depending on it."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("payloads")
    graphs, victim = root / "graphs", root / "victim"
    graphs.mkdir()
    victim.mkdir()
    for name, payload in _payload_builders(victim).items():
        graph = tf.Graph()
        with graph.as_default():
            x = tf.compat.v1.placeholder(tf.float32, [1, 4], name="x")
            with tf.control_dependencies([payload(x)]):
                tf.identity(x * 2.0, name="y")
        (graphs / f"{name}.pb").write_bytes(graph.as_graph_def().SerializeToString())
    return graphs, victim


def _untouched(victim: Path) -> None:
    assert sorted(p.name for p in victim.iterdir()) == [], "a payload touched the disk"


def test_every_stateful_op_is_refused_unless_reviewed() -> None:
    """The policy is default-deny over TensorFlow's own registry, not a list of bad ops."""
    from graphport.graph.side_effects import _kind

    class Node:
        def __init__(self, op: str) -> None:
            self.op, self.name, self.attr, self.input = op, op, {}, []

    for op, info in op_list().items():
        if info.stateful and op not in HARMLESS_STATEFUL and op != "PrintV2":
            assert _kind(Node(op)) is not None, op
    assert _kind(Node("PrintV2")) is None  # to stderr: the console only
    assert _kind(Node("Conv2D")) is None and _kind(Node("RandomUniform")) is None


def test_committed_fixtures_hold_no_unexpected_side_effects() -> None:
    """The reviewed list lets ordinary graphs through: only the two fixtures built to be
    refused are."""
    from graphport.graph.load import read_graph_def

    refused = {p.name for p in FIXTURES.glob("*.pb") if find_unsafe_ops(read_graph_def(p))}
    assert refused == {"unsafe_writefile.pb", "input_pipeline.pb"}


@pytest.mark.tf
def test_inspect_names_what_each_payload_touches(payloads: tuple[Path, Path]) -> None:
    from graphport import inspect_model

    graphs, victim = payloads
    for name in PAYLOADS:
        report = inspect_model(graphs / f"{name}.pb")
        unsafe = report["unsafe_ops"]
        assert unsafe, name
        assert any(str(victim) in u["names"] for u in unsafe), (name, unsafe)
        finding = next(w for w in report["warnings"] if w["code"] == "unsafe_ops")
        assert str(victim) in finding["message"], name
    _untouched(victim)


@pytest.mark.tf
def test_no_command_runs_a_payload(payloads: tuple[Path, Path], tmp_path: Path) -> None:
    from graphport import compare_variants, convert_tflite, run_model, to_savedmodel
    from graphport.errors import UserError

    graphs, victim = payloads
    for name in PAYLOADS:
        graph = graphs / f"{name}.pb"
        for call, args in ((to_savedmodel, (graph, tmp_path / f"{name}_sm")),
                           (convert_tflite, (graph, tmp_path / f"{name}.tflite")),
                           (run_model, (graph, {"x": [[1.0, 2.0, 3.0, 4.0]]})),
                           (compare_variants, (graph, ["float"], tmp_path / f"{name}_cmp"))):
            with pytest.raises(UserError, match="side effects"):
                call(*args)
    _untouched(victim)
    assert sorted(tmp_path.iterdir()) == []


@pytest.mark.tf
def test_cli_refuses_the_print_payload_everywhere(payloads: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    graphs, victim = payloads
    graph = graphs / "print_file.pb"
    for command in (["to-savedmodel", graph, "-o", "sm"], ["tflite", graph, "-o", "m.tflite"],
                    ["run", graph, "--input", "x=1,2,3,4"], ["compare", graph, "-o", "cmp"]):
        result = run_cli(*command, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "printed.txt" in result.stderr and "--allow-unsafe-ops" in result.stderr
    migrated = run_cli("migrate", graphs, "-o", tmp_path / "out", "--modes", "float32",
                       cwd=tmp_path)
    assert migrated.returncode == 1
    _untouched(victim)
    assert not list(tmp_path.rglob("*.tflite")) and not (tmp_path / "sm").exists()
    # The payload is real: allowed, the same graph writes its file.
    allowed = run_cli("run", graph, "--input", "x=1,2,3,4", "--allow-unsafe-ops", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert (victim / "printed.txt").read_text().startswith("payload")
    (victim / "printed.txt").unlink()


@pytest.mark.tf
def test_a_queue_fed_graph_stops_at_once_and_its_hint_works(tmp_path: Path) -> None:
    """issue 28, item 2: never run an op that waits on a queue; the hint is the cut, and the
    cut works (no --select-ops suggestion, no temporary folder left)."""
    graph = FIXTURES / "input_pipeline.pb"
    for command in (["to-savedmodel", graph, "-o", "sm"], ["tflite", graph, "-o", "m.tflite"],
                    ["run", graph], ["tflite", graph, "--allow-unsafe-ops", "-o", "m.tflite"]):
        result = run_cli(*command, cwd=tmp_path, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "would wait for ever" in result.stderr and "--select-ops" not in result.stderr
        hint = result.stderr.split("hint: ", 1)[1].strip()
        assert hint == "cut the pipeline off: --inputs batch:0"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    cut = run_cli("to-savedmodel", graph, "-o", "sm", "--inputs", "batch:0", cwd=tmp_path)
    assert cut.returncode == 0, cut.stderr
    assert "verdict: match" in cut.stdout
