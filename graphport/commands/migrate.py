"""`graphport migrate`: every model under a folder to SavedModel and TFLite, verified, each in
its own process (a crash, a hang or a memory blow-up stops that model only), resumable, with
one summary (``summary.json`` for machines, ``summary.md`` for people), written again as each
model finishes so an interrupted run can be resumed.

Frozen graphs are inspected first, here, without TensorFlow: a file that is not a model, or a
graph that would run unsafe ops, stops there; inspect's pins (training switches) and cuts (a
baked-in input pipeline) are applied unless the config says otherwise. Per-model options come
from a TOML file (``graphport.toml`` in the folder, or ``--config``; see migrate_config.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from graphport import __version__
from graphport.commands.migrate_config import PATH_KEYS, Config, load_config
from graphport.commands.migrate_folder import SUMMARY_FORMAT, check_out, install, locked
from graphport.commands.migrate_model import (
    FAILED,
    MIGRATED,
    PARTIAL,
    SKIPPED,
    Limits,
    ModelEntry,
    log_path,
    migrate_model,
    scratch_slot,
)
from graphport.errors import GraphportError, UserError, api_errors, cli_terms_active
from graphport.graph.checkpoint_files import find_checkpoint
from graphport.outputs import is_saved_model

GRAPH_SUFFIXES = (".pb", ".pbtxt")



class Interrupted(GraphportError):
    """Ctrl-C during a batch: what finished is on disk and in the summary."""

    exit_code = 130


@dataclass
class MigrateResult:
    source: str
    out: str
    models: list[ModelEntry]

    @property
    def ok(self) -> bool:
        return all(m.status in (MIGRATED, SKIPPED) for m in self.models)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for m in self.models:
            found[m.status] = found.get(m.status, 0) + 1
        return found

    def to_json(self) -> dict[str, Any]:
        return {"format": SUMMARY_FORMAT, "graphport": __version__, "source": self.source,
                "out": self.out, "ok": self.ok, "counts": self.counts(),
                "models": [asdict(m) for m in self.models]}


# --------------------------------------------------------------------------- discovery

def _kind(path: Path) -> str | None:
    if path.is_dir():
        if is_saved_model(path):
            return "saved_model"
        return "checkpoint" if find_checkpoint(path) is not None else None
    if path.suffix in GRAPH_SUFFIXES:
        return "graph"
    return None


def find_models(root: Path, skip: Path | None = None) -> list[tuple[Path, str]]:
    """(path, kind) of every model under ``root``: frozen graphs, SavedModel directories,
    checkpoint directories (their graph files belong to the checkpoint), in path order."""
    found: list[tuple[Path, str]] = []
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and (skip is None or (here / d).resolve() != skip.resolve()))
        kind = _kind(here) if here != root else None
        if kind is None and here == root and find_checkpoint(root) is not None:
            kind = "checkpoint"
        if kind is not None:
            found.append((here, kind))
            dirs[:] = []
            continue
        found += [(here / f, "graph") for f in sorted(files)
                  if f.endswith(GRAPH_SUFFIXES) and not f.startswith(".")]
    return found


# --------------------------------------------------------------------------- options

def _resolve(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative paths in a model's options made absolute against the config's folder."""
    resolved = dict(options)
    for key in PATH_KEYS:
        if key in resolved and resolved[key] != "random":
            resolved[key] = str(base / resolved[key])
    if "samples" in resolved:
        resolved["samples"] = {k: (str(base / v) if isinstance(v, str) and (base / v).exists()
                                   else v) for k, v in resolved["samples"].items()}
    return resolved


def _model_files(path: Path, kind: str) -> list[Path]:
    if kind == "graph":
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file())


def fingerprint(path: Path, kind: str, options: dict[str, Any], job: dict[str, Any]) -> str:
    """What a rerun compares: the model's bytes, the options it migrates with, graphport."""
    digest = hashlib.sha256(json.dumps([__version__, options, job], sort_keys=True,
                                       default=str).encode())
    for file in _model_files(path, kind):
        digest.update(str(file.relative_to(path.parent)).encode())
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    for key in PATH_KEYS:  # calibration data and graphs named in the options count too
        value = options.get(key)
        if value and Path(value).is_file():
            digest.update(Path(value).read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- the batch

def _inspect_first(path: Path, kind: str, options: dict[str, Any], allow_unsafe_ops: bool,
                   entry: ModelEntry) -> dict[str, Any] | None:
    """Inspect a frozen graph here, without TensorFlow, before any worker starts. Returns the
    options to migrate it with (inspect's pins and cut added where the config gives none), or
    None when it stops here: not a model, or ops graphport will not run."""
    from graphport.commands.inspect import inspect_model
    from graphport.graph.side_effects import BLOCKING

    if kind != "graph":
        return options
    started = time.perf_counter()
    try:
        report = inspect_model(path)
    except GraphportError as error:
        entry.error, entry.hint = f"inspect: {error.message}", error.hint
        entry.steps = [{"step": "inspect", "ok": False, "error": error.message,
                        "hint": error.hint}]
        return None
    finally:
        entry.seconds = round(time.perf_counter() - started, 1)
    entry.next_command = report.get("next_command")
    suggested = report.get("suggested_options", {})
    options = dict(options)
    if "inputs" in suggested and "inputs" not in options:
        options["inputs"] = suggested["inputs"]
        entry.applied.append(f"--inputs {','.join(suggested['inputs'])}")
    pins = {k: v for k, v in suggested.get("set", {}).items()
            if k not in options.get("set", {}) and k not in options.get("inputs", [])}
    if pins:
        options["set"] = {**pins, **options.get("set", {})}
        entry.applied += [f"--set {k}={v}" for k, v in pins.items()]
    unsafe = report.get("unsafe_ops") or []
    cut = "inputs" in options or "outputs" in options
    blocking = [u for u in unsafe if u["kind"] == BLOCKING]
    stop = (blocking and not cut) or (unsafe and not allow_unsafe_ops and not cut)
    if stop:
        ops = ", ".join(sorted({u["op"] for u in unsafe}))
        entry.error = f"inspect: the graph holds ops graphport will not run ({ops}): not run"
        entry.hint = ("cut the input pipeline off with inputs = [...] in the config"
                      if blocking else "migrate with --allow-unsafe-ops if you trust it")
        entry.steps = [{"step": "inspect", "ok": False, "error": entry.error,
                        "hint": entry.hint}]
        entry.next_command = None
        return None
    return options


def _rerun_skips(before: dict[str, Any] | None, entry: ModelEntry, slot: Path,
                 retry_failed: bool) -> bool:
    """Whether an earlier run's result stands: same fingerprint and migrated (its outputs
    still there), or failed the same way (unless --retry-failed; crashes and time-outs are
    always tried again)."""
    if not before or before.get("fingerprint") != entry.fingerprint:
        return False
    if before.get("status") == MIGRATED:
        return slot.is_dir()
    return before.get("status") in (FAILED, PARTIAL) and not before.get("crashed") \
        and not retry_failed


@api_errors
def migrate(
    directory: str | os.PathLike[str],
    out: str | os.PathLike[str],
    modes: list[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    calib: str | None = None,
    jobs: int = 1,
    limits: Limits | None = None,
    allow_unsafe_ops: bool = False,
    on_event: Callable[[str, ModelEntry, str], None] | None = None,
    retry_failed: bool = False,
    cluster: str | None = None,
) -> MigrateResult:
    """Migrate every model under ``directory`` into ``out`` and write the summary there.

    ``on_event(kind, entry, detail)``: "queued" (each model to run), "start", "stage"
    (detail = the stage), "done" (detail = its status); for progress displays. Models whose
    inputs and options are unchanged since an earlier run into the same ``out`` are
    skipped, failures too unless ``retry_failed``. ``cluster``: a Dask scheduler's address;
    its workers run the models (each still in a process of its own), ``out`` must be a path
    they can all write."""
    root, target = Path(directory), Path(out)
    if not root.is_dir():
        raise UserError(f"{root}: not a folder", "pass the folder that holds the models")
    previous = check_out(target, root)
    settings = load_config(Path(config) if config else None, root)
    modes = modes or settings.defaults.get("modes") or ["float32"]
    limits = limits or Limits()
    found = find_models(root, skip=target)
    if not found:
        raise UserError(f"{root}: no models found (.pb, .pbtxt, SavedModel directories, "
                        "checkpoints)", "check the folder")
    known = {str(p.relative_to(root)) for p, _ in found}
    for name in settings.models:
        if name not in known:
            table = f'models."{name}"'
            raise UserError(f"{settings.where(table)}: [{table}] matches no model under {root}",
                            f"the models are {', '.join(sorted(known)[:5])}")
    with locked(target):
        return _migrate_locked(root, target, found, settings, previous, modes, calib, jobs,
                               limits, allow_unsafe_ops, on_event or (lambda *_: None),
                               retry_failed, cluster)


def _migrate_locked(root: Path, target: Path, found: list[tuple[Path, str]], settings: Config,
                    previous: dict[str, Any], modes: list[str], calib: str | None, jobs: int,
                    limits: Limits, allow_unsafe_ops: bool,
                    event: Callable[[str, ModelEntry, str], None], retry_failed: bool,
                    cluster: str | None) -> MigrateResult:
    (target / ".logs").mkdir(exist_ok=True)
    done_before = {m["model"]: m for m in previous.get("models", [])}
    entries: list[ModelEntry] = []
    work: list[tuple[ModelEntry, dict[str, Any]]] = []
    for path, kind in found:
        relative = str(path.relative_to(root))
        options = _resolve({**settings.defaults, **settings.models.get(relative, {})},
                           settings.base)
        entry = ModelEntry(relative, kind)
        entries.append(entry)
        if options.get("skip"):
            entry.status, entry.error = SKIPPED, "skip = true in the config"
            continue
        job = {"model": str(path.absolute()), "kind": kind, "options": options,
               "modes": modes, "calib": calib, "allow_unsafe_ops": allow_unsafe_ops,
               "cli_terms": cli_terms_active()}
        entry.fingerprint = fingerprint(path, kind, options, {k: job[k] for k in (
            "modes", "calib", "allow_unsafe_ops")})
        before = done_before.get(relative)
        if _rerun_skips(before, entry, target / relative, retry_failed):
            assert before is not None
            entry.__dict__.update({k: v for k, v in before.items() if k in entry.__dict__})
            entry.reused = True
            continue
        job["options"] = _inspect_first(path, kind, options, allow_unsafe_ops, entry)
        if job["options"] is None:
            continue  # stopped at inspect: no worker, no TensorFlow
        work.append((entry, job))
    live: set[subprocess.Popen[str]] = set()
    lock, stopping = threading.Lock(), threading.Event()
    finished: set[str] = set()
    result = MigrateResult(str(root), str(target), entries)

    def finish(entry: ModelEntry, temp: Path | None) -> None:
        """Install what the model's run built (``temp``) and write the summary."""
        slot = target / entry.model
        had = done_before.get(entry.model, {}).get("status") in (MIGRATED, PARTIAL)
        if temp is not None and temp.is_dir() and any(temp.iterdir()) and (
                entry.status == MIGRATED or not slot.exists()):
            entry.kept_files = install(temp, slot)
        elif slot.exists() and had:
            entry.kept_previous = True  # the earlier outputs stay: this run did worse
        with lock:
            finished.add(entry.model)
            write_summary(result, target)

    def run(item: tuple[ModelEntry, dict[str, Any]]) -> None:
        entry, job = item
        temp = scratch_slot(target, entry.model, str(os.getpid()))
        event("start", entry, "")
        try:
            migrate_model({**job, "out": str(temp)}, entry, limits, log_path(target, entry),
                          lambda stage: event("stage", entry, stage), live)
            if stopping.is_set():
                return  # killed by Ctrl-C: not finished, its earlier outputs untouched
            finish(entry, temp)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
            event("done", entry, entry.status)

    for entry, _ in work:
        event("queued", entry, "")
    if cluster is not None:
        from graphport.commands.migrate_cluster import run_on_cluster

        try:
            run_on_cluster(cluster, work, target, limits, event, finish)
        except KeyboardInterrupt:
            _interrupted(result, work, finished, target)
        write_summary(result, target)
        return result
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        list(pool.map(run, work))
    except KeyboardInterrupt:
        stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in list(live):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        pool.shutdown(wait=True)
        _interrupted(result, work, finished, target)
    pool.shutdown(wait=True)
    write_summary(result, target)
    return result


def _interrupted(result: MigrateResult, work: list[tuple[ModelEntry, dict[str, Any]]],
                 finished: set[str], target: Path) -> None:
    """Ctrl-C: the unfinished models are said so in the summary, which is written."""
    for entry, _ in work:
        if entry.model not in finished:
            entry.status, entry.crashed = FAILED, True
            entry.error, entry.hint = "interrupted before it finished", "rerun to resume"
    write_summary(result, target)
    raise Interrupted(
        f"interrupted: {len(finished)} of {len(work)} models finished and are in "
        f"{target} (summary.json); the other {len(work) - len(finished)} did not run "
        "to the end", "rerun the same command to resume: finished models are kept"
    ) from None


def write_summary(result: MigrateResult, out: Path) -> None:
    """summary.json, summary.md and summary.html, each written whole then renamed."""
    from graphport.report.html import migrate_page
    from graphport.report.migrate_view import summary_markdown

    data = result.to_json()
    for name, text in (("summary.json", json.dumps(data, indent=2) + "\n"),
                       ("summary.md", summary_markdown(data)),
                       ("summary.html", migrate_page(data))):
        temp = out / f".{name}.tmp"
        temp.write_text(text)
        os.replace(temp, out / name)
