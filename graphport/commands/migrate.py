"""`graphport migrate`: every model under a folder to SavedModel and TFLite, verified, each in
its own process (a crash, a hang or a memory blow-up stops that model only), resumable, with
one summary (``summary.json`` for machines, ``summary.md`` for people).

Per-model options come from a TOML file (``graphport.toml`` in the folder, or ``--config``)::

    [defaults]
    modes = ["float32", "dynamic"]

    [models."faces/mtcnn.pb"]          # path relative to the folder
    set = { min_size = 40, factor = 0.709, thresholds = "0.6,0.7,0.7" }
    samples = { input = "faces.png" }  # paths relative to the config file
    bgr = true

    [models."ckpt/model.ckpt"]
    outputs = ["probs"]
    graph = "ckpt/model_eval.pbtxt"
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from graphport import __version__
from graphport.errors import UserError, api_errors
from graphport.graph.checkpoint_files import find_checkpoint
from graphport.outputs import is_saved_model

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_NAME = "graphport.toml"
MARKER = "graphport-migrate"
GRAPH_SUFFIXES = (".pb", ".pbtxt")
# Keys a [models."..."] table may hold; paths among them are relative to the config file.
OPTION_KEYS = {"inputs", "outputs", "set", "input_shapes", "passes", "samples", "bgr", "modes",
               "calib", "calib_samples", "mean", "std", "graph", "skip"}
PATH_KEYS = ("calib", "graph")

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
        return {"format": MARKER, "graphport": __version__, "source": self.source,
                "out": self.out, "ok": self.ok, "counts": self.counts(),
                "models": [asdict(m) for m in self.models]}


@dataclass
class Limits:
    """Per model: wall time in seconds and address space in bytes (None: no limit)."""

    seconds: float | None = 1800.0
    memory: int | None = None


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


# --------------------------------------------------------------------------- configuration

def load_config(path: Path | None, root: Path) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """(defaults, per-model tables, the folder its paths are relative to)."""
    if path is None:
        if not (root / CONFIG_NAME).is_file():
            return {}, {}, root
        path = root / CONFIG_NAME
    if not path.is_file():
        raise UserError(f"--config {path}: no such file", "check the path")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: invalid TOML: {error}", "fix the file's syntax") from None
    defaults, models = data.get("defaults", {}), data.get("models", {})
    for name, table in [("defaults", defaults), *((f'models."{k}"', v)
                                                  for k, v in models.items())]:
        if not isinstance(table, dict):
            raise UserError(f"{path}: [{name}] is not a table")
        unknown = sorted(set(table) - OPTION_KEYS)
        if unknown:
            raise UserError(f"{path}: [{name}] has unknown key {unknown[0]!r}",
                            f"the keys are {', '.join(sorted(OPTION_KEYS))}")
    return defaults, models, path.parent


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


# --------------------------------------------------------------------------- output folder

def check_out(out: Path, source: Path) -> dict[str, Any]:
    """The output folder must be new, empty, or an earlier migrate's (its summary says so);
    returns that earlier summary, or {}."""
    if out.resolve() == source.resolve():
        raise UserError("-o must not be the folder being migrated", "choose another folder")
    if not out.exists():
        if not out.absolute().parent.is_dir():
            raise UserError(f"-o {out}: directory {out.absolute().parent} does not exist",
                            "create it first")
        return {}
    if not out.is_dir():
        raise UserError(f"-o {out} is a file", "choose a folder")
    summary = out / "summary.json"
    if summary.is_file():
        try:
            data = json.loads(summary.read_text())
        except ValueError:
            data = {}
        if data.get("format") == MARKER:
            return data
    if any(out.iterdir()):
        raise UserError(f"-o {out} holds files graphport did not write (no migrate "
                        "summary.json)", "choose a new or empty folder; nothing was touched")
    return {}


def _slot(relative: str) -> str:
    """The model's folder under OUT: its relative path with the suffix dropped."""
    return str(Path(relative).with_suffix("")) if relative.endswith(GRAPH_SUFFIXES) \
        else relative


# --------------------------------------------------------------------------- one model

def _limit_memory(limit: int | None) -> Callable[[], None] | None:
    if limit is None:
        return None

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


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
    entry.next_command = result.get("next_command")


def migrate_model(job: dict[str, Any], entry: ModelEntry, limits: Limits, log: Path,
                  on_stage: Callable[[str], None]) -> None:
    """Run the worker for one model and fill ``entry`` from what it said (or how it died)."""
    started = time.perf_counter()
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "graphport.commands.migrate_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True,
            preexec_fn=_limit_memory(limits.memory))
        assert process.stdin is not None and process.stdout is not None
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
    entry.seconds = round(time.perf_counter() - started, 1)
    if result is not None:
        _entry_from(result, entry)
        return
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


# --------------------------------------------------------------------------- the batch

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
) -> MigrateResult:
    """Migrate every model under ``directory`` into ``out`` and write the summary there.

    ``on_event(kind, entry, detail)``: "queued" (each model to run), "start", "stage"
    (detail = the stage), "done" (detail = its status); for progress displays. Models whose
    inputs and options are unchanged since an earlier run into the same ``out`` are
    skipped."""
    root, target = Path(directory), Path(out)
    if not root.is_dir():
        raise UserError(f"{root}: not a folder", "pass the folder that holds the models")
    previous = check_out(target, root)
    defaults, tables, base = load_config(Path(config) if config else None, root)
    modes = modes or defaults.get("modes") or ["float32"]
    limits = limits or Limits()
    found = find_models(root, skip=target)
    if not found:
        raise UserError(f"{root}: no models found (.pb, .pbtxt, SavedModel directories, "
                        "checkpoints)", "check the folder")
    known = {str(p.relative_to(root)) for p, _ in found}
    for name in tables:
        if name not in known:
            raise UserError(f"config: [models.\"{name}\"] matches no model under {root}",
                            f"the models are {', '.join(sorted(known)[:5])}")
    target.mkdir(exist_ok=True)
    (target / ".logs").mkdir(exist_ok=True)
    done_before = {m["model"]: m for m in previous.get("models", [])}
    event = on_event or (lambda *_: None)
    entries: list[ModelEntry] = []
    work: list[tuple[ModelEntry, dict[str, Any]]] = []
    for path, kind in found:
        relative = str(path.relative_to(root))
        options = _resolve({**defaults, **tables.get(relative, {})}, base)
        entry = ModelEntry(relative, kind)
        entries.append(entry)
        if options.get("skip"):
            entry.status, entry.error = SKIPPED, "skip = true in the config"
            continue
        job = {"model": str(path.absolute()), "kind": kind, "options": options,
               "modes": modes, "calib": calib, "allow_unsafe_ops": allow_unsafe_ops}
        entry.fingerprint = fingerprint(path, kind, options, {k: job[k] for k in (
            "modes", "calib", "allow_unsafe_ops")})
        before = done_before.get(relative)
        if before and before.get("fingerprint") == entry.fingerprint and before.get(
                "status") == MIGRATED and (target / _slot(relative)).is_dir():
            entry.__dict__.update({k: v for k, v in before.items() if k in entry.__dict__})
            entry.reused = True
            continue
        work.append((entry, job))

    def run(item: tuple[ModelEntry, dict[str, Any]]) -> None:
        entry, job = item
        slot = target / _slot(entry.model)
        slot.parent.mkdir(parents=True, exist_ok=True)
        temp = slot.with_name(f".{slot.name}.tmp-{os.getpid()}")
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir()
        job = {**job, "out": str(temp)}
        event("start", entry, "")
        log = target / ".logs" / f"{_slot(entry.model).replace(os.sep, '__')}.log"
        try:
            migrate_model(job, entry, limits, log,
                          lambda stage: event("stage", entry, stage))
            if any(temp.iterdir()):
                shutil.rmtree(slot, ignore_errors=True)  # our own earlier output for it
                os.replace(temp, slot)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
            event("done", entry, entry.status)

    for entry, _ in work:
        event("queued", entry, "")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(run, work))
    result = MigrateResult(str(root), str(target), entries)
    write_summary(result, target)
    return result


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
