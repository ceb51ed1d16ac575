"""Build a 179 MB frozen ResNet-v2-101 GraphDef for the benchmarks (not committed: too big).

Same size class as the seed notes' resnet_v2_101_299_frozen.pb:
tf.keras.applications.ResNet101V2(weights=None) with seeded random weights, 299x299 input,
frozen with convert_variables_to_constants_v2.

    python scripts/make_resnet101.py [--out out/bench/resnet_v2_101_299_frozen.pb]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "out" / "bench" / "resnet_v2_101_299_frozen.pb"


def build(out: Path) -> Path:
    """Write the frozen graph to ``out`` (once; an existing file is reused)."""
    if out.exists():
        return out
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    tf.keras.utils.set_random_seed(101)
    model = tf.keras.applications.ResNet101V2(weights=None, input_shape=(299, 299, 3))
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, 299, 299, 3], tf.float32, name="input"))
    frozen = convert_variables_to_constants_v2(function).graph.as_graph_def()
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_suffix(".tmp")
    temp.write_bytes(frozen.SerializeToString())
    temp.replace(out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT)
    path = build(parser.parse_args().out)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
