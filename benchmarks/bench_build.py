"""Benchmark of the report build (``make bench``), as ratios measured in one run.

- cold build (empty cache, ``jobs`` parallel runs) against running the same notebooks one
  after another with the ``papermill`` and ``jupyter nbconvert`` command lines
  (target: at most 0.5);
- a rebuild with nothing changed against the cold build (target: at most 0.05).

Every step is timed as a fresh process, as a user would run it, so interpreter start-up
counts on both sides. ``main()`` returns the measured numbers as a dict.
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
         jobs: int = 2) -> dict:
    """Measure the build; returns seconds, ratios and whether the targets are met."""
    manifest = Path(manifest)
    data = Path(data) if data else None
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        tmp = Path(tmp)
        out = tmp / "report"
        (tmp / "cli").mkdir()
        sequential = sequential_cli(manifest, data, tmp / "cli")
        cold = _timed(_build_command(manifest, out, data, jobs))
        rebuild = _timed(_build_command(manifest, out, data, jobs))
    return {
        "runs": len(read_manifest(manifest).runs),
        "jobs": jobs,
        "sequential_cli_seconds": round(sequential, 2),
        "cold_build_seconds": round(cold, 2),
        "no_change_rebuild_seconds": round(rebuild, 2),
        "cold_vs_sequential_ratio": round(cold / sequential, 3),
        "cold_vs_sequential_target": TARGET_COLD_RATIO,
        "cold_vs_sequential_met": cold / sequential <= TARGET_COLD_RATIO,
        "rebuild_vs_cold_ratio": round(rebuild / cold, 3),
        "rebuild_vs_cold_target": TARGET_REBUILD_RATIO,
        "rebuild_vs_cold_met": rebuild / cold <= TARGET_REBUILD_RATIO,
    }


if __name__ == "__main__":
    arguments = dict(arg.split("=", 1) for arg in sys.argv[1:])  # manifest=... data=... jobs=N
    if "jobs" in arguments:
        arguments["jobs"] = int(arguments["jobs"])
    print(json.dumps(main(**arguments), indent=2))
