"""migrate's output folder: who may write it (a lock), where each model goes (a folder per
source, suffix kept, so ``x.pb``, ``x.pbtxt`` and a SavedModel ``x/`` never share one), and how
a model's new outputs replace its old ones: only once they are verified, and never taking a file
graphport did not write with them."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from graphport.errors import UserError
from graphport.outputs import MARKER, foreign_files, mark_directory, marked_files, probe_writable

SUMMARY_FORMAT = "graphport-migrate"
LOCK = ".graphport-migrate.lock"


def check_out(out: Path, source: Path) -> dict[str, Any]:
    """Before any work: OUT must be writable and new, empty, or an earlier migrate's (its
    marker or summary says so). Returns the earlier summary, or {}."""
    if out.resolve() == source.resolve():
        raise UserError("-o must not be the folder being migrated", "choose another folder")
    if not out.exists():
        parent = out.absolute().parent
        if not parent.is_dir():
            raise UserError(f"-o {out}: directory {parent} does not exist", "create it first")
        probe_writable(parent, f"-o {out}")
        return {}
    if not out.is_dir():
        raise UserError(f"-o {out} is a file", "choose a folder")
    probe_writable(out, f"-o {out}")
    summary: dict[str, Any] = {}
    try:
        data = json.loads((out / "summary.json").read_text())
        if isinstance(data, dict) and data.get("format") == SUMMARY_FORMAT:
            summary = data
    except (OSError, ValueError):
        pass
    if summary or marked_files(out) is not None:
        return summary
    if any(e.name != LOCK for e in out.iterdir()):
        raise UserError(f"-o {out} holds files graphport did not write (no migrate summary "
                        "or marker)", "choose a new or empty folder; nothing was touched")
    return {}


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """One migrate at a time per OUT: an exclusive lock the OS drops when the process ends
    (so a killed run never leaves a stale lock); the second run says who holds it."""
    out.mkdir(exist_ok=True)
    handle: IO[str] = (out / LOCK).open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UserError(f"-o {out} is in use by another migrate ({holder})",
                            "wait for it to finish, or choose another folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        if marked_files(out) is None:
            mark_directory(out)  # OUT itself: graphport's, so a rerun may resume into it
        yield
    finally:
        handle.close()


def install(built: Path, slot: Path) -> list[str]:
    """Put a model's freshly built outputs in ``slot``, keeping every file there that graphport
    did not write (the user's notes). Returns the files kept. The old outputs are moved aside
    first and removed last, so an interruption loses nothing."""
    mark_directory(built)
    if not slot.exists():
        os.replace(built, slot)
        return []
    foreign = foreign_files(slot)
    if foreign is None:  # not ours (or written before markers): keep all of it
        foreign = [str(p.relative_to(slot)) for p in slot.rglob("*") if not p.is_dir()]
    old = slot.with_name(f".{slot.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(slot, old)
    os.replace(built, slot)
    for name in foreign:
        if name == MARKER:
            continue
        target = slot / name
        if target.exists():  # the user's file has a name graphport writes: keep theirs aside
            target = target.with_name(f"{target.name}.yours")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old / name, target)
    shutil.rmtree(old, ignore_errors=True)
    return [f for f in foreign if f != MARKER]
