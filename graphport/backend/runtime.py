"""The one place graphport imports TensorFlow, so every command that needs it is quiet the same way.

Commands that only read files never call this: `import tensorflow` costs about 2 s.
"""

from __future__ import annotations

import logging
import os
import warnings
from types import ModuleType

_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR",
              "AUTOGRAPH_VERBOSITY": "0", "ABSL_MIN_LOG_LEVEL": "3"}


def tensorflow(debug: bool = False) -> ModuleType:
    """Import TensorFlow with its Python logging silenced unless ``debug``.

    TF 2.21's C++ logging ignores TF_CPP_MIN_LOG_LEVEL for some early messages; the CLI also
    points file descriptor 2 away from the terminal (see graphport.cli.native_log).
    """
    if not debug:
        for key, value in _QUIET_ENV.items():
            os.environ.setdefault(key, value)
    import tensorflow as tf

    if not debug:
        tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"(tensorflow|keras|absl)(\.|$)")
    return tf
