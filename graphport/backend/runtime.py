"""The one place graphport imports TensorFlow, so every command that needs it is quiet the same way.

Commands that only read files never call this: `import tensorflow` costs about 2 s.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR",
              "AUTOGRAPH_VERBOSITY": "0", "ABSL_MIN_LOG_LEVEL": "3"}


@contextmanager
def quiet_native(debug: bool = False) -> Iterator[None]:
    """TensorFlow's and LiteRT's C++ log lines (absl, oneDNN, XNNPACK, the MLIR converter) go
    to file descriptor 2 past Python; in a notebook they would flood the cell or the server's
    terminal. For the block, fd 2 points at a scratch file. ``GRAPHPORT_TF_LOG=1`` or
    ``debug`` keeps them."""
    if debug or os.environ.get("GRAPHPORT_TF_LOG") == "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def tensorflow(debug: bool = False) -> ModuleType:
    """Import TensorFlow with its Python logging silenced unless ``debug``.

    TF 2.21's C++ logging ignores TF_CPP_MIN_LOG_LEVEL for some early messages; the CLI also
    points file descriptor 2 away from the terminal (see graphport.cli.native_log).
    """
    if not debug:
        for key, value in _QUIET_ENV.items():
            os.environ.setdefault(key, value)
    with quiet_native(debug):
        import tensorflow as tf

    if not debug:
        tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"(tensorflow|keras|absl)(\.|$)")
    return tf
