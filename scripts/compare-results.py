#!/usr/bin/env python3
"""Compares the results of two job records (`soyl submit --wait` output) number by number.

    scripts/compare-results.py A.json B.json [TOLERANCE]

Walks both records' `result` blocks in step (leaving out `stats`, which says how the work was
batched) and prints the largest difference (absolute, or relative above 1) between
any two numbers at the same place (face boxes, detection scores, emotion scores, valence...),
and every place where the two differ in shape, label or count. Exit status 0 when they agree
within TOLERANCE (default 1e-4), 1 when they do not, 2 when a record has no result. Used by
scripts/bench-gpu.sh to check that CUDA graph runs answer like plain runs.
"""
import json
import sys


def load_result(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find("{")
    if start < 0:
        sys.exit(f"{path}: no JSON record in the file")
    record = json.loads(text[start:])
    result = record.get("result")
    if not result:
        print(f"{path}: no result (status {record.get('status')}, error {record.get('error')})")
        sys.exit(2)
    result.pop("stats", None)
    return result


def walk(a, b, path, diffs, mismatches):
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        if a != b:
            mismatches.append(f"{path}: {a!r} vs {b!r}")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        # Relative for large values (boxes in pixels), absolute for scores in 0..1.
        diffs.append((abs(a - b) / max(1.0, abs(a), abs(b)), path))
    elif isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                mismatches.append(f"{path}.{key}: only in one record")
            else:
                walk(a[key], b[key], f"{path}.{key}", diffs, mismatches)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            mismatches.append(f"{path}: {len(a)} vs {len(b)} entries")
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", diffs, mismatches)
    elif a != b:
        mismatches.append(f"{path}: {a!r} vs {b!r}")


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    tolerance = float(sys.argv[3]) if len(sys.argv) == 4 else 1e-4
    a, b = load_result(sys.argv[1]), load_result(sys.argv[2])
    diffs, mismatches = [], []
    walk(a, b, "result", diffs, mismatches)
    worst = max(diffs, default=(0.0, "-"))
    print(f"{len(diffs)} numbers compared; largest difference {worst[0]:.3g} at {worst[1]}")
    for line in mismatches:
        print(f"differs: {line}")
    agree = not mismatches and worst[0] <= tolerance
    print("agree" if agree else f"DISAGREE (tolerance {tolerance})")
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    main()
