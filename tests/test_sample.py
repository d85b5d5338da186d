"""parentapp.sample: the analysis sample and attrition flow against independent counts, the
pseudonyms, SES quantile groups against numpy, the derived-file cache, and winsorize."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parentapp import io, sample, schema
from parentapp.sample import COMPLETE_CASE_COLUMNS
from parentapp.schema import DataValidationError


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    frame = schema.example(n_students=300, seed=21)
    frame["original_id"] = frame["student_id"]  # extra column: lets tests follow each student
    return frame


@pytest.fixture(scope="module")
def built(raw) -> sample.AnalysisSample:
    return sample.build(raw)


def unique_area_frame(n: int = 300, seed: int = 3) -> pd.DataFrame:
    """Every student in an area of their own, with distinct SES values: exact quantile groups."""
    frame = schema.example(n_students=n, seed=seed)
    rng = np.random.default_rng(seed)
    frame["postcode"] = 1000 + np.arange(n)
    frame["ses_score"] = rng.permutation(np.linspace(-3, 3, n)).round(4)
    frame["income_avg"] = rng.permutation(np.linspace(20, 50, n)).round(3)
    return frame


# ---------------------------------------------------------------- the sample and the flow


def test_analysis_sample_is_respondents_with_complete_controls(raw, built):
    complete = raw[list(COMPLETE_CASE_COLUMNS)].notna().all(axis=1)
    expected = set(raw.loc[(raw["responded_student"] == 1) & complete, "original_id"])
    assert set(built.data["original_id"]) == expected
    assert set(built.respondents["original_id"]) == set(
        raw.loc[raw["responded_student"] == 1, "original_id"]
    )
    assert len(built.students) == len(raw)
    assert built.data[list(COMPLETE_CASE_COLUMNS)].notna().all().all()


def test_flow_counts_match_independent_counts(raw, built):
    flow = built.flow.set_index("step")
    responded = raw["responded_student"] == 1
    complete = raw[list(COMPLETE_CASE_COLUMNS)].notna().all(axis=1)
    stages = {1: raw, 2: raw[responded], 3: raw[responded & complete]}
    for step, subset in stages.items():
        assert flow.loc[step, "n"] == len(subset)
        assert flow.loc[step, "no_access"] == (subset["access"] == 0).sum()
        assert flow.loc[step, "access"] == (subset["access"] == 1).sum()
        for grade in (1, 2, 3):
            assert flow.loc[step, f"grade_{grade}"] == (subset["grade"] == grade).sum()


def test_flow_accounts_for_every_student(built):
    flow = built.flow
    assert flow["n"].iloc[0] == len(built.students)
    n, dropped = flow["n"].to_numpy(), flow["dropped"].to_numpy()
    np.testing.assert_array_equal(n[1:], n[:-1] - dropped[1:])  # each step: previous - drops
    assert (flow[["no_access", "access"]].sum(axis=1) == flow["n"]).all()
    assert (flow[["grade_1", "grade_2", "grade_3"]].sum(axis=1) == flow["n"]).all()
    # each student's reason: exactly the analysis sample has none
    reasons = built.students["exclusion"]
    assert (reasons == "").sum() == len(built.data)
    assert (reasons == "no student questionnaire").sum() == flow["dropped"].iloc[1]
    assert reasons.str.startswith("missing ").sum() == flow["dropped"].iloc[2]


def test_drop_reasons_name_each_missing_control(raw, built):
    respondents = raw[raw["responded_student"] == 1]
    reason = built.flow["reason"].iloc[2]
    for column in COMPLETE_CASE_COLUMNS:
        k = int(respondents[column].isna().sum())
        assert (f"{column} ({k})" in reason) == (k > 0)
    by_id = built.students.set_index("original_id")["exclusion"]
    row = raw[(raw["responded_student"] == 1) & raw["cito"].isna()].iloc[0]
    assert "cito" in by_id[row["original_id"]]


def test_added_columns(raw, built):
    by_id = raw.set_index("original_id")
    data = built.data
    np.testing.assert_array_equal(
        data["female"].to_numpy(), (by_id.loc[data["original_id"], "gender"] == "girl")
    )
    assert data["female"].dtype == np.int64
    assert data["ses_group"].cat.ordered
    assert list(data["ses_group"].cat.categories) == ["low", "middle", "high"]
    assert data["in_analysis"].all() and data["respondent"].all()


def test_values_travel_with_their_student(raw, built):
    by_id = raw.set_index("original_id")
    students = built.students.set_index("original_id")
    for column in ("cito", "practice_min_total", "score_math_jan", "app_used", "postcode"):
        left = students[column].astype(float)
        right = by_id.loc[students.index, column].astype(float)
        pd.testing.assert_series_equal(left, right, check_names=False)


def test_invalid_raw_data_are_refused(raw):
    broken = raw.copy()
    broken.loc[0, "cito"] = 1
    with pytest.raises(DataValidationError, match="cito"):
        sample.build(broken)


# ---------------------------------------------------------------- pseudonyms


def test_pseudonyms_are_a_bijection_that_keeps_families(raw, built):
    students = built.students
    assert students["student_id"].str.fullmatch(r"S\d{4}").all()
    assert students["family_id"].str.fullmatch(r"F\d{4}").all()
    assert students["student_id"].is_unique
    assert sorted(students["student_id"]) == [f"S{k:04d}" for k in range(1, len(raw) + 1)]
    assert students["family_id"].nunique() == raw["family_id"].nunique()
    # the same partition of students into families
    original_family = raw.set_index("original_id")["family_id"]
    pairs = pd.DataFrame({"new": students["family_id"],
                          "old": original_family.loc[students["original_id"]].to_numpy()})
    assert (pairs.groupby("new")["old"].nunique() == 1).all()
    assert (pairs.groupby("old")["new"].nunique() == 1).all()


def test_pseudonyms_depend_on_the_id_only_not_on_row_order(raw, built):
    shuffled = raw.sample(frac=1.0, random_state=7).reset_index(drop=True)
    again = sample.build(shuffled)
    pd.testing.assert_frame_equal(again.students, built.students)


def test_pseudonyms_do_not_reveal_the_original_order(raw, built):
    original_position = pd.Series(np.arange(len(raw)), index=raw["original_id"])
    new_number = built.students["student_id"].str[1:].astype(int)
    rho = np.corrcoef(original_position.loc[built.students["original_id"]], new_number)[0, 1]
    assert abs(rho) < 0.25
    assert built.students["student_id"].is_monotonic_increasing  # rows sorted by pseudonym


# ---------------------------------------------------------------- SES groups


@pytest.mark.parametrize(("measure", "column"), [("scp", "ses_score"), ("income", "income_avg")])
@pytest.mark.parametrize("groups", [3, 4])
def test_ses_groups_are_quantile_groups_of_the_analysis_sample(measure, column, groups):
    raw = unique_area_frame()
    result = sample.build(raw, ses_measure=measure, ses_groups=groups)
    values = result.data[column].to_numpy()
    cuts = np.quantile(values, np.arange(1, groups) / groups)
    np.testing.assert_allclose(result.ses_cutpoints, cuts)
    expected = np.searchsorted(cuts, values, side="left")  # value == cut -> lower group
    np.testing.assert_array_equal(result.data["ses_group"].cat.codes.to_numpy(), expected)
    sizes = result.data["ses_group"].value_counts().to_numpy()
    assert sizes.max() - sizes.min() <= 1  # distinct values: equal-sized groups
    assert result.ses_measure == column
    labels = ["low", "middle", "high"] if groups == 3 else ["Q1", "Q2", "Q3", "Q4"]
    assert list(result.data["ses_group"].cat.categories) == labels
    # students outside the analysis sample are grouped with the same cut points
    outside = result.students[~result.students["in_analysis"] & result.students[column].notna()]
    codes = np.searchsorted(cuts, outside[column].to_numpy(), side="left")
    np.testing.assert_array_equal(outside["ses_group"].cat.codes.to_numpy(), codes)


def test_a_postcode_area_is_never_split_between_groups(built):
    students = built.students.dropna(subset=["ses_group"])
    assert (students.groupby("postcode")["ses_group"].nunique() == 1).all()


def test_too_few_distinct_values_for_the_groups():
    raw = schema.example(n_students=120, seed=4)
    raw["ses_score"] = np.where(raw["postcode"] < raw["postcode"].median(), -1.0, 1.0)
    with pytest.raises(ValueError, match="too few distinct values"):
        sample.build(raw, ses_groups=4)


@pytest.mark.parametrize("bad", [{"ses_measure": "cbs"}, {"ses_groups": 1}, {"ses_groups": 2.5}])
def test_bad_parameters(raw, bad):
    with pytest.raises(ValueError, match="ses_"):
        sample.build(raw, **bad)


# ---------------------------------------------------------------- prepare and its cache


def test_prepare_writes_derived_files_and_reuses_them(tmp_path, raw, monkeypatch):
    data = tmp_path / "trial.csv"
    io.write_table(raw, data)
    derived = tmp_path / "derived"
    first = sample.prepare(data, derived_dir=derived)
    files = sorted(p.name for p in derived.iterdir())
    assert len(files) == 5 and not any(name.startswith(".") for name in files)
    meta = json.loads(next(derived.glob("*.json")).read_text())
    assert meta["input_sha256"] == io.file_checksum(data)
    assert meta["n_analysis"] == len(first.data)

    def refuse(*_args, **_kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(io, "load", refuse)
    second = sample.prepare(data, derived_dir=derived)
    for name in ("data", "respondents", "students", "flow"):
        pd.testing.assert_frame_equal(getattr(second, name), getattr(first, name))
    assert second.ses_cutpoints == first.ses_cutpoints
    fresh = sample.build(raw)
    pd.testing.assert_frame_equal(second.data, fresh.data)


def test_prepare_key_changes_with_parameters_and_content(tmp_path, raw):
    data = tmp_path / "trial.parquet"
    io.write_table(raw, data)
    derived = tmp_path / "derived"
    sample.prepare(data, derived_dir=derived)
    sample.prepare(data, ses_measure="income", ses_groups=4, derived_dir=derived)
    assert len(list(derived.glob("*.json"))) == 2
    changed = raw.copy()
    changed.loc[0, "score_math_jan"] = 50.0
    io.write_table(changed, data)
    sample.prepare(data, derived_dir=derived)
    assert len(list(derived.glob("*.json"))) == 3


def test_prepare_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(io.DataFileError, match="nothing.csv: file not found"):
        sample.prepare(tmp_path / "nothing.csv", derived_dir=tmp_path)


# ---------------------------------------------------------------- winsorize


def test_winsorize_closed_form():
    series = pd.Series(np.arange(1.0, 101.0), name="minutes")
    capped = sample.winsorize(series, upper=0.99)
    assert capped.max() == pytest.approx(99.01)  # linear interpolation: 99 + 0.01 * (100 - 99)
    pd.testing.assert_series_equal(capped.iloc[:99], series.iloc[:99])
    both = sample.winsorize(series, upper=0.9, lower=0.1)
    assert both.min() == pytest.approx(10.9) and both.max() == pytest.approx(90.1)


def test_winsorize_keeps_missing_values_and_index():
    series = pd.Series([np.nan, 1.0, 2.0, 1000.0], index=list("abcd"))
    capped = sample.winsorize(series, upper=0.5)
    assert np.isnan(capped["a"]) and list(capped.index) == list("abcd")
    assert capped["d"] == 2.0


@pytest.mark.parametrize("kw", [{"upper": 0}, {"upper": 1.5}, {"upper": 0.9, "lower": 0.95}])
def test_winsorize_bad_quantiles(kw):
    with pytest.raises(ValueError):
        sample.winsorize(pd.Series([1.0, 2.0]), **kw)


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=60),
    upper=st.floats(0.5, 1.0),
)
def test_winsorize_properties(values, upper):
    series = pd.Series(values)
    capped = sample.winsorize(series, upper=upper)
    cap = np.quantile(np.array(values), upper)
    assert (capped <= series).all()
    assert capped.max() == pytest.approx(min(cap, series.max()))
    below = series <= cap
    pd.testing.assert_series_equal(capped[below], series[below])
    # order is preserved (ties may be created, never reversed)
    order = np.argsort(series.to_numpy(), kind="stable")
    assert np.all(np.diff(capped.to_numpy()[order]) >= 0)


def test_prepare_default_data_reproduces_the_papers_sample(tmp_path):
    from parentapp import paper

    result = sample.prepare(derived_dir=tmp_path)
    pd.testing.assert_frame_equal(sample.prepare("", derived_dir=tmp_path).data, result.data)
    flow = result.flow.set_index("step")
    assert flow.loc[2, "n"] == paper.SAMPLE["respondents"]
    assert len(result.data) == paper.TABLE1["all"].nobs
    for grade in (1, 2, 3):
        assert (result.data["grade"] == grade).sum() == paper.TABLE1[f"grade{grade}"].nobs
    assert result.data["ses_group"].notna().all()
