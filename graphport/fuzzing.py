"""Mutations of valid model files for fuzzing `inspect`: bit flips, truncation, splicing.

Shared by tests/test_fuzz.py (a bounded run in CI) and scripts/fuzz.py (a long run)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from graphport.errors import UserError


def flip_bits(data: bytes, positions: list[int]) -> bytes:
    """Flip one bit at each position (taken modulo the bit length)."""
    mutable = bytearray(data)
    if not mutable:
        return data
    for position in positions:
        bit = position % (len(mutable) * 8)
        mutable[bit // 8] ^= 1 << (bit % 8)
    return bytes(mutable)


def truncate(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


def splice(data: bytes, start: int, length: int, target: int) -> bytes:
    """Copy ``data[start:start+length]`` over to ``target``: fields land inside other fields."""
    if not data:
        return data
    start %= len(data)
    target %= len(data)
    chunk = data[start:start + length]
    return data[:target] + chunk + data[target + len(chunk):]


class Hang(Exception):
    """A case ran past its time limit."""


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise Hang if the block runs longer than ``seconds`` (main thread, Unix)."""
    def on_alarm(_signum: int, _frame: object) -> None:
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def prepare_outcome(path: Path, seconds: int = 10) -> str:
    """The exporters' front end on a (mutated) graph, without TensorFlow: 'ok' or 'clean
    error'; anything else (a crash, a hang) propagates."""
    from graphport.graph.load import read_graph_def
    from graphport.spec.signature import prepare_graph

    with time_limit(seconds):
        try:
            prepare_graph(read_graph_def(path))
        except UserError:
            return "clean error"
    return "ok"


def inspect_outcome(path: Path, seconds: int = 10) -> str:
    """'ok' or 'clean error'; anything else (a crash, a hang) propagates."""
    from graphport.commands.inspect import inspect_model

    with time_limit(seconds):
        try:
            inspect_model(path)
        except UserError:
            return "clean error"
    return "ok"
