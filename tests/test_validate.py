"""schema.validate: every kind of breakage is reported with its column, its rows (as numbered in
the file) and a fix; valid data give no error; the typed frame keeps the values."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parentapp import schema
from parentapp.schema import COLUMNS, DataValidationError, Problem


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    return schema.example(n_students=200, seed=11)


@pytest.fixture
def frame(base) -> pd.DataFrame:
    return base.copy()


def errors(df: pd.DataFrame, source: str = "trial.csv") -> list[Problem]:
    return schema.errors_only(schema.validate(df, source=source))


def only_error(df: pd.DataFrame, source: str = "trial.csv") -> Problem:
    found = errors(df, source)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def sibling_rows(df: pd.DataFrame) -> np.ndarray:
    """Positions of the first family with at least two children."""
    sizes = df["family_id"].value_counts()
    family = sizes.index[sizes >= 2][0]
    return np.flatnonzero(df["family_id"].to_numpy() == family)


# ---------------------------------------------------------------- valid data


def test_example_frame_is_valid_and_has_what_tests_need(base):
    problems = schema.validate(base, "trial.csv")
    assert schema.errors_only(problems) == []
    assert list(base.columns) == list(COLUMNS)
    # the frame exercises every rule: siblings, both arms, users, non-respondents, missing
    assert base["family_id"].duplicated().any()
    assert set(base["access"]) == {0, 1}
    assert base["app_used"].sum() > 0
    assert set(base["responded_student"]) == {0, 1}
    assert base["cito"].isna().any()


def test_typed_frame_keeps_values_and_gets_analysis_types(base):
    typed, problems = schema.check(base, "trial.csv")
    assert schema.errors_only(problems) == []
    assert typed["grade"].dtype == np.int64
    assert typed["access"].dtype == np.int64
    assert typed["both_parents_home"].dtype == np.float64  # nullable code: NaN allowed
    assert isinstance(typed["gender"].dtype, pd.CategoricalDtype)
    assert list(typed["track"].cat.categories) == ["vmbo", "havo", "vwo"]
    for name in COLUMNS:
        left, right = typed[name].astype(object), base[name].astype(object)
        same = (left == right) | (pd.isna(left) & pd.isna(right))
        assert same.all(), name


def test_check_is_idempotent_on_typed_frames(base):
    typed = schema.coerce(base)
    again = schema.coerce(typed)
    pd.testing.assert_frame_equal(again, typed)


def test_numbers_as_text_with_either_decimal_mark_are_valid(frame):
    text = frame.astype({"age": object, "practice_min_math": object})
    text["age"] = [f"{v:.2f}".replace(".", ",") if pd.notna(v) else "" for v in frame["age"]]
    text["practice_min_math"] = [str(v) for v in frame["practice_min_math"]]
    typed, problems = schema.check(text, "export.csv")
    assert schema.errors_only(problems) == []
    np.testing.assert_allclose(typed["age"], frame["age"].round(2))
    np.testing.assert_array_equal(typed["practice_min_math"], frame["practice_min_math"])


def test_to_number_closed_forms():
    raw = ["15,5", "15.5", " 3 ", "-0,25", "", None, "abc", "1.234,5"]
    parsed = schema.to_number(pd.Series(raw))
    expected = [15.5, 15.5, 3.0, -0.25, np.nan, np.nan, np.nan, np.nan]
    np.testing.assert_array_equal(parsed.to_numpy(), np.array(expected))


# ---------------------------------------------------------------- columns


def test_missing_column_is_named_with_a_fix(frame):
    problem = only_error(frame.drop(columns=["cito"]))
    assert problem.column == "cito"
    assert "missing" in problem.message
    assert "add the column 'cito'" in problem.hint
    assert problem.source == "trial.csv"


def test_wrongly_spelled_column_gets_a_rename_hint(frame):
    found = errors(frame.rename(columns={"both_parents_home": "Both Parents Home"}))
    assert [p.column for p in found] == ["both_parents_home"]
    assert "rename it to 'both_parents_home'" in found[0].hint
    assert "'Both Parents Home'" in found[0].hint


def test_extra_columns_are_a_note_not_an_error(frame):
    frame["teacher_remark"] = "ok"
    problems = schema.validate(frame, "trial.csv")
    assert schema.errors_only(problems) == []
    notes = [p for p in problems if p.severity == "note"]
    assert len(notes) == 1 and "teacher_remark" in notes[0].message
    assert "note" in str(notes[0])


def test_duplicated_column_names_are_reported(frame):
    doubled = pd.concat([frame, frame[["grade"]]], axis=1)
    problem = only_error(doubled)
    assert problem.column == "grade" and "more than once" in problem.message


def test_empty_file_is_an_error(frame):
    problem = only_error(frame.iloc[:0])
    assert "no data rows" in problem.message


# ---------------------------------------------------------------- per-column values


def test_text_in_a_numeric_column_names_value_column_and_line(frame):
    frame = frame.astype({"age": object})
    frame.loc[3, "age"] = "twelve"
    problem = only_error(frame)
    assert problem.column == "age"
    assert problem.rows == (5,)  # position 3 -> line 5 of the CSV (header is line 1)
    assert "'twelve'" in problem.message and "not a number" in problem.message
    text = str(problem)
    assert text.startswith("trial.csv: column 'age', line 5:")
    assert "Fix:" in text


def test_row_numbers_follow_the_file_format(frame):
    frame.loc[7, "cito"] = 700
    assert only_error(frame, "trial.csv").rows == (9,)
    assert only_error(frame, "trial.xlsx").rows == (9,)
    assert "row 9" in str(only_error(frame, "trial.xlsx"))
    assert only_error(frame, "trial.dta").rows == (8,)
    assert "observation 8" in str(only_error(frame, "trial.dta"))


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("cito", 700, "outside the plausible range 501 to 550"),
        ("age", 45, "outside the plausible range 10 to 18"),
        ("score_math_jan", 101, "outside the plausible range 0 to 100"),
        ("ses_score", -99, "outside the plausible range -10 to 10"),
        ("grade", 4, "not allowed"),
        ("gender", "Boy", "not allowed"),
        ("track", "gymnasium", "not allowed"),
        ("access", 2, "not allowed"),
        ("postcode", 6200.5, "not a whole number"),
    ],
)
def test_out_of_range_and_unknown_codes(frame, column, value, words):
    row = 10
    if column == "ses_score":  # one value per postcode: change the whole postcode area
        rows = np.flatnonzero(frame["postcode"].to_numpy() == frame.loc[row, "postcode"])
    elif column == "postcode":  # give the student a postcode area of its own
        rows = np.array([row])
        frame = frame.astype({"postcode": float})
    else:
        rows = np.array([row])
    frame = frame.astype({column: object})
    frame.loc[rows, column] = value
    problem = only_error(frame)
    assert problem.column == column
    assert words in problem.message
    assert problem.rows == tuple(int(r) + 2 for r in sorted(rows))[:5]
    assert repr(value) in problem.message or repr(float(value)) in problem.message


def test_likert_answer_out_of_scale(frame):
    row = int(np.flatnonzero(frame["responded_student"].to_numpy() == 1)[0])
    frame.loc[row, "st_wants_more_help"] = 6
    problem = only_error(frame)
    assert (problem.column, problem.rows) == ("st_wants_more_help", (row + 2,))
    assert "1, 2, 3, 4, 5" in problem.message


def test_missing_value_where_none_is_allowed(frame):
    frame.loc[[4, 6], "grade"] = np.nan
    problem = only_error(frame)
    assert (problem.column, problem.rows, problem.count) == ("grade", (6, 8), 2)
    assert "missing value" in problem.message


def test_unparsable_value_is_not_reported_twice_as_missing(frame):
    frame = frame.astype({"grade": object})
    frame.loc[4, "grade"] = "two"
    problem = only_error(frame)
    assert problem.column == "grade" and "not a number" in problem.message


def test_duplicate_student_ids(frame):
    frame.loc[9, "student_id"] = frame.loc[8, "student_id"]
    problem = only_error(frame)
    assert problem.column == "student_id"
    assert problem.rows == (10, 11)
    assert frame.loc[8, "student_id"] in problem.message


def test_first_few_rows_and_the_count_of_the_rest(frame):
    rows = np.arange(20, 32)
    frame.loc[rows, "cito"] = 400
    problem = only_error(frame)
    assert problem.count == 12
    assert problem.rows == tuple(int(r) + 2 for r in rows[: schema.MAX_ROWS_SHOWN])
    assert "and 7 more" in str(problem)


# ---------------------------------------------------------------- design rules


def test_siblings_with_different_access(frame):
    rows = sibling_rows(frame)
    frame.loc[rows[0], "access"] = 1 - frame.loc[rows[0], "access"]
    # keep the broken row consistent otherwise (no use without access)
    frame.loc[rows, ["downloaded", "app_used", "app_logins_per_week"]] = [0, 0, 0.0]
    problem = only_error(frame)
    assert problem.column == "access"
    assert problem.rows == tuple(int(r) + 2 for r in rows)
    assert problem.count == 1 and "1 family" in problem.message
    assert frame.loc[rows[0], "family_id"] in problem.message
    assert "randomised per family" in problem.hint


def test_app_use_without_access_is_reported_not_fixed(frame):
    row = int(np.flatnonzero((frame["access"] == 0).to_numpy())[0])
    family = frame.loc[row, "family_id"]
    rows = np.flatnonzero(frame["family_id"].to_numpy() == family)
    frame.loc[rows, ["downloaded", "app_used", "app_logins_per_week"]] = [1, 1, 1.5]
    before = frame.copy()
    problem = only_error(frame)
    assert problem.column == "app_used"
    assert problem.rows == tuple(int(r) + 2 for r in rows)
    assert "access = 0" in problem.message and "never recoded" in problem.hint
    pd.testing.assert_frame_equal(frame, before)  # the input is untouched


def test_use_without_download(frame):
    users = np.flatnonzero(frame["app_used"].to_numpy() == 1)
    frame.loc[users[0], "downloaded"] = 0
    problem = only_error(frame)
    assert (problem.column, problem.rows) == ("downloaded", (int(users[0]) + 2,))


@pytest.mark.parametrize("direction", ["used_without_logins", "logins_without_use"])
def test_logins_iff_used(frame, direction):
    if direction == "used_without_logins":
        row = int(np.flatnonzero(frame["app_used"].to_numpy() == 1)[0])
        frame.loc[row, "app_logins_per_week"] = 0.0
        words = "0 logins"
    else:
        row = int(np.flatnonzero(frame["app_used"].to_numpy() == 0)[0])
        frame.loc[row, "app_logins_per_week"] = 2.0
        words = "app_used = 0"
    problem = only_error(frame)
    assert (problem.column, problem.rows) == ("app_logins_per_week", (row + 2,))
    assert words in problem.message


def test_total_minutes_must_be_the_sum_within_tolerance(frame):
    frame.loc[5, "practice_min_total"] = frame.loc[5, "practice_min_total"] + 0.1  # rounding
    assert errors(frame) == []
    frame.loc[6, "practice_min_total"] = frame.loc[6, "practice_min_total"] + 5
    problem = only_error(frame)
    assert (problem.column, problem.rows) == ("practice_min_total", (8,))


def test_implausible_minutes(frame):
    frame.loc[12, "practice_min_math"] = 900.0
    frame.loc[12, "practice_min_total"] = 900.0 + frame.loc[12, "practice_min_language"]
    problem = only_error(frame)
    assert problem.column == "practice_min_math" and "0 to 600 min/week" in problem.message


def test_answers_of_non_respondents(frame):
    row = int(np.flatnonzero(frame["responded_student"].to_numpy() == 0)[0])
    frame.loc[row, "st_talks_with_parents"] = 3
    problem = only_error(frame)
    assert (problem.column, problem.rows) == ("responded_student", (row + 2,))
    assert "responded_student = 0" in problem.message


def test_respondent_without_any_answer(frame):
    row = int(np.flatnonzero(frame["responded_parent"].to_numpy() == 1)[0])
    frame.loc[row, list(schema.PARENT_ITEMS)] = np.nan
    problem = only_error(frame)
    assert (problem.column, problem.rows) == ("responded_parent", (row + 2,))


def test_skipped_single_item_is_only_a_note(frame):
    row = int(np.flatnonzero(frame["responded_student"].to_numpy() == 1)[0])
    frame.loc[row, "st_wants_more_help"] = np.nan
    problems = schema.validate(frame, "trial.csv")
    assert schema.errors_only(problems) == []
    assert [(p.severity, p.column, p.rows) for p in problems] == [
        ("note", "responded_student", (row + 2,))
    ]


def test_area_measures_are_constant_within_a_postcode(frame):
    frame.loc[0, "income_avg"] = frame.loc[0, "income_avg"] + 1
    problem = only_error(frame)
    assert problem.column == "income_avg"
    assert str(frame.loc[0, "postcode"]) in problem.message
    rows = np.flatnonzero(frame["postcode"].to_numpy() == frame.loc[0, "postcode"])
    assert problem.rows == tuple(int(r) + 2 for r in rows[:5])


# ---------------------------------------------------------------- everything at once


def test_every_problem_is_listed_at_once(frame):
    frame = frame.astype({"age": object, "gender": object})
    frame.loc[1, "age"] = "n/b"
    frame.loc[2, "gender"] = "m"
    frame.loc[3, "cito"] = 100
    frame.loc[5, "student_id"] = frame.loc[4, "student_id"]
    frame.loc[6, "practice_min_total"] = 999
    frame = frame.drop(columns=["track"])
    found = errors(frame)
    assert {p.column for p in found} == {
        "age", "gender", "cito", "student_id", "practice_min_total", "track"
    }
    with pytest.raises(DataValidationError) as info:
        schema.coerce(frame, source="trial.csv")
    message = str(info.value)
    assert message.startswith("trial.csv: 6 problem(s) found")
    for column in ("age", "gender", "cito", "student_id", "practice_min_total", "track"):
        assert f"column '{column}'" in message
    assert len(info.value.problems) == 6


def test_validate_never_raises_on_garbage():
    garbage = pd.DataFrame({"student_id": [None, 3.0], "grade": ["x", None], "what": [1, 2]})
    problems = schema.validate(garbage, "junk.csv")
    missing = {p.column for p in problems if p.message == "required column is missing"}
    assert missing == set(COLUMNS) - {"student_id", "grade"}
    assert any(p.column == "grade" and "not a number" in p.message for p in problems)
    assert any(p.column == "student_id" and "missing value" in p.message for p in problems)


def test_not_a_dataframe_is_a_type_error():
    with pytest.raises(TypeError, match="DataFrame"):
        schema.validate([1, 2, 3])


# ---------------------------------------------------------------- property


NUMERIC_WITH_BOUNDS = [
    name for name, col in COLUMNS.items()
    if col.dtype in ("int", "float") and col.max is not None and col.allowed is None
    and name not in ("ses_score", "income_avg", "practice_min_total")  # tied to other columns
]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    column=st.sampled_from(NUMERIC_WITH_BOUNDS),
    position=st.integers(0, 199),
    excess=st.floats(0.5, 1e4, allow_nan=False),
    above=st.booleans(),
)
def test_any_out_of_range_cell_is_found_in_its_row(base, column, position, excess, above):
    col = COLUMNS[column]
    frame = base.copy()
    value = col.max + excess if above else col.min - excess
    frame[column] = frame[column].astype(float)
    frame.loc[position, column] = value
    if column.startswith("practice_min_"):
        frame["practice_min_total"] = frame["practice_min_math"] + frame["practice_min_language"]
    if column == "app_logins_per_week":
        frame.loc[position, "app_used"] = int(value > 0)
    found = [p for p in errors(frame, "x.dta")
             if p.column == column and re.search(r"outside the plausible range", p.message)]
    assert len(found) == 1
    assert found[0].rows == (position + 1,)


# ---------------------------------------------------------------- data/README.md


def test_data_readme_dictionary_matches_columns():
    from parentapp import paths

    text = (paths.DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert schema.update_readme_text(text) == text, (
        "data/README.md is out of date: run `.venv/bin/python -m parentapp.schema`"
    )
    block = text[text.index(schema.README_BEGIN):text.index(schema.README_END)]
    table_rows = [line for line in block.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in table_rows] == list(COLUMNS)
    assert "(synthetic/README.md)" in text


def test_rendered_dictionary_states_type_unit_and_allowed_values():
    table = schema.render_dictionary()
    assert "| `cito` | float | points | 501 to 550 | yes |" in table
    assert "| `gender` | category |  | boy, girl | no |" in table
    assert "| `access` | int |  | 0 = no, 1 = yes | no |" in table
