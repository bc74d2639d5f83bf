"""nokenviz benchmarks: one entry point, one JSON object keyed by target.

    python benchmarks/run.py [--only P3,...] [--json]

Each benchmark measures its baseline in the same run and computes `met` from what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from benchmarks import (
    app_launch,
    compare_speed,
    generation_speed,
    inversion_speed,
    neighbour_map,
    preview_speed,
    projection_speed,
    remote_speed,
    render_speed,
    scale,
)

BENCHMARKS: dict[str, Callable[[], dict]] = {
    "P1": render_speed.run,
    "P2": preview_speed.run,
    "P3": generation_speed.run,
    "P4": app_launch.run_startup,
    "P5": projection_speed.run,
    "P6": app_launch.run_memory,
    "N7": inversion_speed.run,
    "M": neighbour_map.run,
    "C": compare_speed.run,
    "S": scale.run,
    "R": remote_speed.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated target ids, e.g. P3")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    wanted = [t.strip() for t in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [t for t in wanted if t not in BENCHMARKS]
    if unknown:
        print(
            f"run.py: unknown target(s) {unknown}; measured here: {list(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    results = {target: BENCHMARKS[target]() for target in wanted}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for target, result in results.items():
            verdict = "met" if result["met"] else "NOT met"
            print(f"{target}: {verdict}  {result['measured']}  target {result['target']}")
    return 0 if all(r["met"] for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
