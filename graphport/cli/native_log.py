"""Keep TensorFlow's C++ log lines off the user's terminal and out of --json output.

TF 2.21 writes absl and MLIR messages straight to file descriptors 2 and (the converter) 1, past
Python's logging and TF_CPP_MIN_LOG_LEVEL. The CLI moves both descriptors to a temporary log file
and gives Python streams on the real stdout/stderr, so our own output still shows. --debug skips
this.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import TextIO

_log_file: TextIO | None = None


def _reopen(fd: int) -> TextIO:
    saved = os.dup(fd)
    assert _log_file is not None
    os.dup2(_log_file.fileno(), fd)
    return os.fdopen(saved, "w", buffering=1, encoding="utf-8", errors="replace")


def divert_native_output() -> None:
    """Point fds 1 and 2 at a temporary file; sys.stdout/sys.stderr keep the real ones."""
    global _log_file
    # Kept open for the life of the process: it is where fds 1 and 2 now point.
    _log_file = tempfile.TemporaryFile(mode="w+", prefix="graphport-native-")  # noqa: SIM115
    sys.stdout.flush()
    sys.stderr.flush()
    sys.stdout = _reopen(1)
    sys.stderr = _reopen(2)


def native_log_tail(lines: int = 20) -> str:
    """The last lines TensorFlow's C++ side wrote, for error reports."""
    if _log_file is None:
        return ""
    _log_file.flush()
    _log_file.seek(0)
    return "".join(_log_file.readlines()[-lines:])
