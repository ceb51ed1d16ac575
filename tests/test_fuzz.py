"""Fuzz `inspect` with mutated graphs: it must end with a result or a clean UserError, never an
unhandled exception or a hang. A bounded run here; scripts/fuzz.py runs longer."""

from __future__ import annotations

import tempfile
from pathlib import Path

from conftest import FIXTURES, malformed_graphs, memory_bound
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphport import fuzzing

SEEDS = [(FIXTURES / name).read_bytes() for name in ("pyramid.pb", "cond_training.pb",
                                                     "input_pipeline.pb")]
with tempfile.TemporaryDirectory() as _tmp:  # cycle, dangling input, missing attr, huge constant
    SEEDS += [path.read_bytes() for path, _ in malformed_graphs(Path(_tmp)).values()]
mutation = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.integers(0, 10**7), min_size=1, max_size=8)),
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("splice"), st.tuples(st.integers(0, 10**6), st.integers(1, 64),
                                           st.integers(0, 10**6))),
)


def _apply(data: bytes, kind: str, args: object) -> bytes:
    if kind == "flip":
        return fuzzing.flip_bits(data, args)
    if kind == "truncate":
        return fuzzing.truncate(data, args)
    return fuzzing.splice(data, *args)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(SEEDS))), mutations=st.lists(mutation, min_size=1,
                                                                     max_size=3))
def test_inspect_and_export_checks_never_crash_on_mutated_graphs(seed: int, mutations: list
                                                                 ) -> None:
    """inspect, and the exporters' TensorFlow-free front end, within a memory bound: a huge
    declared shape that slipped through would fail here instead of swapping."""
    data = SEEDS[seed]
    for kind, args in mutations:
        data = _apply(data, kind, args)
    with tempfile.TemporaryDirectory() as tmp, memory_bound(2 << 30):
        path = Path(tmp) / "mutated.pb"
        path.write_bytes(data)
        assert fuzzing.inspect_outcome(path) in ("ok", "clean error")
        assert fuzzing.prepare_outcome(path) in ("ok", "clean error")


def test_malformed_seeds_are_refused_by_name() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for path, _node in malformed_graphs(Path(tmp)).values():
            assert fuzzing.inspect_outcome(path) == "ok"  # reported as findings
            assert fuzzing.prepare_outcome(path) == "clean error"


def test_mutations_do_change_the_bytes() -> None:
    data = SEEDS[0]
    assert fuzzing.flip_bits(data, [3]) != data
    assert len(fuzzing.truncate(data, 0.5)) == len(data) // 2
    assert fuzzing.splice(data, 0, 16, 100) != data
