"""The analysis notebooks: stored clean, parameterised, and following the data they are given.

Every run of report/manifest.yml is executed with papermill (through ``parentapp.build``) on
the embedded default data and on an alternative synthetic trial (other seed, other true
effects, fewer students); the recorded estimates must equal those computed directly on that
data, so nothing in a notebook depends on the default data set.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from parentapp import analysis, build, estimate, paths, results, sample, simulate

REQUIRED_PARAMETERS = ("data_path", "results_path", "seed", "ses_measure", "ses_groups",
                       "treatment", "cov", "controls", "winsorize", "n_draws")
NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))
FAST = {"n_draws": 99, "n_replications": 0}  # small resampling, no replication simulation


def test_there_are_numbered_notebooks():
    assert len(NOTEBOOKS) >= 9
    assert all(nb.name[:2].isdigit() for nb in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs_and_has_parameters(path):
    book = nbformat.read(path, as_version=4)
    assert book.metadata["kernelspec"]["name"] == "parentapp"
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), \
        f"{path.name} is stored with outputs; clear them before committing"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    names = {line.split("=")[0].strip() for line in tagged[0].source.splitlines()
             if "=" in line and not line.lstrip().startswith("#")}
    missing = set(REQUIRED_PARAMETERS) - names
    assert not missing, f"{path.name}: parameters cell lacks {sorted(missing)}"


def test_manifest_runs_every_notebook():
    manifest = build.read_manifest(paths.MANIFEST)
    assert {run.notebook.name for run in manifest.runs} == {nb.name for nb in NOTEBOOKS}


def _fast_manifest(tmp_path: Path) -> Path:
    raw = yaml.safe_load(paths.MANIFEST.read_text())
    for run in raw["runs"]:
        run["parameters"] = {**(run.get("parameters") or {}), **FAST}
    raw["notebooks_dir"] = str(paths.NOTEBOOKS_DIR)
    target = tmp_path / "manifest.yml"
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


def _run_all(tmp_path: Path, data: Path | None) -> dict:
    out = tmp_path / "report"
    build.build(data=data, out=out, jobs=2, manifest=_fast_manifest(tmp_path))
    return results.load(out / "results.json")


def _check_follows(recorded: dict, data_path: Path | None) -> None:
    prepared = sample.prepare(data_path)
    direct = estimate.table1(prepared.data)
    for key, res in direct.items():
        got = recorded["table1"][key]
        assert got["coef"] == pytest.approx(res.coef, rel=1e-6)
        assert got["se"] == pytest.approx(res.se, rel=1e-6)
        assert got["first_stage_f"] == pytest.approx(res.first_stage_f, rel=1e-6)
        assert got["nobs"] == res.nobs
    assert recorded["table1"]["all"]["nobs"] == len(prepared.data)
    # a robustness rerun follows its own parameters on the same data
    bare = estimate.table1(prepared.data, **analysis.specification(controls="none"))
    rerun = recorded["runs"]["robustness-no-controls"]["robustness"]["table1"]
    assert rerun["all"]["coef"] == pytest.approx(bare["all"].coef, rel=1e-6)
    flow = recorded["runs"]["data-and-sample"]["sample_flow"]
    assert [step["n"] for step in flow] == prepared.flow["n"].tolist()
    claims = recorded["claims"]
    assert [c["id"] for c in claims] == list(range(1, 11))
    assert all(set(c) >= {"id", "text", "holds", "evidence"} for c in claims)


@pytest.mark.slow
def test_notebooks_run_on_the_default_data(tmp_path):
    recorded = _run_all(tmp_path, None)
    _check_follows(recorded, None)


@pytest.mark.slow
def test_notebooks_follow_an_alternative_data_set(tmp_path):
    effects = simulate.Effects(practice_late=(-6.0, 2.0, 12.0), math_score_boys=(0.0, 0.0, 5.0))
    trial = simulate.simulate(seed=99, n_students=1400, effects=effects)
    data_path = trial.write(tmp_path / "alternative.csv")
    recorded = _run_all(tmp_path, data_path)
    _check_follows(recorded, data_path)
    default_n = json.loads(paths.DEFAULT_TRUTH.read_text())["counts"] if \
        paths.DEFAULT_TRUTH.is_file() else None
    assert recorded["table1"]["all"]["nobs"] < 1585
    assert default_n is None or recorded["table1"]["all"]["nobs"] != default_n.get("analysis")
