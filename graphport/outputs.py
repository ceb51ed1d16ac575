"""Where outputs go and how they are written, so a user's files are never lost.

Outputs are built beside the target under a temporary name and renamed at the end, so an
error, Ctrl-C or a full disk never leaves a half-written model behind. ``--overwrite`` replaces
a file the user named with a file, and a directory only when graphport wrote it: every output
directory carries a marker (``.graphport``, the files graphport put there), and a directory
without one, or holding any file the marker does not list, is refused and left untouched.
Never by file extension: a folder of the user's own ``.tflite`` models is theirs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from graphport.errors import ConversionError, UserError

FILE = "file"
DIRECTORY = "directory"
MARKER = ".graphport"  # in every directory graphport writes: who wrote it, and which files


def output_path(given: str | os.PathLike[str] | None, default_name: str, kind: str) -> Path:
    """The target: ``given``, or ``default_name`` in the current directory. A file output
    given as an existing directory goes inside it, under ``default_name``."""
    if given is None:
        return Path.cwd() / default_name
    path = Path(given)
    if kind == FILE and path.is_dir():
        return path / default_name
    return path


def is_saved_model(path: Path) -> bool:
    return (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()


def _files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")
                  if not p.is_dir() and p.name != MARKER)


def mark_directory(directory: Path) -> None:
    """Write the marker listing every file now in ``directory``: graphport wrote them."""
    from graphport import __version__

    (directory / MARKER).write_text(json.dumps(
        {"written_by": "graphport", "version": __version__, "files": _files(directory)},
        indent=1) + "\n")


def marked_files(directory: Path) -> set[str] | None:
    """The files the marker says graphport wrote, or None when graphport did not write
    ``directory`` (no marker, or not one of graphport's)."""
    try:
        data = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != "graphport":
        return None
    return {str(f) for f in data.get("files", [])}


def foreign_files(directory: Path) -> list[str] | None:
    """Files in a graphport directory that graphport did not write (the user's), or None when
    the directory is not graphport's at all."""
    marked = marked_files(directory)
    return None if marked is None else [f for f in _files(directory) if f not in marked]


def probe_writable(parent: Path, option: str) -> None:
    """Create and remove a file in ``parent``: permissions, read-only and pseudo file systems
    (/proc) all fail here, before any slow work, with the reason."""
    try:
        handle, name = tempfile.mkstemp(prefix=".graphport-probe-", dir=parent)
        os.close(handle)
        os.unlink(name)
    except OSError as error:
        raise UserError(f"{option}: cannot write to {parent}: {error.strerror or error}",
                        "choose another output path") from None


def check_target(target: Path, overwrite: bool, option: str = "-o", kind: str = FILE) -> Path:
    """Fail early (before any slow work) if ``target`` cannot or may not be written."""
    target = Path(target)
    parent = target.absolute().parent
    if not parent.is_dir():
        raise UserError(f"{option} {target}: directory {parent} does not exist",
                        "create it first or choose another output path")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{option} {target}: directory {parent} is not writable",
                        "choose another output path")
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise UserError(f"{option} {target} already exists", "pass --overwrite to replace it")
        if kind == FILE and target.is_dir():
            raise UserError(f"{option} {target} is a directory; --overwrite replaces files only",
                            "name a file, or a directory to write into")
        if kind == DIRECTORY:
            _check_replaceable(target, option)
    probe_writable(parent, option)
    return target


def _check_replaceable(target: Path, option: str) -> None:
    """A directory may be replaced only when graphport wrote it and nothing was added since."""
    foreign = foreign_files(target) if target.is_dir() else None
    if foreign is None:
        what = "a file" if not target.is_dir() else \
            f"a directory graphport did not write (no {MARKER} marker)"
        raise UserError(f"{option} {target} is {what}: --overwrite replaces only an output "
                        "directory of graphport's, so it was left untouched",
                        "choose another output path")
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more"
                                          if len(foreign) > 3 else "")
        raise UserError(f"{option} {target} holds files graphport did not write ({shown}), "
                        "so it was left untouched", "move them out, or choose another path")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _usual_permissions(path: Path, directory: bool) -> None:
    """Temporary files are created private (0600/0700); the result gets what a plain write
    would have given it under the user's umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


@contextmanager
def atomic_path(target: Path, overwrite: bool, directory: bool) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``."""
    target = check_target(target, overwrite, kind=DIRECTORY if directory else FILE)
    parent = target.absolute().parent
    if directory:
        temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    else:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=parent)
        os.close(handle)
        temp = Path(name)
    try:
        yield temp
        if directory:
            mark_directory(temp)
        _replace_together([temp], [target], directory)
    except OSError as error:  # disk full, quota, permissions changed under us
        _remove(temp)
        raise ConversionError(f"cannot write {target}: {error.strerror or error}; "
                              "nothing was written", "free some space or choose another path"
                              ) from None
    except BaseException:
        _remove(temp)
        raise


@contextmanager
def atomic_files(targets: list[Path]) -> Iterator[list[Path]]:
    """Temporary files beside each of ``targets`` (already checked); on success they replace
    their targets together: a model and its reports land together or not at all. A failure
    part way (a full disk) undoes the renames already made, so every target is as before."""
    temps: list[Path] = []
    try:
        for target in targets:
            handle, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-",
                                            dir=target.absolute().parent)
            os.close(handle)
            temps.append(Path(name))
        yield temps
        _replace_together(temps, targets)
    except OSError as error:
        raise ConversionError(f"cannot write {', '.join(map(str, targets))}: "
                              f"{error.strerror or error}; nothing was written",
                              "free some space or choose another path") from None
    finally:
        for temp in temps:
            _remove(temp)


def _replace_together(temps: list[Path], targets: list[Path], directory: bool = False) -> None:
    """Each temporary replaces its target, the previous versions moved aside and removed last;
    a rename failing part way puts every target back as it was."""
    done: list[tuple[Path, Path | None]] = []  # (target, where its previous version waits)
    try:
        for temp, target in zip(temps, targets, strict=True):
            _usual_permissions(temp, directory)
            previous = None
            if target.exists() or target.is_symlink():
                previous = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-",
                                                 dir=target.absolute().parent)) / "previous"
                os.replace(target, previous)
            done.append((target, previous))
            os.replace(temp, target)
    except BaseException:
        for target, previous in reversed(done):
            _remove(target)
            if previous is not None:
                os.replace(previous, target)
                _remove(previous.parent)
        raise
    for _, previous in done:
        if previous is not None:
            _remove(previous.parent)


def write_together(files: dict[Path, Callable[[], bytes | str]]) -> None:
    """Write every file (content made by its callable) so that all land or none does."""
    targets = list(files)
    with atomic_files(targets) as temps:
        for temp, make in zip(temps, files.values(), strict=True):
            content = make()
            if isinstance(content, str):
                temp.write_text(content, encoding="utf-8")
            else:
                temp.write_bytes(content)
