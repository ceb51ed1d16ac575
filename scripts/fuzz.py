"""A long fuzz run of `graphport inspect` over mutated fixtures and mtcnn.pb.

    python scripts/fuzz.py [--cases 5000] [--seed 0]

Prints how many cases gave a result, how many a clean error, and stops at the first crash or
hang with the mutated file kept for a bug report.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from graphport import fuzzing

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [ROOT / "fixtures" / n for n in ("pyramid.pb", "cond_training.pb", "input_pipeline.pb",
                                         "digits_cnn.pb", "resnet_v2_small.pb")]
SEEDS.append(ROOT.parent / "shared" / "graphs" / "mtcnn.pb")


def mutate(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(("flip", "truncate", "splice"))
        if kind == "flip":
            data = fuzzing.flip_bits(data, [rng.randrange(len(data) * 8)
                                            for _ in range(rng.randint(1, 16))])
        elif kind == "truncate":
            data = fuzzing.truncate(data, rng.random())
        elif data:
            data = fuzzing.splice(data, rng.randrange(len(data)), rng.randint(1, 256),
                                  rng.randrange(len(data)))
        if not data:
            break
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    seeds = [p.read_bytes() for p in SEEDS if p.exists()]
    counts = {"ok": 0, "clean error": 0}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.pb"
        for case in range(args.cases):
            path.write_bytes(mutate(rng.choice(seeds), rng))
            try:
                counts[fuzzing.inspect_outcome(path)] += 1
            except BaseException as error:
                kept = ROOT / f"fuzz-crash-{args.seed}-{case}.pb"
                kept.write_bytes(path.read_bytes())
                print(f"case {case}: {type(error).__name__}: {error}; kept as {kept}")
                return 1
    print(f"{args.cases} cases: {counts['ok']} results, {counts['clean error']} clean errors, "
          "0 crashes, 0 hangs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
