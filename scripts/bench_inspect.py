"""Benchmark: `graphport inspect --json` vs `import tensorflow` + GraphDef.FromString + listing
placeholders, on the 179 MB frozen ResNet-v2-101, side by side in one run; and `graphport --help`
vs `python -c "import tensorflow"` (target: well under half).

Each measurement runs in a fresh process (cold imports, like a user's command) under a small
wrapper that reports the child's wall time and peak RSS. Targets (issue: inspect): graphport at
least 10x faster (issue 19; 5x before), peak memory at most 1.5x.

    python scripts/bench_inspect.py [--runs 3] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_resnet101 import DEFAULT, build

_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
elapsed = time.perf_counter() - start
if done.returncode:
    sys.exit(done.stderr.decode()[-2000:])
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_mb": peak_kb / 1024}))
"""

_TENSORFLOW_WAY = """
import sys
if sys.argv[2] == "no-sklearn":  # Keras 3 imports scikit-learn when it is installed (~1 s)
    sys.modules["sklearn"] = None
import tensorflow as tf
graph = tf.compat.v1.GraphDef.FromString(open(sys.argv[1], "rb").read())
print([n.name for n in graph.node if n.op == "Placeholder"])
"""


def measure(command: list[str]) -> dict[str, float]:
    """Wall time and peak RSS of one fresh process running ``command``."""
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *command], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", type=Path, default=DEFAULT)
    args = parser.parse_args()
    model = build(args.model)
    graphport = [sys.executable, "-m", "graphport", "inspect", "--json", str(model)]
    tensorflow = [sys.executable, "-c", _TENSORFLOW_WAY, str(model), "as-installed"]
    lean = [sys.executable, "-c", _TENSORFLOW_WAY, str(model), "no-sklearn"]
    commands = {"graphport": graphport, "tensorflow": tensorflow, "lean": lean,
                "help": [sys.executable, "-m", "graphport", "--help"],
                "import": [sys.executable, "-c", "import tensorflow"]}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    for _ in range(args.runs):  # interleaved, so drift on the machine hits all alike
        for name, command in commands.items():
            results[name].append(measure(command))
    summary = {name: {key: statistics.median(r[key] for r in runs)
                      for key in ("seconds", "peak_mb")} for name, runs in results.items()}
    g, t, lean_tf = summary["graphport"], summary["tensorflow"], summary["lean"]
    print(f"model: {model} ({model.stat().st_size / 1e6:.1f} MB), median of {args.runs} runs")
    print(f"graphport inspect --json : {g['seconds']:6.2f} s  peak {g['peak_mb']:7.0f} MB")
    print(f"tensorflow parse + list  : {t['seconds']:6.2f} s  peak {t['peak_mb']:7.0f} MB")
    print(f"  the same, no sklearn   : {lean_tf['seconds']:6.2f} s  (what Keras 3 imports when "
          "scikit-learn is installed, as in the test extra)")
    print(f"speed-up against TensorFlow as installed: {t['seconds'] / g['seconds']:.1f}x")
    t = min(t, lean_tf, key=lambda r: r["seconds"])  # the target holds against the faster
    speedup = t["seconds"] / g["seconds"]
    memory = g["peak_mb"] / t["peak_mb"]
    print(f"speed-up: {speedup:.1f}x (target >= 10x)   memory ratio: {memory:.2f}x "
          f"(target <= 1.5x)")
    h, i = summary["help"], summary["import"]
    help_ratio = h["seconds"] / i["seconds"]
    print(f"graphport --help: {h['seconds']:.2f} s   import tensorflow: {i['seconds']:.2f} s   "
          f"ratio {help_ratio:.2f} (target < 0.5)")
    return 0 if speedup >= 10 and memory <= 1.5 and help_ratio < 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
