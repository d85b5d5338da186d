"""The calibrated synthetic trial: determinism, schema, exact published counts, design rules.

Every count is recomputed here from the data frame itself (not read back from the truth object),
so the tests check the data against the article's figures, not the simulator against itself.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from parentapp import paths, schema
from parentapp.schema import COLUMNS, PARENT_ITEMS, STUDENT_ITEMS
from parentapp.simulate import Effects, FunnelTargets, simulate

# SHA-256 of simulate(paths.DEFAULT_SEED).write("trial.csv"). Changing the generator changes
# the embedded default data: regenerate data/synthetic/ and update this pin deliberately.
PINNED_CSV_SHA256 = "003534a0d38220d86ddd408c79e8d030e732bcd7e2fdf1d6c6393bcf3a0ecc5d"
STUDY_CONTROLS = ("cito", "age", "ses_score", "both_parents_home")


@pytest.fixture(scope="module")
def trial():
    return simulate(paths.DEFAULT_SEED)


@pytest.fixture(scope="module")
def data(trial):
    return trial.data


@pytest.fixture(scope="module")
def respondents(data):
    return data[data["responded_student"] == 1]


@pytest.fixture(scope="module")
def analysis(respondents):
    return respondents.dropna(subset=list(STUDY_CONTROLS))


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ determinism and the pin


def test_same_seed_gives_identical_data_and_different_seed_differs(data):
    again = simulate(paths.DEFAULT_SEED).data
    pd.testing.assert_frame_equal(data, again)
    other = simulate(paths.DEFAULT_SEED + 1).data
    assert not other["practice_min_total"].equals(data["practice_min_total"])


def test_default_csv_checksum_is_pinned_and_matches_the_embedded_file(trial, tmp_path):
    out = trial.write(tmp_path / "trial.csv")
    assert sha256(out) == PINNED_CSV_SHA256
    assert sha256(paths.DEFAULT_DATA) == PINNED_CSV_SHA256, (
        "data/synthetic/trial.csv is not simulate(DEFAULT_SEED); regenerate it")
    written_truth = (tmp_path / "trial.truth.json").read_text(encoding="utf-8")
    assert written_truth == paths.DEFAULT_TRUTH.read_text(encoding="utf-8")
    raw = out.read_bytes()
    assert b"\r\n" not in raw and raw.endswith(b"\n")


def test_truth_json_is_deterministic_and_round_trips(trial):
    text = trial.truth.to_json()
    assert text == simulate(paths.DEFAULT_SEED).truth.to_json()
    loaded = json.loads(text)
    assert loaded["seed"] == paths.DEFAULT_SEED and loaded["n_students"] == 2460
    assert loaded["effects"]["practice_late"] == [10.9, 13.3, -17.3]
    assert set(loaded["table1"]) == {"all", "grade1", "grade2", "grade3"}


# ------------------------------------------------------------------ schema


def test_columns_and_dtypes_follow_the_data_dictionary(data):
    assert list(data.columns) == list(COLUMNS)
    for name, spec in COLUMNS.items():
        col = data[name]
        if spec.dtype == "str":
            assert pd.api.types.is_string_dtype(col), name
        elif spec.dtype == "category":
            assert isinstance(col.dtype, pd.CategoricalDtype), name
            assert set(col.dropna().unique()) <= set(spec.allowed), name
        elif spec.dtype == "int":
            assert pd.api.types.is_integer_dtype(col), name
        else:
            assert col.dtype == np.float64, name
        if not spec.nullable:
            assert col.notna().all(), name
        values = col.dropna()
        if spec.allowed is not None and spec.dtype != "category":
            assert set(values.unique()) <= set(spec.allowed), name
        if spec.min is not None:
            assert values.min() >= spec.min, name
        if spec.max is not None:
            assert values.max() <= spec.max, name
    assert data["student_id"].is_unique


def test_the_validator_accepts_the_synthetic_data(data):
    problems = schema.validate(data, source="simulate()")
    assert schema.errors_only(problems) == [], "\n".join(map(str, problems))


def test_every_written_format_reads_back_to_the_same_values(trial, tmp_path):
    for suffix in (".parquet", ".xlsx", ".dta", ".sav"):
        path = trial.write(tmp_path / f"trial{suffix}")
        assert (tmp_path / "trial.truth.json").exists()
        if suffix == ".parquet":
            back = pd.read_parquet(path)
        elif suffix == ".xlsx":
            back = pd.read_excel(path)
        elif suffix == ".dta":
            back = pd.read_stata(path)
        else:
            import pyreadstat

            back, _ = pyreadstat.read_sav(str(path))
        assert list(back.columns) == list(COLUMNS), suffix
        np.testing.assert_allclose(back["practice_min_total"].to_numpy(float),
                                   trial.data["practice_min_total"].to_numpy(float))
        assert back["student_id"].astype(str).tolist() == trial.data["student_id"].tolist()
    with pytest.raises(ValueError, match=r"\.txt"):
        trial.write(tmp_path / "trial.txt")


# ------------------------------------------------------------------ exact published counts


def test_population_schools_grades_postcodes(data, analysis):
    assert 2450 < len(data) <= 2500  # "ruim 2450"
    assert sorted(data["school"].unique()) == ["A", "B"]
    assert sorted(data["grade"].unique()) == [1, 2, 3]
    assert data["postcode"].nunique() == 65
    assert analysis["postcode"].nunique() == 65
    assert data["postcode"].between(6000, 6499).all()
    # SES score and income are postcode attributes, and strongly correlated across areas
    per_area = data.groupby("postcode")[["ses_score", "income_avg"]].nunique()
    assert (per_area == 1).all().all()
    areas = data.drop_duplicates("postcode")
    assert areas["ses_score"].corr(areas["income_avg"]) > 0.7


def test_questionnaire_and_practice_counts(respondents):
    assert len(respondents) == 1619
    practice = respondents["practice_min_total"]
    assert int((practice == 0).sum()) == 216
    assert int((practice > 0).sum()) == 1403
    assert 14.5 < practice[practice > 0].mean() < 17.5  # "on average 16 minutes per week"
    assert practice.skew() > 1.0  # right-skewed
    assert len(respondents) / 2460 == pytest.approx(0.66, abs=0.005)


def test_complete_cases_by_grade(respondents, analysis):
    assert len(analysis) == 1585
    assert analysis["grade"].value_counts().sort_index().tolist() == [560, 581, 444]
    # only Cito and the home situation are ever missing among the controls
    incomplete = respondents.drop(analysis.index)
    assert incomplete[["age", "ses_score"]].notna().all().all()
    assert incomplete[["cito", "both_parents_home"]].isna().any(axis=1).all()


def test_compliance_funnel(data, respondents):
    assert int(respondents["downloaded"].sum()) == 309
    with_access = int(respondents.loc[respondents["access"] == 1, "downloaded"].sum())
    assert with_access == 187 and 0.5 < with_access / 309 < 0.65  # "ruim de helft"
    assert int(respondents["app_used"].sum()) == 181
    users = data[data["app_used"] == 1]
    assert 1.0 < users["app_logins_per_week"].mean() < 1.3  # "a little more than once a week"


def test_one_sided_noncompliance_and_family_randomisation(data):
    assert (data.loc[data["access"] == 0, "app_used"] == 0).all()
    assert (data.loc[data["app_used"] == 1, "downloaded"] == 1).all()
    assert ((data["app_logins_per_week"] > 0) == (data["app_used"] == 1)).all()
    per_family = data.groupby("family_id")
    assert (per_family["access"].nunique() == 1).all()  # siblings share the assignment
    assert (per_family["postcode"].nunique() == 1).all()
    sizes = per_family.size()
    assert (sizes > 1).sum() > 100  # families with siblings exist
    families = data.drop_duplicates("family_id")
    assert families["access"].mean() == pytest.approx(0.5, abs=0.01)
    assert data["module_arm"].value_counts().tolist() == [1230, 1230]


def test_practice_total_is_maths_plus_language(data):
    total = data["practice_min_math"] + data["practice_min_language"]
    np.testing.assert_allclose(total, data["practice_min_total"], atol=1e-9)


def test_questionnaire_items_only_for_respondents(data):
    st = data[list(STUDENT_ITEMS)].notna().all(axis=1)
    assert (st == (data["responded_student"] == 1)).all()
    pa = data[list(PARENT_ITEMS)].notna().all(axis=1)
    assert (pa == (data["responded_parent"] == 1)).all()


# ------------------------------------------------------------------ realistic selection


def test_response_depends_on_covariates(data):
    responded = data["responded_student"]
    assert responded[data["gender"] == "girl"].mean() > responded[data["gender"] == "boy"].mean()
    assert data.loc[responded == 1, "cito"].mean() > data.loc[responded == 0, "cito"].mean()
    home = data["both_parents_home"]
    assert responded[home == 1].mean() > responded[home == 0].mean()


def test_take_up_is_not_concentrated_in_high_ses(analysis):
    with_access = analysis[analysis["access"] == 1]
    tertile = pd.qcut(with_access["ses_score"].rank(method="first"), 3, labels=False)
    take_up = with_access.groupby(tertile)["app_used"].mean()
    assert take_up.iloc[2] < take_up.max() + 1e-12
    assert take_up.iloc[2] < 1.5 * take_up.iloc[0]  # no SES gap (claim 9)
    users = analysis[analysis["app_used"] == 1]
    assert 0.35 < (users["ses_score"].rank(pct=True).mean()) < 0.65


# ------------------------------------------------------------------ parameters and truth


def test_truth_holds_the_calibrated_complier_effects(trial):
    table1 = trial.truth.table1
    for g, target in zip((1, 2, 3), Effects().practice_late, strict=True):
        assert table1[f"grade{g}"] == pytest.approx(target, abs=0.02)
    assert table1["all"] == pytest.approx(3.3, abs=0.6)
    counts = trial.truth.counts
    assert counts["analysis_sample"] == 1585 and counts["users_respondents"] == 181


def test_other_effects_change_outcomes_not_design():
    base = simulate(7)
    null = simulate(7, effects=Effects.none())
    design_cols = ["student_id", "family_id", "grade", "access", "app_used", "cito",
                   "responded_student"]
    pd.testing.assert_frame_equal(base.data[design_cols], null.data[design_cols])
    assert not base.data["practice_min_total"].equals(null.data["practice_min_total"])
    for key, value in null.truth.table1.items():
        assert value == pytest.approx(0.0, abs=0.02), key
    assert null.truth.math_score["all"] == 0.0
    assert (null.data["responded_student"] == 1).sum() == 1619
    zero = null.data.loc[null.data["responded_student"] == 1, "practice_min_total"] == 0
    assert zero.sum() == 216


def test_custom_effects_are_hit_in_the_sample():
    effects = Effects(practice_late=(5.0, -5.0, 0.0))
    truth = simulate(11, effects=effects).truth
    assert [truth.table1[f"grade{g}"] for g in (1, 2, 3)] == pytest.approx([5, -5, 0], abs=0.02)


def test_other_sizes_scale_the_exact_counts():
    n = 1230
    data = simulate(3, n_students=n).data
    targets = FunnelTargets.for_n(n)
    respondents = data[data["responded_student"] == 1]
    assert len(data) == n
    assert len(respondents) == targets.respondents == 808  # per-grade parts scaled and rounded
    complete = respondents.dropna(subset=list(STUDY_CONTROLS))
    assert complete["grade"].value_counts().sort_index().tolist() == [280, 290, 222]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="n_students=100"):
        simulate(1, n_students=100)
    with pytest.raises(ValueError, match="practice_late"):
        Effects(practice_late=(1.0, 2.0))
    with pytest.raises(ValueError, match="grade 3"):
        simulate(1, effects=Effects(practice_late=(10.9, 13.3, -200.0)))
    with pytest.raises(TypeError, match="Effects"):
        simulate(1, effects={"practice_late": (0, 0, 0)})
