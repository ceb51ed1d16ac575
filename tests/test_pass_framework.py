"""The pass framework without TensorFlow: the registry (a pass is a module), parameters,
targets, the shared node index, node builders, the graph integrity check, and the pipeline
rolling back a pass that breaks a graph or crashes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES

from graphport.errors import UserError
from graphport.graph.edit import add_node, make_const
from graphport.graph.index import NodeIndex
from graphport.graph.integrity import check_graph
from graphport.graph.load import read_graph_def
from graphport.graph.schema import DATA_TYPES, GraphDef
from graphport.passes import pipeline
from graphport.passes.base import SAVEDMODEL, TFLITE, GraphPass, PassContext
from graphport.passes.pipeline import (
    DEFAULT_PIPELINE,
    PassCall,
    available,
    parse_call,
    resolve,
    run_pipeline,
)
from graphport.spec.names import split_names


def test_every_rewrite_module_is_one_pass_named_after_it() -> None:
    passes = available()
    assert set(DEFAULT_PIPELINE) <= set(passes)
    for name, cls in passes.items():
        assert cls.name == name == cls.__module__.rsplit(".", 1)[-1]
        assert cls.summary and cls.targets <= {SAVEDMODEL, TFLITE}


def test_parameters_are_parsed_with_their_defaults_types() -> None:
    call = parse_call("fold_constants(max_elements=100, max_input_bytes=2048)")
    assert call == PassCall("fold_constants", {"max_elements": 100, "max_input_bytes": 2048})
    assert str(call) == "fold_constants(max_elements=100, max_input_bytes=2048)"
    assert parse_call("nms_v4") == PassCall("nms_v4")
    for text, message in (("fold_constants(nope=1)", "'nope' is not a parameter"),
                          ("fold_constants(max_elements=many)", "expected int"),
                          ("fold(max_elements=1)", "unknown fold")):
        with pytest.raises(UserError, match=message):
            parse_call(text)


def test_pass_lists_split_outside_parentheses() -> None:
    assert split_names("fold_constants(max_elements=1,max_input_bytes=2),nms_v4") == \
        ["fold_constants(max_elements=1,max_input_bytes=2)", "nms_v4"]
    assert split_names("input, thresholds") == ["input", "thresholds"]
    assert split_names("") is None


def test_targets_choose_the_default_passes_and_refuse_wrong_ones() -> None:
    for_savedmodel = [c.name for c in resolve(None, SAVEDMODEL)]
    assert for_savedmodel == ["fold_constants", "strip_training_leftovers", "fold_constants"]
    assert [c.name for c in resolve(None, TFLITE)] == list(DEFAULT_PIPELINE)
    with pytest.raises(UserError, match="nms_v4 cannot be used for savedmodel"):
        resolve(["nms_v4"], SAVEDMODEL)
    assert resolve(["fold_constants(max_elements=5)"], SAVEDMODEL)[0].params == \
        {"max_elements": 5}


def _loop_graph() -> Any:
    """x -> Enter -> Merge <- NextIteration <- body; Switch on a LoopCond; Exit -> y."""
    graph = GraphDef()
    add_node(graph, "x", "Placeholder", types={"dtype": "float"})
    limit = graph.node.add(name="limit")
    make_const(limit, np.float32(3.0))
    enter = add_node(graph, "enter", "Enter", ["x"], types={"T": "float"})
    enter.attr["frame_name"].s = b"loop"
    add_node(graph, "merge", "Merge", ["enter", "next"], types={"T": "float"}, ints={"N": 2})
    limit_in = add_node(graph, "limit_in", "Enter", ["limit"], types={"T": "float"})
    limit_in.attr["frame_name"].s = b"loop"
    limit_in.attr["is_constant"].b = True
    add_node(graph, "less", "Less", ["merge", "limit_in"], types={"T": "float"})
    add_node(graph, "cond", "LoopCond", ["less"])
    add_node(graph, "switch", "Switch", ["merge", "cond"], types={"T": "float"})
    add_node(graph, "body", "Identity", ["switch:1"], types={"T": "float"})
    add_node(graph, "next", "NextIteration", ["body"], types={"T": "float"})
    add_node(graph, "exit", "Exit", ["switch"], types={"T": "float"})
    add_node(graph, "y", "Identity", ["exit"], types={"T": "float"})
    return graph


def test_node_index_and_builders() -> None:
    graph = _loop_graph()
    index = NodeIndex.of(graph)
    assert {r.node.name for r in index.readers("merge")} == {"less", "switch"}
    assert [(r.node.name, r.position, r.output) for r in index.readers("switch")] == \
        [("body", 0, 1), ("exit", 0, 0)]
    assert index.nodes["merge"].attr["T"].type == DATA_TYPES["DT_FLOAT"]
    assert index.nodes["merge"].attr["N"].i == 2


def test_integrity_check_finds_dangling_inputs_and_mixed_frames() -> None:
    assert check_graph(_loop_graph()) == []
    for name in ("pyramid.pb", "legacy_ops.pb", "cond_conv.pb"):
        assert check_graph(read_graph_def(FIXTURES / name)) == [], name
    broken = _loop_graph()
    add_node(broken, "outside", "Identity", ["x"], types={"T": "float"})
    add_node(broken, "mixed", "Add", ["body", "outside"], types={"T": "float"})  # loop + root
    add_node(broken, "lost", "Identity", ["gone:0"], types={"T": "float"})
    problems = check_graph(broken)
    assert [(p.kind, p.node) for p in problems] == [("dangling_input", "lost"),
                                                    ("mixed_frames", "mixed")]
    assert "different frames" in str(problems[1])


def test_integrity_check_on_the_real_mtcnn_graph(mtcnn: object) -> None:
    assert check_graph(read_graph_def(mtcnn)) == []


class _Dangling(GraphPass):
    """Rewires y to a node that does not exist."""

    summary = "test: breaks the graph"

    def matches(self, index: NodeIndex) -> list[Any]:
        return [index.nodes["y"]]

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        match.input[0] = "missing_node"
        return True


class _Crashing(GraphPass):
    summary = "test: raises"

    def matches(self, index: NodeIndex) -> list[Any]:
        return [index.nodes["y"]]

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        match.input[0] = "half-done"
        raise KeyError("a bug")


class _Renaming(GraphPass):
    summary = "test: a sound change"
    params = {"suffix": "_ok"}  # noqa: RUF012

    def matches(self, index: NodeIndex) -> list[Any]:
        return [index.nodes["body"]]

    def rewrite(self, graph: Any, match: Any, context: PassContext) -> bool:
        match.name += context.params["suffix"]
        NodeIndex.of(graph).nodes["next"].input[0] = match.name
        context.note(f"renamed to {match.name}")
        return True


def test_a_pass_that_breaks_the_graph_is_rolled_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "available", lambda: {
        "dangling": _Dangling, "crashing": _Crashing, "renaming": _Renaming})
    after, results = run_pipeline(_loop_graph(), [PassCall("dangling"), PassCall("crashing"),
                                          PassCall("renaming", {"suffix": "_2"})], ["y"])
    dangling, crashing, renaming = results
    assert "y: input 'missing_node' names no node" in dangling.error
    assert "KeyError" in crashing.error and "rolled back" in crashing.notes[-1]
    assert renaming.error is None and renaming.changed == 1
    assert renaming.notes == ["renamed to body_2"] and renaming.params == {"suffix": "_2"}
    names = {n.name for n in after.node}
    assert "body_2" in names and "missing_node" not in str(after) and "half-done" not in str(after)
    assert NodeIndex.of(after).nodes["y"].input[0] == "exit"
    assert check_graph(after) == []


def test_needs_repair_decides_without_tensorflow() -> None:
    legacy = read_graph_def(FIXTURES / "legacy_ops.pb")
    assert pipeline.needs_repair(legacy, resolve(None, TFLITE))
    resnet = read_graph_def(FIXTURES / "resnet_v2_small.pb")
    assert not pipeline.needs_repair(resnet, [PassCall("nms_v4"), PassCall("crop_and_resize")])
