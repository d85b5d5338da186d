"""The ``parentapp`` command: exit codes, messages, and delegation to simulate and build."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

import parentapp
from parentapp import cli, io, paper, schema

PARENTAPP = Path(sys.executable).parent / "parentapp"


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return schema.example(n_students=120, seed=8)


@pytest.fixture
def good_csv(tmp_path, raw) -> Path:
    path = tmp_path / "good.csv"
    io.write_table(raw, path)
    return path


@pytest.fixture
def bad_xlsx(tmp_path, raw) -> Path:
    frame = raw.copy()
    frame.loc[2, "cito"] = 999
    frame.loc[4, "gender"] = "jongen"
    frame.loc[6, "student_id"] = frame.loc[5, "student_id"]
    path = tmp_path / "bad.xlsx"
    io.write_table(frame, path)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_good_file_one_line_summary(capsys, good_csv, raw):
    code, out, err = run(capsys, "validate", good_csv)
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{good_csv}: {len(raw)} students, ")
    assert f"{raw['family_id'].nunique()} families" in lines[0]
    assert f"{int(raw['responded_student'].sum())} questionnaire respondents" in lines[0]
    assert lines[0].endswith(": OK")


def test_validate_bad_file_lists_every_problem(capsys, bad_xlsx):
    code, out, _ = run(capsys, "validate", bad_xlsx)
    assert code == 2
    lines = out.strip().splitlines()
    assert lines[0] == f"{bad_xlsx}: 3 problems; the data cannot be used until fixed:"
    body = "\n".join(lines[1:])
    assert f"{bad_xlsx}: column 'cito', row 4:" in body
    assert f"{bad_xlsx}: column 'gender', row 6:" in body and "'jongen'" in body
    assert f"{bad_xlsx}: column 'student_id', rows 7, 8:" in body
    assert body.count("Fix:") == 3


def test_validate_notes_do_not_fail(capsys, tmp_path, raw):
    frame = raw.copy()
    frame["klas"] = "1a"
    path = tmp_path / "extra.parquet"
    io.write_table(frame, path)
    code, out, _ = run(capsys, "validate", path)
    assert code == 0
    assert out.splitlines()[0].endswith("OK (1 note below)")
    assert "klas" in out.splitlines()[1]


@pytest.mark.parametrize("name", ["missing.csv", "trial.json"])
def test_validate_unreadable_file(capsys, tmp_path, name):
    code, out, _ = run(capsys, "validate", tmp_path / name)
    assert code == 2
    assert f"{tmp_path / name}:" in out


def test_validate_several_files_fails_if_any_fails(capsys, good_csv, bad_xlsx):
    code, out, _ = run(capsys, "validate", good_csv, bad_xlsx)
    assert code == 2
    assert ": OK" in out and "3 problems" in out


def test_console_script_exit_code_and_no_traceback(good_csv, bad_xlsx, tmp_path):
    ok = subprocess.run([PARENTAPP, "validate", good_csv], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([PARENTAPP, "validate", bad_xlsx], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stdout + bad.stderr
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"garbage")
    broken = subprocess.run([PARENTAPP, "validate", corrupt], capture_output=True, text=True)
    assert broken.returncode == 2 and "Traceback" not in broken.stdout + broken.stderr
    assert "corrupt.parquet" in broken.stdout


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["validate"])
    assert info.value.code == 2


def test_sample_prints_the_flow(capsys, good_csv, tmp_path, raw):
    code, out, _ = run(capsys, "sample", "--data", good_csv, "--derived", tmp_path / "d",
                       "--ses", "income", "--groups", "4")
    assert code == 0
    complete = raw[["cito", "age", "both_parents_home", "ses_score"]].notna().all(axis=1)
    n_analysis = int(((raw["responded_student"] == 1) & complete).sum())
    assert f"analysis sample of {n_analysis} students" in out
    assert "4 by income_avg" in out
    assert "questionnaire respondents" in out
    assert any(p.suffix == ".parquet" for p in (tmp_path / "d").iterdir())


def test_sample_bad_parameters_and_bad_data(capsys, tmp_path, bad_xlsx, good_csv):
    code, _, err = run(capsys, "sample", "--data", good_csv, "--groups", "1",
                       "--derived", tmp_path)
    assert code == 2 and "ses_groups" in err
    code, _, err = run(capsys, "sample", "--data", bad_xlsx, "--derived", tmp_path)
    assert code == 2 and "column 'cito'" in err


@pytest.fixture
def fake_build(monkeypatch):
    """Stand-in for parentapp.build that records how the CLI called it."""
    calls: list[dict] = []

    class BuildError(RuntimeError):
        pass

    def build(**kwargs):
        calls.append(kwargs)
        if kwargs.get("jobs") == 99:
            raise BuildError("notebook 03 failed")

    module = types.SimpleNamespace(build=build, BuildError=BuildError)
    monkeypatch.setitem(sys.modules, "parentapp.build", module)
    monkeypatch.setattr(parentapp, "build", module, raising=False)
    return calls


def test_build_passes_parameters_read_as_yaml(capsys, fake_build, good_csv, tmp_path):
    code, _, _ = run(capsys, "build", "--data", good_csv, "--out", tmp_path / "r",
                     "--param", "n_draws=500", "--param", "cov=robust", "--param", "winsorize=null")
    assert code == 0
    assert fake_build[0]["parameters"] == {"n_draws": 500, "cov": "robust", "winsorize": None}


def test_build_refuses_a_malformed_parameter(capsys, fake_build):
    with pytest.raises(SystemExit) as stop:
        cli.main(["build", "--param", "n draws"])
    assert stop.value.code == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    assert fake_build == []


def test_build_delegates_with_arguments(capsys, fake_build, good_csv, tmp_path):
    code, _, _ = run(capsys, "build", "--data", good_csv, "--out", tmp_path / "r", "--jobs", "3")
    assert code == 0
    assert fake_build == [{"data": good_csv, "out": tmp_path / "r", "jobs": 3}]
    code, _, _ = run(capsys, "build")
    assert code == 0
    assert fake_build[-1]["data"] is None and "jobs" not in fake_build[-1]


def test_build_refuses_bad_data_before_running(capsys, fake_build, bad_xlsx):
    code, _, err = run(capsys, "build", "--data", bad_xlsx)
    assert code == 2 and fake_build == []
    assert "column 'gender'" in err


def test_build_failure_exit_1(capsys, fake_build):
    code, _, err = run(capsys, "build", "--jobs", "99")
    assert code == 1 and "notebook 03 failed" in err


def test_simulate_writes_a_valid_file(capsys, tmp_path):
    out = tmp_path / "sim.csv"
    code, stdout, _ = run(capsys, "simulate", "--seed", "5", "--out", out)
    assert code == 0, stdout
    assert (tmp_path / "sim.truth.json").exists()
    frame = io.load(out)
    assert f"{len(frame)} students" in stdout
    assert len(frame) > 2450
    # deterministic per seed: a second run gives the same bytes
    again = tmp_path / "again.csv"
    run(capsys, "simulate", "--seed", "5", "--out", again)
    assert again.read_bytes() == out.read_bytes()


def test_simulate_unknown_suffix(capsys, tmp_path):
    code, _, err = run(capsys, "simulate", "--seed", "1", "--out", tmp_path / "x.json")
    assert code == 2 and "x.json" in err


def test_simulated_data_give_the_papers_sample_sizes(tmp_path, capsys):
    """The end-to-end shell path: simulate -> validate -> sample."""
    out = tmp_path / "trial.parquet"
    assert cli.main(["simulate", "--out", str(out)]) == 0
    assert cli.main(["validate", str(out)]) == 0
    assert cli.main(["sample", "--data", str(out), "--derived", str(tmp_path / "d")]) == 0
    text = capsys.readouterr().out
    assert "analysis sample of" in text
    flow = pd.read_parquet(next((tmp_path / "d").glob("*-flow.parquet"))).set_index("step")
    assert flow.loc[1, "n"] > paper.SAMPLE["students_total_min"]
    assert flow.loc[2, "n"] == paper.SAMPLE["respondents"]
    assert flow.loc[3, "n"] == paper.TABLE1["all"].nobs
    for grade in (1, 2, 3):
        assert flow.loc[3, f"grade_{grade}"] == paper.TABLE1[f"grade{grade}"].nobs
    assert f"analysis sample of {paper.TABLE1['all'].nobs} students" in text


def test_validate_embedded_default(capsys):
    from parentapp import paths

    code, out, _ = run(capsys, "validate", paths.DEFAULT_DATA)
    assert code == 0 and out.strip().endswith(": OK")
