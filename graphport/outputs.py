"""Atomic outputs: build beside the target under a temporary name and rename at the end, so an
error, Ctrl-C or a full disk never leaves a half-written model behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from graphport.errors import ConversionError, UserError


def check_target(target: Path, overwrite: bool, option: str = "-o") -> Path:
    """Fail early (before any slow work) if the output cannot be written."""
    target = Path(target)
    parent = target.absolute().parent
    if not parent.is_dir():
        raise UserError(f"{option} {target}: directory {parent} does not exist",
                        "create it first or choose another output path")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{option} {target}: directory {parent} is not writable",
                        "choose another output path")
    if target.exists() and not overwrite:
        raise UserError(f"{option} {target} already exists", "pass --overwrite to replace it")
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
    target = check_target(target, overwrite)
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
