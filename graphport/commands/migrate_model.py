"""One model of `graphport migrate`: its summary entry, the limits it runs under, and the run
itself, in a worker process of its own (a crash, a hang or a memory blow-up stops that model
only). Shared by the local batch (commands/migrate.py) and the cluster one
(commands/migrate_cluster.py)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIGRATED, PARTIAL, FAILED, SKIPPED = "migrated", "partial", "failed", "skipped"


@dataclass
class ModelEntry:
    """One model's line in the summary."""

    model: str  # relative to the migrated folder
    kind: str
    status: str = FAILED
    verdict: str = "unverified"
    sizes: dict[str, int] = field(default_factory=dict)
    float_fallbacks: dict[str, int] = field(default_factory=dict)
    flex_ops: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    hint: str | None = None
    next_command: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    fingerprint: str = ""
    reused: bool = False  # skipped on a rerun: inputs and options unchanged
    crashed: bool = False  # the worker died or timed out: always retried
    applied: list[str] = field(default_factory=list)  # options taken from inspect
    kept_previous: bool = False  # this run did worse; the earlier outputs stay
    kept_files: list[str] = field(default_factory=list)  # the user's files left in place


@dataclass
class Limits:
    """Per model: wall time in seconds and address space in bytes (None: no limit)."""

    seconds: float | None = 1800.0
    memory: int | None = None


# --------------------------------------------------------------------------- one model

def _child_setup(limit: int | None) -> Callable[[], None]:
    """In the worker process before it starts: the memory limit, and death with its parent
    (Linux's PR_SET_PDEATHSIG): a worker whose batch or cluster worker died is not left
    running and writing."""
    def apply() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


_PR_SET_PDEATHSIG = 1


def _entry_from(result: dict[str, Any], entry: ModelEntry) -> None:
    from graphport.verify.parity import worst

    steps = result["steps"]
    entry.steps = steps
    failed = [s for s in steps if not s["ok"]]
    entry.status = MIGRATED if not failed else (
        PARTIAL if any(s["ok"] and s["step"] != "inspect" for s in steps) else FAILED)
    if failed:
        entry.error = f"{failed[0]['step']}: {failed[0]['error']}"
        entry.hint = failed[0].get("hint")
    entry.verdict = worst(list(result.get("verdicts", {}).values()))
    for mode, info in result["tflite"].items():
        entry.sizes[mode] = info["size_bytes"]
        entry.float_fallbacks[mode] = info["float_fallbacks"]
        entry.flex_ops = sorted(set(entry.flex_ops) | set(info["flex_ops"]))
    entry.next_command = result.get("next_command", entry.next_command)
    if entry.next_command and any(_repeats(entry.next_command, s["step"]) for s in failed):
        entry.next_command = None  # it would fail the same way: no try: line


def _repeats(command: str, step: str) -> bool:
    """Whether ``command`` runs what the migrate step ``step`` ran (and migrate already
    applied inspect's options), so it cannot help after that step failed."""
    verb = command.split()[1] if len(command.split()) > 1 else ""
    return {"to-savedmodel": "savedmodel", "freeze": "freeze"}.get(verb) == step or (
        verb == "tflite" and step.startswith("tflite"))


def migrate_model(job: dict[str, Any], entry: ModelEntry, limits: Limits, log: Path,
                  on_stage: Callable[[str], None],
                  live: set[subprocess.Popen[str]] | None = None) -> None:
    """Run the worker for one model and fill ``entry`` from what it said (or how it died).
    The worker has a session of its own (Ctrl-C reaches the batch, which stops it); ``live``
    holds it while it runs."""
    started = time.perf_counter()
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "graphport.commands.migrate_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True,
            preexec_fn=_child_setup(limits.memory), start_new_session=True)
        assert process.stdin is not None and process.stdout is not None
        if live is not None:
            live.add(process)
        timer = threading.Timer(limits.seconds, process.kill) if limits.seconds else None
        if timer:
            timer.start()
        try:
            process.stdin.write(json.dumps(job))
            process.stdin.close()
            result = None
            for line in process.stdout:
                message = json.loads(line) if line.startswith("{") else {}
                if "stage" in message:
                    on_stage(message["stage"])
                elif "result" in message:
                    result = message["result"]
            code = process.wait()
        finally:
            if timer:
                timer.cancel()
            if live is not None:
                live.discard(process)
    entry.seconds = round(time.perf_counter() - started, 1)
    if result is not None:
        _entry_from(result, entry)
        return
    entry.crashed = True
    if limits.seconds and entry.seconds >= limits.seconds:
        entry.error = f"stopped after the {limits.seconds:g} s time limit"
        entry.hint = "raise it with --timeout, or migrate this model alone"
    elif code < 0:
        entry.error = f"the worker died (signal {-code}) inside TensorFlow or LiteRT"
        entry.hint = f"its log: {log}"
    else:
        tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        memory = any("MemoryError" in line or "bad_alloc" in line for line in tail)
        entry.error = ("ran out of memory (limit " + f"{limits.memory / 2**30:.1f} GiB)"
                       if memory and limits.memory else
                       f"the worker failed (exit {code}): {tail[-1] if tail else 'no output'}")
        entry.hint = f"its log: {log}"


def scratch_slot(target: Path, model: str, tag: str) -> Path:
    """A fresh folder beside the model's slot in ``target`` for one run to build in."""
    slot = target / model
    slot.parent.mkdir(parents=True, exist_ok=True)
    temp = slot.with_name(f".{slot.name}.tmp-{tag}")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    return temp


def log_path(target: Path, entry: ModelEntry) -> Path:
    return target / ".logs" / f"{entry.model.replace(os.sep, '__')}.log"
