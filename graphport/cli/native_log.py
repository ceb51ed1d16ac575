"""Keep TensorFlow's C++ log lines off the user's terminal.

TF 2.21 writes absl and MLIR messages straight to file descriptor 2, past Python's logging and
past TF_CPP_MIN_LOG_LEVEL. The CLI moves descriptor 2 to a temporary log file and gives Python a
stream on the real terminal, so our own messages and errors still show. --debug skips this.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import TextIO

_log_file: TextIO | None = None


def divert_native_stderr() -> TextIO:
    """Send fd 2 to a temporary file; return a text stream on the original stderr."""
    global _log_file
    saved = os.dup(2)
    # Kept open for the life of the process: it is where fd 2 now points.
    _log_file = tempfile.TemporaryFile(mode="w+", prefix="graphport-native-")  # noqa: SIM115
    os.dup2(_log_file.fileno(), 2)
    terminal = os.fdopen(saved, "w", buffering=1, encoding="utf-8", errors="replace")
    sys.stderr = terminal
    return terminal


def native_log_tail(lines: int = 20) -> str:
    """The last lines TensorFlow's C++ side wrote, for error reports."""
    if _log_file is None:
        return ""
    _log_file.flush()
    _log_file.seek(0)
    return "".join(_log_file.readlines()[-lines:])
