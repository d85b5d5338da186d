"""Benchmark of the report build (``make bench``), as ratios measured in one run.

- cold build (empty cache, ``jobs`` parallel runs) against running the same notebooks one
  after another with the ``papermill`` and ``jupyter nbconvert`` command lines
  (target: at most 0.5);
- a rebuild with nothing changed against the cold build (target: at most 0.05).

Every step is timed as a fresh process, as a user would run it, so interpreter start-up
counts on both sides, and the derived analysis-sample cache (``data/derived/sample-*``,
regenerable) is emptied before each side so that neither reuses the other's work.
``main()`` returns rows for ``python -m benchmarks``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from parentapp import paths
from parentapp.build import KERNEL, read_manifest

BIN = Path(sys.executable).parent
TARGET_COLD_RATIO = 0.5
TARGET_REBUILD_RATIO = 0.05


def _timed(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   **kwargs)
    return time.perf_counter() - start


def _build_command(manifest: Path, out: Path, data: Path | None, jobs: int) -> list[str]:
    call = (f"from parentapp.build import build; build(data={str(data) if data else None!r}, "
            f"out={str(out)!r}, manifest={str(manifest)!r}, jobs={jobs})")
    return [sys.executable, "-c", call]


def _clear_derived_cache() -> None:
    for cached in paths.DERIVED_DIR.glob("sample-*"):
        cached.unlink()


def sequential_cli(manifest: Path, data: Path | None, work: Path) -> float:
    """Run every manifest entry with the papermill CLI, then jupyter nbconvert, in turn."""
    spec = read_manifest(manifest)
    start = time.perf_counter()
    for run in spec.runs:
        executed = work / f"{run.name}.ipynb"
        parameters = dict(run.parameters, data_path=str(data) if data else None,
                          results_path=str(work / f"{run.name}.json"))
        subprocess.run([str(BIN / "papermill"), str(run.notebook), str(executed), "-k", KERNEL,
                        "--cwd", str(run.notebook.parent), "--no-progress-bar",
                        "-y", yaml.safe_dump(parameters)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(executed)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(manifest: str | os.PathLike = paths.MANIFEST, data: str | os.PathLike | None = None,
         jobs: int = 2) -> list[dict]:
    """Measure the build; returns one row per measure (seconds and ratios with targets)."""
    manifest = Path(manifest)
    data = Path(data) if data else None
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        tmp = Path(tmp)
        out = tmp / "report"
        (tmp / "cli").mkdir()
        _clear_derived_cache()
        sequential = sequential_cli(manifest, data, tmp / "cli")
        _clear_derived_cache()
        cold = _timed(_build_command(manifest, out, data, jobs))
        rebuild = _timed(_build_command(manifest, out, data, jobs))
    runs = len(read_manifest(manifest).runs)
    return [
        {"name": "papermill + nbconvert CLIs, one run after another", "value": sequential,
         "unit": "s", "detail": f"{runs} manifest runs"},
        {"name": f"cold build, {jobs} jobs", "value": cold, "unit": "s"},
        {"name": "no-change rebuild", "value": rebuild, "unit": "s"},
        {"name": "cold build / sequential CLIs", "value": cold / sequential, "unit": "ratio",
         "target": f"<= {TARGET_COLD_RATIO}"},
        {"name": "no-change rebuild / cold build", "value": rebuild / cold, "unit": "ratio",
         "target": f"<= {TARGET_REBUILD_RATIO}"},
    ]


if __name__ == "__main__":
    arguments = dict(arg.split("=", 1) for arg in sys.argv[1:])  # manifest=... data=... jobs=N
    if "jobs" in arguments:
        arguments["jobs"] = int(arguments["jobs"])
    print(json.dumps(main(**arguments), indent=2, default=float))
