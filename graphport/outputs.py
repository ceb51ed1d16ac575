"""Where outputs go and how they are written, so a user's files are never lost.

Outputs are built beside the target under a temporary name and renamed at the end, so an
error, Ctrl-C or a full disk never leaves a half-written model behind. ``--overwrite`` replaces
only what graphport itself would write there: a file with a file, a directory only when it is a
SavedModel or an output directory graphport made (recognised by its contents); anything else is
refused and left untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from graphport.errors import ConversionError, UserError

FILE = "file"
DIRECTORY = "directory"
# What graphport writes into an output directory of its own (compare's variants).
_VARIANT_SUFFIXES = (".tflite",)


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


def _is_graphport_directory(path: Path) -> bool:
    """A directory of graphport's own outputs: nothing in it but models it writes."""
    entries = list(path.iterdir())
    return bool(entries) and all(e.is_file() and e.suffix in _VARIANT_SUFFIXES for e in entries)


def _probe_writable(parent: Path, option: str) -> None:
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
        if kind == DIRECTORY and not (target.is_dir() and (
                is_saved_model(target) or _is_graphport_directory(target))):
            what = "a file" if not target.is_dir() else "a directory graphport did not write"
            raise UserError(f"{option} {target} is {what}: --overwrite replaces only a "
                            "SavedModel or an output directory of graphport's, so it was left "
                            "untouched", "choose another output path")
    _probe_writable(parent, option)
    return target


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
        _usual_permissions(temp, directory)
        if target.exists() or target.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
            os.replace(target, old / "previous")
            os.replace(temp, target)
            _remove(old)
        else:
            os.replace(temp, target)
    except OSError as error:  # disk full, quota, permissions changed under us
        _remove(temp)
        raise ConversionError(f"cannot write {target}: {error.strerror or error}; "
                              "nothing was written", "free some space or choose another path"
                              ) from None
    except BaseException:
        _remove(temp)
        raise
