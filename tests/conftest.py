"""Shared fixtures: one quick build of the real report on a small simulated trial.

The build (every run of report/manifest.yml, the real notebooks, small resampling) takes
most of a minute, so it is made once per test session and shared by every test that needs
it, across pytest-xdist workers too: the first worker to get the lock builds, the others
wait and reuse the finished report.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from parentapp import build, paths, simulate

# Small but complete: every grade keeps well over 10 students per cell.
SMALL_TRIAL = {"seed": 20150101, "n_students": 900}
# Quick papermill parameters for every run: few resampling draws, no replication study.
QUICK_PARAMETERS = {"n_draws": 99, "n_replications": 0}


@pytest.fixture(scope="session")
def small_report(tmp_path_factory) -> dict:
    """The real report built on a simulated trial of 900 students (with its truth file).

    Returns a dict: ``out`` (the report directory), ``data_path`` (the csv the build read),
    ``data`` (that csv as strings, for ID checks), ``truth`` (the trial's truth, as written
    beside the csv) and ``log`` (the build's progress output).
    """
    # under pytest-xdist each worker's base temp is a child of the session's; without it
    # the base temp itself is this session's (its parent holds earlier sessions)
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    root = shared / "small-report"
    done = root / "built.json"
    with open(shared / "small-report.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.is_file():
            root.mkdir(exist_ok=True)
            trial = simulate.simulate(**SMALL_TRIAL)
            data_path = trial.write(root / "small_trial.csv")
            log_path = root / "build.log"
            with open(log_path, "w") as log:
                build.build(data=data_path, out=root / "report", jobs=2,
                            manifest=paths.MANIFEST, parameters=QUICK_PARAMETERS, progress=log)
            done.write_text(json.dumps({"data_path": str(data_path)}))
    data_path = Path(json.loads(done.read_text())["data_path"])
    return {
        "out": root / "report",
        "data_path": data_path,
        "data": pd.read_csv(data_path, dtype=str),
        "truth": json.loads(data_path.with_name(data_path.stem + ".truth.json").read_text()),
        "log": (root / "build.log").read_text(),
    }
