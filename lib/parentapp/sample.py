"""From the raw student file to the analysis sample, with an attrition flow that accounts for
every student.

The analysis sample follows the paper: students who answered the end-of-study questionnaire
(``responded_student == 1``; the questionnaire items are controls) and have every study control
(``COMPLETE_CASE_COLUMNS``). Identifiers are replaced by pseudonyms (``S0001``..., ``F0001``...)
in an order that reveals nothing about the original ids; rows are sorted by pseudonym. SES
groups are cut at the quantiles of the chosen area measure over the analysis sample's students;
every student of one postcode gets the same group.

``prepare`` = ``io.load`` + ``build``, cached as Parquet files in ``data/derived/`` keyed by the
input file's checksum, the parameters and the code of this module and the schema.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from parentapp import io, paths, schema

# The study's controls; a respondent missing any of them is not in the analysis sample.
COMPLETE_CASE_COLUMNS = (
    "cito", "age", "both_parents_home", "ses_score", "gender", "grade", "track", "school",
)

# ses_measure names: the paper's SCP status score, or the robustness check's average income.
SES_MEASURES = {
    "scp": "ses_score",
    "ses_score": "ses_score",
    "income": "income_avg",
    "income_avg": "income_avg",
}

# Fixed salt: the pseudonym order is reproducible but unrelated to the order of the real ids.
PSEUDONYM_SALT = b"parentapp/pseudonym/v1"
FLAG_COLUMNS = ("respondent", "in_analysis", "exclusion")
ARMS = {"no_access": 0, "access": 1}
GRADES = (1, 2, 3)
_TABLES = ("data", "respondents", "students", "flow")


@dataclass(frozen=True)
class AnalysisSample:
    """The analysis sample and its provenance.

    Attributes
    ----------
    data : DataFrame
        The analysis sample: respondents with complete study controls.
    respondents : DataFrame
        All questionnaire respondents (``responded_student == 1``).
    students : DataFrame
        All students. Every frame has pseudonymised ``student_id``/``family_id``, the added
        columns ``ses_group`` (ordered categorical), ``female`` (0/1), ``respondent``,
        ``in_analysis`` (booleans) and ``exclusion`` (why a student is not in the analysis
        sample, "" if they are).
    flow : DataFrame
        The attrition steps: ``step``, ``stage``, ``n``, ``dropped``, ``reason`` and counts by
        access arm (``no_access``, ``access``) and grade (``grade_1``..``grade_3``).
    ses_measure : str
        The column the SES groups were cut from (``ses_score`` or ``income_avg``).
    ses_groups : int
        Number of SES groups.
    ses_cutpoints : tuple of float
        The inner cut points (a value equal to a cut point belongs to the lower group).
    """

    data: pd.DataFrame
    respondents: pd.DataFrame
    students: pd.DataFrame
    flow: pd.DataFrame
    ses_measure: str
    ses_groups: int
    ses_cutpoints: tuple[float, ...]


def ses_measure_column(ses_measure: str) -> str:
    """The column behind an ``ses_measure`` name ("scp" -> ses_score, "income" -> income_avg)."""
    try:
        return SES_MEASURES[ses_measure]
    except KeyError:
        raise ValueError(
            f"ses_measure={ses_measure!r} is not known; use 'scp' (SCP status score, the "
            f"paper's choice) or 'income' (average income of the postcode area)"
        ) from None


def ses_labels(ses_groups: int) -> list[str]:
    """Group labels: low/middle/high for 3 groups, Q1..Qk otherwise."""
    if not isinstance(ses_groups, int | np.integer) or not 2 <= ses_groups <= 10:
        raise ValueError(f"ses_groups={ses_groups!r}: use a whole number from 2 to 10 "
                         "(the paper uses 3, the robustness check 4)")
    if ses_groups == 3:
        return ["low", "middle", "high"]
    return [f"Q{k}" for k in range(1, ses_groups + 1)]


def _pseudonyms(ids: pd.Series, prefix: str) -> pd.Series:
    """Map each distinct id to prefix + running number, numbered in salted-hash order."""
    distinct = pd.unique(ids.astype(str))
    digests = {
        value: hashlib.blake2b(value.encode(), key=PSEUDONYM_SALT, digest_size=16).hexdigest()
        for value in distinct
    }
    ordered = sorted(distinct, key=lambda value: (digests[value], value))
    width = max(4, len(str(len(ordered))))
    mapping = {value: f"{prefix}{k:0{width}d}" for k, value in enumerate(ordered, start=1)}
    return ids.astype(str).map(mapping)


def _cutpoints(values: pd.Series, ses_groups: int, measure: str) -> tuple[float, ...]:
    observed = values.dropna().to_numpy(dtype=float)
    if observed.size == 0:
        raise ValueError(f"no student in the analysis sample has a value of {measure}; "
                         "SES groups cannot be formed")
    cuts = np.quantile(observed, np.arange(1, ses_groups) / ses_groups)
    if np.any(np.diff(cuts) <= 0) or cuts[0] >= observed.max() or cuts[0] < observed.min():
        raise ValueError(
            f"{measure} takes too few distinct values in the analysis sample to form "
            f"{ses_groups} groups (cut points {np.round(cuts, 3).tolist()}); use fewer groups"
        )
    return tuple(float(c) for c in cuts)


def _assign_groups(values: pd.Series, cuts: tuple[float, ...], labels: list[str]) -> pd.Series:
    bins = [-np.inf, *cuts, np.inf]
    groups = pd.cut(values, bins=bins, labels=labels, right=True)
    return groups.astype(pd.CategoricalDtype(labels, ordered=True))


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    out = {arm: int((frame["access"] == code).sum()) for arm, code in ARMS.items()}
    out.update({f"grade_{g}": int((frame["grade"] == g).sum()) for g in GRADES})
    return out


def _flow(students: pd.DataFrame) -> pd.DataFrame:
    respondents = students[students["respondent"]]
    analysis = students[students["in_analysis"]]
    incomplete = respondents[~respondents["in_analysis"]]
    missing = {c: int(incomplete[c].isna().sum()) for c in COMPLETE_CASE_COLUMNS}
    missing_text = ", ".join(f"{c} ({k})" for c, k in missing.items() if k)
    n_all, n_resp, n_an = len(students), len(respondents), len(analysis)
    rows = [
        dict(step=1, stage="all students in the file", n=n_all, dropped=0, reason="",
             **_counts(students)),
        dict(step=2, stage="questionnaire respondents", n=n_resp, dropped=n_all - n_resp,
             reason="did not answer the student questionnaire (responded_student = 0)",
             **_counts(respondents)),
        dict(step=3, stage="complete study controls (analysis sample)", n=n_an,
             dropped=n_resp - n_an,
             reason=("missing " + missing_text + "; a student can miss several")
             if missing_text else "",
             **_counts(analysis)),
    ]
    return pd.DataFrame(rows)


def build(raw: pd.DataFrame, ses_measure: str = "scp", ses_groups: int = 3,
          source: str = "<data>") -> AnalysisSample:
    """Build the analysis sample from raw (or already typed) records.

    Parameters
    ----------
    raw : DataFrame
        Records in the schema of ``parentapp.schema.COLUMNS``; validated here (raises
        ``schema.DataValidationError`` listing every problem if invalid).
    ses_measure : {"scp", "income"}
        Area SES measure for the groups: SCP status score (the paper) or average income.
    ses_groups : int
        Number of quantile groups (3: low/middle/high; otherwise Q1..Qk).
    source : str
        Name of the data's origin, for messages.

    Returns
    -------
    AnalysisSample
    """
    measure = ses_measure_column(ses_measure)
    labels = ses_labels(ses_groups)
    typed = schema.coerce(raw, source=source)

    students = typed.copy()
    students["student_id"] = _pseudonyms(typed["student_id"], "S")
    students["family_id"] = _pseudonyms(typed["family_id"], "F")
    students = students.sort_values("student_id", kind="stable").reset_index(drop=True)

    students["respondent"] = students["responded_student"] == 1
    missing = students[list(COMPLETE_CASE_COLUMNS)].isna()
    students["in_analysis"] = students["respondent"] & ~missing.any(axis=1)
    missing_names = missing.apply(
        lambda row: ", ".join(c for c in COMPLETE_CASE_COLUMNS if row[c]), axis=1
    ) if len(students) else pd.Series([], dtype=str)
    students["exclusion"] = np.select(
        [~students["respondent"], ~students["in_analysis"]],
        ["no student questionnaire", "missing " + missing_names.astype(str)],
        default="",
    )
    students["female"] = (students["gender"] == "girl").astype("int64")
    cuts = _cutpoints(students.loc[students["in_analysis"], measure], ses_groups, measure)
    students["ses_group"] = _assign_groups(students[measure], cuts, labels)

    respondents = students[students["respondent"]].reset_index(drop=True)
    data = students[students["in_analysis"]].reset_index(drop=True)
    return AnalysisSample(
        data=data,
        respondents=respondents,
        students=students,
        flow=_flow(students),
        ses_measure=measure,
        ses_groups=ses_groups,
        ses_cutpoints=cuts,
    )


# --------------------------------------------------------------------------------------------
# prepare: load + build, cached in data/derived
# --------------------------------------------------------------------------------------------


def _code_version() -> str:
    digest = hashlib.sha256()
    for module_file in (Path(__file__), Path(schema.__file__)):
        digest.update(module_file.read_bytes())
    return digest.hexdigest()[:16]


def cache_key(checksum: str, ses_measure: str, ses_groups: int) -> str:
    """Key of the cached derived files: input checksum, parameters and code version."""
    spec = json.dumps(
        {"input": checksum, "ses_measure": ses_measure_column(ses_measure),
         "ses_groups": int(ses_groups), "code": _code_version()},
        sort_keys=True,
    )
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def _atomic_write(path: Path, write) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def derived_paths(derived_dir: Path, key: str) -> dict[str, Path]:
    """The files ``prepare`` writes for one key: four Parquet tables and a JSON description."""
    files = {name: derived_dir / f"sample-{key}-{name}.parquet" for name in _TABLES}
    files["meta"] = derived_dir / f"sample-{key}.json"
    return files


def prepare(data_path: str | os.PathLike | None = None, ses_measure: str = "scp",
            ses_groups: int = 3, derived_dir: str | os.PathLike = paths.DERIVED_DIR
            ) -> AnalysisSample:
    """Load, validate and build the analysis sample, reusing derived files when up to date.

    Parameters
    ----------
    data_path : path-like, optional
        The raw file (any format ``io.read_table`` reads); None (or "") = the embedded
        synthetic trial (``paths.DEFAULT_DATA``).
    ses_measure, ses_groups
        As in :func:`build`.
    derived_dir : path-like
        Where the Parquet files go (``data/derived``). Files are written atomically and named
        by a key of the input checksum, the parameters and the code version, so a rerun with
        the same inputs reads them instead of recomputing.

    Returns
    -------
    AnalysisSample
    """
    if data_path is not None and str(data_path).strip() == "":
        data_path = None  # an empty papermill/CLI parameter means "the default data"
    path = Path(data_path) if data_path is not None else paths.DEFAULT_DATA
    ses_measure_column(ses_measure)
    ses_labels(ses_groups)
    if not path.is_file():
        hint = ""
        if data_path is None:
            hint = (f"; create the embedded default with `parentapp simulate --seed "
                    f"{paths.DEFAULT_SEED} --out {paths.DEFAULT_DATA}`")
        raise io.DataFileError(f"{path}: file not found{hint}")
    derived_dir = Path(derived_dir)
    derived_dir.mkdir(parents=True, exist_ok=True)
    key = cache_key(io.file_checksum(path), ses_measure, ses_groups)
    files = derived_paths(derived_dir, key)
    if all(f.exists() for f in files.values()):
        meta = json.loads(files["meta"].read_text())
        tables = {name: pd.read_parquet(files[name]) for name in _TABLES}
        return AnalysisSample(**tables, ses_measure=meta["ses_measure"],
                              ses_groups=meta["ses_groups"],
                              ses_cutpoints=tuple(meta["ses_cutpoints"]))

    result = build(io.load(path), ses_measure=ses_measure, ses_groups=ses_groups,
                   source=str(path))
    for name in _TABLES:
        table = getattr(result, name)
        _atomic_write(files[name], lambda tmp, t=table: t.to_parquet(tmp, index=False))
    meta = {
        "source": path.name,
        "input_sha256": io.file_checksum(path),
        "ses_measure": result.ses_measure,
        "ses_groups": result.ses_groups,
        "ses_cutpoints": list(result.ses_cutpoints),
        "n_students": len(result.students),
        "n_respondents": len(result.respondents),
        "n_analysis": len(result.data),
    }
    # The description is written last: its presence marks a complete set of files.
    _atomic_write(files["meta"], lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n"))
    return result


def winsorize(series: pd.Series, upper: float = 0.99, lower: float | None = None) -> pd.Series:
    """Cap a series at its ``upper`` quantile (and optionally floor it at ``lower``).

    Quantiles are computed over the non-missing values (linear interpolation, numpy's
    default); missing values stay missing; index and name are kept.
    """
    if not 0 < upper <= 1:
        raise ValueError(f"upper={upper!r} must be in (0, 1]")
    if lower is not None and not 0 <= lower < upper:
        raise ValueError(f"lower={lower!r} must be in [0, upper)")
    values = pd.to_numeric(series, errors="raise").astype("float64")
    observed = values.dropna()
    if observed.empty:
        return values
    hi = float(np.quantile(observed.to_numpy(), upper))
    lo = float(np.quantile(observed.to_numpy(), lower)) if lower is not None else None
    return values.clip(lower=lo, upper=hi)
