"""``make bench``: run every ``bench/bench_*.py`` module's ``main()`` (or only those named)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    failed = []
    for name in names:
        module = importlib.import_module(f"bench.{name.removeprefix('bench.')}")
        print(f"\n=== {module.__name__} ===", flush=True)
        if module.main() != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks below target: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
