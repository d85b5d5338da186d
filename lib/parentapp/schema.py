"""The data dictionary and its validator: every variable the pipeline reads, in one place.

``COLUMNS`` is the single source of truth for names, types, units and allowed values; the
validator (pandera), the simulator and ``data/README.md`` all follow it (``render_dictionary``
writes the table in ``data/README.md``; a test checks that the two agree).

``check(df, source)`` returns the coerced frame and every problem found at once;
``validate(df, source)`` returns only the problems. Each :class:`Problem` names the file, the
column, the first few rows and the fix.

Row numbers in problems are the numbers the user sees in the file: for CSV the line number and
for Excel the sheet row, both counting the header as 1 (so the first student is 2); for Stata,
SPSS, Parquet and in-memory frames the observation number (the first student is 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa


@dataclass(frozen=True)
class Column:
    """One variable of the raw data: its name, type, unit, allowed values and origin.

    ``dtype`` is one of "str" (identifiers), "int" (whole numbers, codes), "float", "category"
    (text codes from ``allowed``). ``min``/``max`` bound the plausible values (inclusive).
    ``nullable`` says whether a missing value is allowed; ``required`` whether the column must
    be present.
    """

    name: str
    dtype: str  # "str", "int", "float", "category"
    description: str
    unit: str = ""
    allowed: tuple | None = None  # allowed values (categorical/binary)
    min: float | None = None
    max: float | None = None
    nullable: bool = False  # missing values allowed (e.g. questionnaire items of non-respondents)
    required: bool = True
    source: str = ""  # where it comes from in the study


_BIN = (0, 1)
_LIKERT = (1, 2, 3, 4, 5)

COLUMNS: dict[str, Column] = {
    c.name: c
    for c in [
        Column("student_id", "str", "Student identifier (unique per row).",
               source="school records"),
        Column("family_id", "str",
               "Family identifier; siblings share it. Unit of parental randomisation.",
               source="school records"),
        Column("school", "category", "School.", allowed=("A", "B"),
               source="two schools in Limburg"),
        Column("grade", "int", "Grade of lower secondary (1 = brugklas, international grade 7).",
               allowed=(1, 2, 3), source="school records"),
        Column("track", "category", "Track / level.", allowed=("vmbo", "havo", "vwo"),
               source="school records"),
        Column("gender", "category", "Gender.", allowed=("boy", "girl"), source="school records"),
        Column("age", "float", "Age on 1 September 2014.", unit="years", min=10, max=18,
               nullable=True, source="school records"),
        Column("cito", "float", "Cito score (national primary-school leaving test).",
               unit="points", min=501, max=550, nullable=True, source="school records"),
        Column("both_parents_home", "int", "Home situation: 1 if both parents live at home.",
               allowed=_BIN, nullable=True, source="student questionnaire / school records"),
        Column("postcode", "int", "4-digit postcode area of the home address.", min=1000,
               max=9999, source="school records"),
        Column("ses_score", "float",
               "SCP 2009 status score of the postcode area (higher = higher SES).",
               unit="SCP score", min=-10, max=10, nullable=True, source="SCP statusscores 2009"),
        Column("income_avg", "float", "Average income per inhabitant in the postcode area.",
               unit="thousand EUR/year", min=5, max=100, nullable=True,
               source="CBS, postcode statistics"),
        Column("module_arm", "category",
               "Student randomisation: which half of the modules in term 1.",
               allowed=("A", "B"), source="randomisation 1 (students)"),
        Column("access", "int",
               "Parental randomisation: 1 if the family was given access to the app.",
               allowed=_BIN, source="randomisation 2 (families)"),
        Column("downloaded", "int", "1 if a parent downloaded the app.", allowed=_BIN,
               source="app logs"),
        Column("app_used", "int", "1 if a parent used the app (logged in with access).",
               allowed=_BIN, source="app logs"),
        Column("app_logins_per_week", "float",
               "Intensity of use: parental logins per week (0 if the app was not used).",
               unit="logins/week", min=0, max=50, source="app logs"),
        Column("responded_student", "int",
               "1 if the student answered the end-of-study questionnaire.",
               allowed=_BIN, source="questionnaire"),
        Column("responded_parent", "int", "1 if a parent answered the end-of-study questionnaire.",
               allowed=_BIN, source="questionnaire"),
        Column("st_wants_more_help", "float", "Student: 'I would like my parents to help me more.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="student questionnaire"),
        Column("st_parents_interfere_less", "float",
               "Student: 'My parents should interfere less with my schoolwork.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="student questionnaire"),
        Column("st_talks_with_parents", "float", "Student: 'I talk with my parents about school.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="student questionnaire"),
        Column("pa_child_needs_help", "float",
               "Parent: 'My child needs a lot of help with schoolwork.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="parent questionnaire"),
        Column("pa_could_use_more_help", "float", "Parent: 'My child could use more help from us.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="parent questionnaire"),
        Column("pa_talks_with_child", "float", "Parent: 'I talk with my child about school.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="parent questionnaire"),
        Column("practice_min_math", "float",
               "Minutes per week practised at home, maths (average September to January).",
               unit="min/week", min=0, max=600, source="homework-tool logs"),
        Column("practice_min_language", "float", "Minutes per week practised at home, language.",
               unit="min/week", min=0, max=600, source="homework-tool logs"),
        Column("practice_min_total", "float", "Minutes per week practised, maths + language.",
               unit="min/week", min=0, max=1200, source="homework-tool logs"),
        Column("score_math_sep", "float", "Maths placement test, September 2014.", unit="0-100",
               min=0, max=100, nullable=True, source="homework tool"),
        Column("score_math_jan", "float", "Maths test, January 2015.", unit="0-100", min=0,
               max=100, nullable=True, source="homework tool"),
        Column("score_lang_sep", "float", "Language placement test, September 2014.",
               unit="0-100", min=0, max=100, nullable=True, source="homework tool"),
        Column("score_lang_jan", "float", "Language test, January 2015.", unit="0-100", min=0,
               max=100, nullable=True, source="homework tool"),
    ]
}

ID_COLUMNS = ("student_id", "family_id")
STUDENT_ITEMS = ("st_wants_more_help", "st_parents_interfere_less", "st_talks_with_parents")
PARENT_ITEMS = ("pa_child_needs_help", "pa_could_use_more_help", "pa_talks_with_child")
NUMERIC_DTYPES = ("int", "float")

# Tolerance for practice_min_total == practice_min_math + practice_min_language: the three are
# rounded separately to one decimal in exports, so their sum can differ by up to 0.1.
TOTAL_TOLERANCE = 0.1 + 1e-9
MAX_ROWS_SHOWN = 5  # row numbers listed per problem; the count gives the rest

# Suffixes whose files have a header line counted in the row numbers users see.
_HEADER_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls")


# --------------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One finding of the validator.

    Attributes
    ----------
    column : str
        The column concerned ("" for the file as a whole).
    rows : tuple of int
        The first few row numbers as seen in the file (see the module docstring: CSV line or
        Excel row with the header as 1; otherwise the observation number, first = 1).
    count : int
        How many rows (or, for family-level checks, families) are affected in total.
    message : str
        What is wrong.
    hint : str
        How to fix it.
    source : str
        The file (or label) the data came from.
    severity : str
        "error" (the data cannot be used) or "note" (reported, the data can be used).
    """

    column: str
    rows: tuple[int, ...]
    count: int
    message: str
    hint: str
    source: str = "<data>"
    severity: str = "error"

    def __str__(self) -> str:
        where = f"column '{self.column}'" if self.column else "file"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows)
            more = f" and {self.count - len(self.rows)} more" if self.count > len(self.rows) else ""
            where += f", {_row_word(self.source, max(len(self.rows), self.count))} {shown}{more}"
        tag = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.source}: {tag}{where}: {self.message}. Fix: {self.hint}"


class DataValidationError(ValueError):
    """Raised when a data file fails validation; the message lists every problem."""

    def __init__(self, problems: Sequence[Problem], source: str = "<data>"):
        self.problems = list(problems)
        self.source = source
        errors = [p for p in self.problems if p.severity == "error"]
        lines = [f"{source}: {len(errors)} problem(s) found; the data were not used."]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that make the data unusable (severity "error")."""
    return [p for p in problems if p.severity == "error"]


def _row_offset(source: str) -> int:
    return 2 if str(source).lower().endswith(_HEADER_SUFFIXES) else 1


def _row_word(source: str, n: int = 2) -> str:
    s = str(source).lower()
    if s.endswith((".csv", ".txt", ".tsv")):
        word = "line"
    elif s.endswith((".xlsx", ".xlsm", ".xls")):
        word = "row"
    else:
        word = "observation"
    return _word(n, word)


def _file_rows(positions: Iterable[int], source: str) -> tuple[int, ...]:
    """First few row numbers as seen in the file, from 0-based positions."""
    offset = _row_offset(source)
    unique = sorted({int(p) for p in positions})
    return tuple(p + offset for p in unique[:MAX_ROWS_SHOWN])


def _examples(values: Iterable, k: int = 3) -> str:
    seen: list[str] = []
    for v in values:
        text = repr(v.item() if isinstance(v, np.generic) else v)
        if text not in seen:
            seen.append(text)
        if len(seen) == k:
            break
    return ", ".join(seen)


def _word(n: int, singular: str, plural: str | None = None) -> str:
    return singular if n == 1 else (plural or singular + "s")


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {_word(n, singular, plural)}"


def _be(n: int) -> str:
    return "is" if n == 1 else "are"


def _have(n: int) -> str:
    return "has" if n == 1 else "have"


def _short(description: str) -> str:
    return description.rstrip(". ")


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else str(x)


# --------------------------------------------------------------------------------------------
# Parsing: raw file values -> typed values (never guessing meaning, only notation)
# --------------------------------------------------------------------------------------------

_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")


def to_number(values: pd.Series) -> pd.Series:
    """Parse a column to float64: numbers stay, text digits with '.' or ',' as decimal mark parse.

    Booleans become 0/1. Anything that is not a number becomes NaN (the validator reports those
    values as type errors before they are lost).
    """
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values, errors="coerce").astype("float64")
    text = values.astype("string").str.strip()
    comma = text.str.match(_DECIMAL_COMMA).fillna(False).astype(bool)
    text = text.where(~comma, text.str.replace(",", ".", regex=False))
    text = text.replace("", pd.NA)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _is_missing(values: pd.Series) -> pd.Series:
    missing = values.isna()
    if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        missing |= values.astype("string").str.strip().eq("").fillna(True).astype(bool)
    return missing


def to_text(values: pd.Series) -> pd.Series:
    """Parse a column to text: whole numbers print without '.0' (ids exported as numbers)."""
    if pd.api.types.is_float_dtype(values):
        whole = values.notna() & (values % 1 == 0)
        out = values.astype("string")
        out[whole] = values[whole].astype("int64").astype("string")
        return out.astype("str").where(values.notna(), None)
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("object")
    out = values.astype("string").str.strip()
    out = out.where(out != "", pd.NA)
    return out.astype("str").where(out.notna(), None)


def _parse(df: pd.DataFrame) -> pd.DataFrame:
    """Typed copy of the known columns: numbers as float64, ids and codes as text."""
    parsed = {}
    for name in df.columns:
        col = COLUMNS.get(name)
        if col is None:
            parsed[name] = df[name]
        elif col.dtype in NUMERIC_DTYPES:
            parsed[name] = to_number(df[name])
        else:
            parsed[name] = to_text(df[name])
    return pd.DataFrame(parsed, index=df.index)


# --------------------------------------------------------------------------------------------
# Pandera schemas built from COLUMNS
# --------------------------------------------------------------------------------------------


def _is_number_check() -> pa.Check:
    return pa.Check(
        lambda s: to_number(s).notna() | _is_missing(s), name="is_number", ignore_na=False
    )


def _is_whole_check() -> pa.Check:
    return pa.Check(lambda s: (s % 1) == 0, name="is_whole")


def _parse_schema(columns: Iterable[str]) -> pa.DataFrameSchema:
    """Stage 1 (types): every entry of a numeric column must read as a number."""
    return pa.DataFrameSchema(
        {
            name: pa.Column(checks=[_is_number_check()], nullable=True)
            for name in columns
            if name in COLUMNS and COLUMNS[name].dtype in NUMERIC_DTYPES
        },
        strict=False,
    )


def value_schema(columns: Iterable[str] | None = None) -> pa.DataFrameSchema:
    """Stage 2 (values) on the parsed frame: ranges, allowed values, missingness, unique ids.

    Parameters
    ----------
    columns : iterable of str, optional
        The columns present (default: all of ``COLUMNS``).
    """
    names = list(COLUMNS) if columns is None else [c for c in columns if c in COLUMNS]
    spec = {}
    for name in names:
        col = COLUMNS[name]
        checks: list[pa.Check] = []
        if col.dtype in NUMERIC_DTYPES:
            dtype = "float64"
            if col.dtype == "int" and col.allowed is None:
                checks.append(_is_whole_check())
            if col.min is not None or col.max is not None:
                lo = -np.inf if col.min is None else col.min
                hi = np.inf if col.max is None else col.max
                checks.append(pa.Check.in_range(lo, hi))
        else:
            dtype = None
        if col.allowed is not None:
            checks.append(pa.Check.isin(list(col.allowed)))
        spec[name] = pa.Column(
            dtype,
            checks=checks,
            nullable=col.nullable,
            unique=(name == "student_id"),
            coerce=False,
        )
    return pa.DataFrameSchema(spec, strict=False)


def _pandera_failures(schema: pa.DataFrameSchema, df: pd.DataFrame) -> pd.DataFrame:
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return cases[cases["schema_context"] == "Column"]
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])


def _check_kind(check: str) -> str:
    for kind in ("is_number", "is_whole", "in_range", "isin", "not_nullable", "field_uniqueness"):
        if str(check).startswith(kind):
            return kind
    return "dtype" if str(check).startswith("dtype") else str(check)


def _pandera_problem(
    column: str, kind: str, cases: pd.DataFrame, source: str
) -> Problem:
    col = COLUMNS[column]
    positions = [int(i) for i in cases["index"].dropna()]
    count = len(set(positions))
    examples = _examples(cases["failure_case"])
    rows = _file_rows(positions, source)
    unit = f" {col.unit}" if col.unit else ""
    if kind == "is_number":
        msg = f"{_count(count, 'value')} {_be(count)} not a number (e.g. {examples})"
        hint = ("use digits only, with '.' or ',' as the decimal mark; leave a missing value "
                "empty (no text such as 'n/a' or '-')")
    elif kind == "is_whole":
        msg = f"{_count(count, 'value')} {_be(count)} not a whole number (e.g. {examples})"
        hint = f"{col.name} holds whole numbers ({_short(col.description)})"
    elif kind == "in_range":
        msg = (f"{_count(count, 'value')} outside the plausible range {_fmt(col.min)} to "
               f"{_fmt(col.max)}{unit} (e.g. {examples})")
        hint = (f"check the unit ({col.unit or 'see data/README.md'}) and typing errors; "
                f"{_short(col.description)}")
    elif kind == "isin":
        allowed = ", ".join(repr(a) for a in col.allowed)
        msg = f"{_count(count, 'value')} not allowed (e.g. {examples}); allowed: {allowed}"
        if col.allowed == (0, 1):
            hint = "code as 0 = no, 1 = yes"
        else:
            hint = f"recode to exactly these values (case-sensitive): {allowed}"
    elif kind == "not_nullable":
        msg = f"{_count(count, 'missing value')}; this column must be filled for every student"
        hint = (f"fill in {col.name} ({_short(col.description)}) or remove the incomplete "
                "rows on purpose")
    elif kind == "field_uniqueness":
        msg = f"{count} rows share their {col.name} with another row (e.g. {examples})"
        hint = "each student appears exactly once; remove duplicate rows or correct the ids"
    else:  # a dtype failure not covered above: should not happen after parsing
        msg = f"{_count(count, 'value')} of the wrong type (e.g. {examples}); expected {col.dtype}"
        hint = f"see data/README.md for the type of {col.name}"
    return Problem(column, rows, count, msg, hint, source=source)


# --------------------------------------------------------------------------------------------
# Design checks (relations between columns; vectorised pandas)
# --------------------------------------------------------------------------------------------


def _problem_from_mask(
    df: pd.DataFrame, mask: pd.Series, column: str, message: str, hint: str, source: str,
    severity: str = "error",
) -> list[Problem]:
    mask = mask.fillna(False).astype(bool)
    n = int(mask.sum())
    if n == 0:
        return []
    positions = np.flatnonzero(mask.to_numpy())
    text = message.format(n=n, students=_word(n, "student"), rows=_word(n, "row"),
                          have=_have(n), respondents=_word(n, "respondent"))
    return [Problem(column, _file_rows(positions, source), n, text, hint, source=source,
                    severity=severity)]


def _has(df: pd.DataFrame, *names: str) -> bool:
    return all(n in df.columns for n in names)


def _design_problems(df: pd.DataFrame, source: str) -> list[Problem]:
    out: list[Problem] = []

    if _has(df, "family_id", "access"):
        fam = df[["family_id", "access"]].dropna()
        n_levels = fam.groupby("family_id")["access"].nunique()
        bad_families = n_levels.index[n_levels > 1]
        if len(bad_families):
            mask = df["family_id"].isin(bad_families)
            example = _examples(bad_families)
            out.append(Problem(
                "access", _file_rows(np.flatnonzero(mask.to_numpy()), source),
                len(bad_families),
                f"{_count(len(bad_families), 'family', 'families')} "
                f"{_have(len(bad_families))} children with different access values "
                f"(family_id {example})",
                "parents were randomised per family, so all children of a family share "
                "'access'; check family_id and access in these rows",
                source=source,
            ))

    if _has(df, "access", "app_used"):
        out += _problem_from_mask(
            df, (df["app_used"] == 1) & (df["access"] == 0), "app_used",
            "{n} {students} {have} app_used = 1 although their family had no access (access = 0)",
            "control parents could not use the app (one-sided non-compliance); this is "
            "reported, never recoded: check the app logs and the access list",
            source,
        )
    if _has(df, "app_used", "downloaded"):
        out += _problem_from_mask(
            df, (df["app_used"] == 1) & (df["downloaded"] == 0), "downloaded",
            "{n} {students} {have} app_used = 1 but downloaded = 0",
            "a parent must download the app to use it; check both columns in the app logs",
            source,
        )
    if _has(df, "app_used", "app_logins_per_week"):
        logins = df["app_logins_per_week"]
        out += _problem_from_mask(
            df, (df["app_used"] == 1) & (logins == 0), "app_logins_per_week",
            "{n} {students} {have} app_used = 1 but 0 logins per week",
            "app_used = 1 means at least one login: logins per week must be > 0",
            source,
        )
        out += _problem_from_mask(
            df, (df["app_used"] == 0) & (logins > 0), "app_logins_per_week",
            "{n} {students} {have} logins per week > 0 but app_used = 0",
            "logins > 0 means the app was used: set app_used = 1 or correct the logins",
            source,
        )
    if _has(df, "practice_min_math", "practice_min_language", "practice_min_total"):
        diff = df["practice_min_total"] - (df["practice_min_math"] + df["practice_min_language"])
        out += _problem_from_mask(
            df, diff.abs() > TOTAL_TOLERANCE, "practice_min_total",
            "{n} {rows} where practice_min_total differs from practice_min_math + "
            "practice_min_language by more than 0.1 minute",
            "the total is the sum of maths and language minutes per week; recompute it",
            source,
        )
    for flag, items, who in (("responded_student", STUDENT_ITEMS, "student"),
                             ("responded_parent", PARENT_ITEMS, "parent")):
        present = [i for i in items if i in df.columns]
        if flag not in df.columns or not present:
            continue
        answered = df[present].notna()
        out += _problem_from_mask(
            df, (df[flag] == 0) & answered.any(axis=1), flag,
            f"{{n}} {{rows}} {{have}} {who} questionnaire answers but {flag} = 0",
            f"set {flag} = 1 for those who answered, or clear the answers of "
            f"non-respondents ({', '.join(present)})",
            source,
        )
        out += _problem_from_mask(
            df, (df[flag] == 1) & ~answered.any(axis=1), flag,
            f"{{n}} {{rows}} {{have}} {flag} = 1 but no {who} questionnaire answer at all",
            f"fill in the {who} items ({', '.join(present)}) or set {flag} = 0",
            source,
        )
        out += _problem_from_mask(
            df, (df[flag] == 1) & answered.any(axis=1) & ~answered.all(axis=1), flag,
            f"{{n}} {who} {{respondents}} skipped some items (item non-response)",
            "nothing to fix if the respondent left the item blank; analyses using these "
            "items drop those rows",
            source, severity="note",
        )
    for area_column in ("ses_score", "income_avg"):
        if not _has(df, "postcode", area_column):
            continue
        sub = df[["postcode", area_column]].dropna()
        n_values = sub.groupby("postcode")[area_column].nunique()
        bad = n_values.index[n_values > 1]
        if len(bad):
            mask = df["postcode"].isin(bad)
            out.append(Problem(
                area_column, _file_rows(np.flatnonzero(mask.to_numpy()), source), len(bad),
                f"{_count(len(bad), 'postcode area')} {_have(len(bad))} more than one "
                f"{area_column} value (postcode {_examples(bad)})",
                f"{area_column} is a property of the 4-digit postcode area: one value per "
                "postcode; check the postcode and the merge with the area statistics",
                source=source,
            ))
    return out


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _normalise_name(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", str(name).strip().lower())


def _column_problems(df: pd.DataFrame, source: str) -> list[Problem]:
    out: list[Problem] = []
    present = set(df.columns)
    by_normal = {_normalise_name(c): c for c in df.columns}
    for name, col in COLUMNS.items():
        if name in present or not col.required:
            continue
        near = by_normal.get(_normalise_name(name))
        if near is not None:
            hint = f"found a column '{near}': rename it to '{name}' (names are case-sensitive)"
        else:
            hint = f"add the column '{name}' ({_short(col.description)}); see data/README.md"
        out.append(Problem(name, (), len(df), "required column is missing", hint, source=source))
    extra = [c for c in df.columns if c not in COLUMNS]
    if extra:
        out.append(Problem(
            "", (), len(extra),
            f"{_count(len(extra), 'column')} not in the data dictionary: "
            f"{', '.join(map(str, extra))}",
            "nothing to fix: extra columns are kept but not used by the pipeline",
            source=source, severity="note",
        ))
    duplicated = pd.Index(df.columns)[pd.Index(df.columns).duplicated()].unique()
    for name in duplicated:
        out.append(Problem(str(name), (), int((df.columns == name).sum()),
                           "the column name occurs more than once",
                           "keep one column per variable", source=source))
    return out


def _final_types(parsed: pd.DataFrame) -> pd.DataFrame:
    """Cast parsed columns to their analysis types where the values allow it."""
    out = parsed.copy()
    for name in out.columns:
        col = COLUMNS.get(name)
        if col is None:
            continue
        if col.dtype == "int" and not col.nullable and out[name].notna().all() and (
            (out[name] % 1 == 0).all()
        ):
            out[name] = out[name].astype("int64")
        elif col.dtype == "category":
            known = out[name].where(out[name].isin(col.allowed))  # invalid ones are reported
            out[name] = pd.Categorical(known, categories=list(col.allowed))
        elif col.dtype == "str":
            out[name] = out[name].astype("str").where(out[name].notna(), None)
    return out


def check(df: pd.DataFrame, source: str = "<data>") -> tuple[pd.DataFrame, list[Problem]]:
    """Parse and validate a raw frame: the typed frame and every problem found.

    Parameters
    ----------
    df : DataFrame
        The raw data as read (any dtypes; text numbers with decimal commas are parsed).
    source : str
        The file name, used in messages and to number rows as the user sees them.

    Returns
    -------
    (DataFrame, list of Problem)
        The typed frame (known columns parsed: non-missing whole-number codes as int64,
        nullable ones as float64, text codes as ordered-by-dictionary categoricals, ids as
        text; rows in the file's order, index 0..n-1) and the problems (errors and notes).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    df = df.reset_index(drop=True)
    problems = _column_problems(df, source)
    if len(df) == 0:
        problems.append(Problem("", (), 0, "the file has no data rows",
                                "export the sheet with one row per student", source=source))
        return df, problems
    if any(p.message.startswith("the column name occurs") for p in problems):
        return df, problems  # positional ambiguity: fix names first

    type_cases = _pandera_failures(_parse_schema(df.columns), df)
    unparsable: dict[str, set[int]] = {}
    for column, cases in type_cases.groupby("column", sort=False):
        problems.append(_pandera_problem(column, "is_number", cases, source))
        unparsable[column] = {int(i) for i in cases["index"].dropna()}

    parsed = _parse(df)
    value_cases = _pandera_failures(value_schema(parsed.columns), parsed)
    if len(value_cases):
        value_cases = value_cases.assign(kind=value_cases["check"].map(_check_kind))
        for (column, kind), cases in value_cases.groupby(["column", "kind"], sort=False):
            if kind == "dtype":
                continue  # parsing fixed the storage type; bad entries are reported above
            if kind == "not_nullable" and column in unparsable:
                cases = cases[~cases["index"].isin(unparsable[column])]
                if cases.empty:
                    continue
            problems.append(_pandera_problem(column, kind, cases, source))

    # Design rules see only values that passed the per-column checks, so one bad cell is
    # reported once (e.g. access = 2 is not also a sibling mismatch).
    screened = parsed.copy()
    for column, cases in value_cases.groupby("column", sort=False) if len(value_cases) else ():
        if column in screened.columns and not isinstance(column, tuple):
            bad = cases["index"].dropna().astype(int).unique()
            screened.loc[screened.index.isin(bad), column] = np.nan
    problems += _design_problems(screened, source)
    order = {name: i for i, name in enumerate(COLUMNS)}
    problems.sort(key=lambda p: (p.severity != "error", order.get(p.column, -1)))
    return _final_types(parsed), problems


def validate(df: pd.DataFrame, source: str = "<data>") -> list[Problem]:
    """Every problem in a raw frame (errors and notes), each naming column, rows and fix.

    See :func:`check` for the parameters. An empty list or notes only mean the data are usable.
    """
    return check(df, source)[1]


def coerce(df: pd.DataFrame, source: str = "<data>") -> pd.DataFrame:
    """The typed frame, raising :class:`DataValidationError` (listing every problem) if invalid."""
    typed, problems = check(df, source)
    if errors_only(problems):
        raise DataValidationError(problems, source)
    return typed


def summary(df: pd.DataFrame) -> str:
    """One-line description of a valid typed frame (counts only, no identifiers)."""
    parts = [f"{len(df)} students"]
    if "family_id" in df:
        parts.append(f"{df['family_id'].nunique()} families")
    if "school" in df:
        parts.append(f"{df['school'].nunique()} schools")
    if "grade" in df:
        grades = sorted(int(g) for g in df["grade"].dropna().unique())
        parts.append("grades " + ",".join(map(str, grades)))
    if "postcode" in df:
        parts.append(f"{df['postcode'].nunique()} postcode areas")
    for flag, label in (("access", "with parental access"),
                        ("app_used", "whose parent used the app"),
                        ("responded_student", "questionnaire respondents")):
        if flag in df:
            parts.append(f"{int((df[flag] == 1).sum())} {label}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# The dictionary as a table (data/README.md is generated from this)
# --------------------------------------------------------------------------------------------

README_BEGIN = "<!-- BEGIN DATA DICTIONARY (generated by parentapp.schema; do not edit) -->"
README_END = "<!-- END DATA DICTIONARY -->"


def _allowed_text(col: Column) -> str:
    if col.allowed is not None:
        if col.allowed == (0, 1):
            return "0 = no, 1 = yes"
        return ", ".join(str(a) for a in col.allowed)
    if col.min is not None or col.max is not None:
        return f"{_fmt(col.min)} to {_fmt(col.max)}"
    if col.name == "student_id":
        return "text, unique"
    return "text"


def render_dictionary() -> str:
    """The data dictionary as a Markdown table, one row per column of ``COLUMNS``."""
    header = ("| variable | type | unit | allowed values | missing allowed | meaning | source |\n"
              "|---|---|---|---|---|---|---|")
    rows = []
    for col in COLUMNS.values():
        cells = [f"`{col.name}`", col.dtype, col.unit or "", _allowed_text(col),
                 "yes" if col.nullable else "no", col.description, col.source]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join([header, *rows])


def update_readme_text(text: str) -> str:
    """Replace the generated block between the markers in a README text."""
    begin, end = text.index(README_BEGIN), text.index(README_END)
    return text[: begin + len(README_BEGIN)] + "\n" + render_dictionary() + "\n" + text[end:]


# --------------------------------------------------------------------------------------------
# A small valid example in the schema (uncalibrated; for documentation and tests)
# --------------------------------------------------------------------------------------------


def example(n_students: int = 200, seed: int = 0) -> pd.DataFrame:
    """A small valid raw data set in the schema, with siblings, non-response and missing values.

    Not calibrated to the study (that is ``parentapp.simulate``): it only obeys every rule of
    the validator, so tests can break it on purpose.

    Parameters
    ----------
    n_students : int
        Number of rows (students).
    seed : int
        Seed of the random generator; the same seed gives the same frame.
    """
    rng = np.random.default_rng(seed)
    family_sizes = []
    while sum(family_sizes) < n_students:
        family_sizes.append(int(rng.choice([1, 1, 1, 2, 2, 3])))
    family_sizes[-1] -= sum(family_sizes) - n_students
    family_sizes = [s for s in family_sizes if s > 0]
    n_fam = len(family_sizes)
    family = np.repeat(np.arange(n_fam), family_sizes)
    fam_access = rng.integers(0, 2, n_fam)
    fam_postcode = rng.integers(0, 12, n_fam)
    fam_download = rng.random(n_fam) < 0.3
    fam_use = fam_download & (fam_access == 1) & (rng.random(n_fam) < 0.6)
    fam_logins = np.where(fam_use, np.round(rng.gamma(2.0, 0.6, n_fam) + 0.1, 1), 0.0)
    fam_both = (rng.random(n_fam) < 0.8).astype(float)
    area_ses = np.round(rng.normal(0, 1.2, 12), 2)
    area_income = np.round(rng.uniform(20, 40, 12), 1)

    n = n_students
    postcode_index = fam_postcode[family]
    grade = rng.integers(1, 4, n)
    responded = (rng.random(n) < 0.66).astype(int)
    responded_parent = (rng.random(n) < 0.4).astype(int)
    practises = rng.random(n) < 0.85
    math = np.where(practises, np.round(rng.gamma(1.5, 6.0, n), 1), 0.0)
    language = np.where(practises, np.round(rng.gamma(1.5, 5.0, n), 1), 0.0)
    likert = lambda mask: np.where(mask == 1, rng.integers(1, 6, n), np.nan)  # noqa: E731
    cito = rng.integers(515, 550, n).astype(float)
    cito[rng.random(n) < 0.03] = np.nan
    age = np.round(11.5 + grade + rng.uniform(0, 1.2, n), 2)
    age[rng.random(n) < 0.01] = np.nan
    both = fam_both[family]
    both[rng.random(n) < 0.03] = np.nan
    score_math_sep = np.round(rng.uniform(20, 90, n), 1)
    score_lang_sep = np.round(rng.uniform(20, 90, n), 1)
    frame = pd.DataFrame({
        "student_id": [f"s{1000 + i}" for i in range(n)],
        "family_id": [f"f{500 + f}" for f in family],
        "school": rng.choice(["A", "B"], n),
        "grade": grade,
        "track": rng.choice(["vmbo", "havo", "vwo"], n),
        "gender": rng.choice(["boy", "girl"], n),
        "age": age,
        "cito": cito,
        "both_parents_home": both,
        "postcode": 6200 + postcode_index * 7,
        "ses_score": area_ses[postcode_index],
        "income_avg": area_income[postcode_index],
        "module_arm": rng.choice(["A", "B"], n),
        "access": fam_access[family],
        "downloaded": fam_download[family].astype(int),
        "app_used": fam_use[family].astype(int),
        "app_logins_per_week": fam_logins[family],
        "responded_student": responded,
        "responded_parent": responded_parent,
        "st_wants_more_help": likert(responded),
        "st_parents_interfere_less": likert(responded),
        "st_talks_with_parents": likert(responded),
        "pa_child_needs_help": likert(responded_parent),
        "pa_could_use_more_help": likert(responded_parent),
        "pa_talks_with_child": likert(responded_parent),
        "practice_min_math": math,
        "practice_min_language": language,
        "practice_min_total": np.round(math + language, 1),
        "score_math_sep": score_math_sep,
        "score_math_jan": np.clip(np.round(score_math_sep + rng.normal(3, 5, n), 1), 0, 100),
        "score_lang_sep": score_lang_sep,
        "score_lang_jan": np.clip(np.round(score_lang_sep + rng.normal(2, 5, n), 1), 0, 100),
    })
    return frame


def update_readme(path=None) -> bool:
    """Rewrite the generated dictionary table in ``data/README.md``; True if it changed."""
    from parentapp import paths

    path = paths.DATA_DIR / "README.md" if path is None else path
    old = path.read_text(encoding="utf-8")
    new = update_readme_text(old)
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old


if __name__ == "__main__":  # `python -m parentapp.schema` regenerates the table in data/README.md
    print("data/README.md updated" if update_readme() else "data/README.md already up to date")
