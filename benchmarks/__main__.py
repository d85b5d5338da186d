"""Run every benchmarks/bench_*.py module's ``main()`` and print one table of results.

Usage: ``python -m benchmarks [NAME ...]`` (NAME filters modules, e.g. ``inference``).
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _modules(filters: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if filters:
        names = [n for n in names if any(f in n for f in filters)]
    return names


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    RESULTS.mkdir(exist_ok=True)
    rows_all: list[tuple[str, dict]] = []
    failed = []
    for name in _modules(argv):
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.perf_counter()
        try:
            rows = module.main()
        except Exception as error:  # report and carry on with the other benchmarks
            failed.append(name)
            print(f"{name}: FAILED: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        record = {
            "module": name,
            "seconds": time.perf_counter() - started,
            "machine": {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "processor": platform.machine(),
                "system": platform.system(),
            },
            "rows": rows,
        }
        (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2, default=float) + "\n")
        rows_all += [(name, row) for row in rows]
    header = ("module", "benchmark", "value", "unit", "target")
    table = [header] + [
        (m, r["name"], _format(r["value"]), r.get("unit", ""), r.get("target", ""))
        for m, r in rows_all
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for m, r in rows_all:
        if r.get("detail"):
            print(f"- {m} / {r['name']}: {r['detail']}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
