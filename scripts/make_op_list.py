"""Write graphport/data/tf_ops.txt: every op type registered in the installed TensorFlow, each
marked `stateful` where its OpDef says so.

`graphport inspect` reports ops this TensorFlow does not know without importing TensorFlow, and
constant folding must leave stateful ops alone; both read this list. Regenerate it when the
TensorFlow line changes; tests/test_oplist.py fails when the list and the installed TensorFlow
disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "graphport" / "data" / "tf_ops.txt"


def op_lines() -> list[str]:
    """All ops in TensorFlow's C++ op registry (core and kernels linked in the wheel), one line
    each: the name, then ``stateful`` for stateful ops."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    buffer = pywrap_tf_session.TF_GetAllOpList()
    ops = op_def_pb2.OpList.FromString(pywrap_tf_session.TF_GetBuffer(buffer))
    return sorted({f"{op.name} stateful" if op.is_stateful else op.name for op in ops.op})


def main() -> int:
    import tensorflow as tf

    lines = op_lines()
    OUT.write_text(f"# tensorflow {tf.__version__}\n" + "\n".join(lines) + "\n")
    print(f"wrote {len(lines)} ops to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
