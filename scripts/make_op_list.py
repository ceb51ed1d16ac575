"""Write graphport/data/tf_ops.txt: every op type registered in the installed TensorFlow, each
marked `stateful` where its OpDef says so, with the attributes a node must carry
(`requires=a,b`: those without a default).

`graphport inspect` reports ops this TensorFlow does not know without importing TensorFlow, and
constant folding must leave stateful ops alone, and a node missing a required attribute is a
malformed graph; all three read this list. Regenerate it when the
TensorFlow line changes; tests/test_oplist.py fails when the list and the installed TensorFlow
disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "graphport" / "data" / "tf_ops.txt"


def op_lines() -> list[str]:
    """All ops in TensorFlow's C++ op registry (core and kernels linked in the wheel), one line
    each: the name, ``stateful`` for stateful ops, ``requires=...`` for attrs without default."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    buffer = pywrap_tf_session.TF_GetAllOpList()
    ops = op_def_pb2.OpList.FromString(pywrap_tf_session.TF_GetBuffer(buffer))
    lines = set()
    for op in ops.op:
        required = sorted(a.name for a in op.attr if not a.HasField("default_value"))
        lines.add(" ".join([op.name] + (["stateful"] if op.is_stateful else [])
                           + ([f"requires={','.join(required)}"] if required else [])))
    return sorted(lines)


def main() -> int:
    import tensorflow as tf

    lines = op_lines()
    OUT.write_text(f"# tensorflow {tf.__version__}\n" + "\n".join(lines) + "\n")
    print(f"wrote {len(lines)} ops to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
