"""Analysis steps the notebooks call that belong to no other module.

Balance of covariates by assignment (standardised differences and a joint test), the compliance
funnel, complier means under one-sided non-compliance, the practice-time distribution,
student-parent alignment of questionnaire answers by grade, subgroup effects that survive an
inestimable cell, and the sentences that describe results. Every sentence that depends on a
number is built here from the number, so a notebook can never claim more than its results show.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from parentapp import estimate, paper, privacy, sample, tables
from parentapp.paper import significance_phrase  # the paper's convention, one place

__all__ = [
    "ALIGNMENT_PAIRS",
    "BALANCE_COVARIATES",
    "BalanceResult",
    "alignment",
    "apply_winsorize",
    "balance",
    "complier_means",
    "compliance_funnel",
    "describe_alignment",
    "describe_balance",
    "describe_effect",
    "describe_estimators",
    "describe_response",
    "effects_frame",
    "practice_distribution",
    "safe_by_group",
    "significance_phrase",
    "specification",
    "subgroup_masks",
    "suppressed_regression_table",
    "table1_record",
    "takeup_by_group",
    "use_intensity",
]

# Covariates checked for balance and described for compliers (the study's controls).
BALANCE_COVARIATES: tuple[str, ...] = (
    "cito", "age", "female", "both_parents_home", "ses_score", "income_avg",
    "grade", "track", "school",
)

# Student item, parent item: the pairs whose agreement claim 8 is about.
ALIGNMENT_PAIRS: tuple[tuple[str, str], ...] = (
    ("st_wants_more_help", "pa_child_needs_help"),
    ("st_wants_more_help", "pa_could_use_more_help"),
    ("st_parents_interfere_less", "pa_could_use_more_help"),
    ("st_talks_with_parents", "pa_talks_with_child"),
)

CONTROL_SETS = ("study", "none")
OUTCOME = estimate.STUDY_OUTCOME


# --------------------------------------------------------------------------- specification


def specification(treatment: str = estimate.STUDY_TREATMENT, cov: str = "clustered",
                  controls: str = "study", ses_measure: str = "scp",
                  extra_controls: Sequence[str] = ()) -> dict[str, Any]:
    """Keyword arguments of :func:`parentapp.estimate.iv` for the notebooks' parameters.

    Parameters
    ----------
    treatment : str
        ``"app_used"`` (the paper's dummy) or ``"app_logins_per_week"`` (intensity).
    cov : {"clustered", "robust", "unadjusted"}
    controls : {"study", "none"}
        The paper's controls, or none at all (the unadjusted comparison).
    ses_measure : {"scp", "income"}
        The area SES measure; with ``"income"`` the SES control is the average income.
    extra_controls : sequence of str
        Further numeric controls (e.g. the September score for the January score).

    Returns
    -------
    dict
        ``treatment``, ``instrument``, ``controls``, ``categorical``, ``cluster``, ``cov``
        (no ``outcome``: pass it with the call).
    """
    if controls not in CONTROL_SETS:
        raise ValueError(f"controls={controls!r}: use 'study' (the paper's controls) or 'none'")
    if cov not in estimate.COV_TYPES:
        raise ValueError(f"cov={cov!r}: use one of {estimate.COV_TYPES}")
    ses_column = sample.ses_measure_column(ses_measure)
    numeric: list[str] = []
    categorical: list[str] = []
    if controls == "study":
        numeric = [ses_column if c == "ses_score" else c for c in estimate.STUDY_CONTROLS]
        categorical = list(estimate.STUDY_CATEGORICAL)
    numeric += [c for c in extra_controls if c not in numeric]
    return {
        "treatment": treatment,
        "instrument": estimate.STUDY_INSTRUMENT,
        "controls": tuple(numeric),
        "categorical": tuple(categorical),
        "cluster": estimate.STUDY_CLUSTER,
        "cov": cov,
    }


def apply_winsorize(data: pd.DataFrame, winsorize: float | None,
                    columns: Sequence[str] = (OUTCOME,)) -> pd.DataFrame:
    """``data`` with ``columns`` capped at their ``winsorize`` quantile (None: unchanged)."""
    if winsorize is None:
        return data
    out = data.copy()
    for column in columns:
        out[column] = sample.winsorize(out[column], upper=float(winsorize))
    return out


# --------------------------------------------------------------------------- sentences


def _signed(value: float, digits: int = 1) -> str:
    text = tables.format_number(value, digits)
    return text if text.startswith("-") or text in ("", "0.0") else "+" + text


def describe_effect(result: Any, label: str = "all students",
                    unit: str = "minutes of practice per week") -> str:
    """One sentence on a 2SLS effect, its interval and its significance, from the numbers.

    Parameters
    ----------
    result : IVResult (or anything with coef, ci_low, ci_high, pvalue, nobs, level)
    label : str
        Who the estimate is about, e.g. ``"grade 1"``.
    unit : str
        Unit of the outcome.
    """
    level = getattr(result, "level", 0.95)
    return (
        f"For {label} (N = {result.nobs}), the estimated effect of app use is "
        f"{_signed(result.coef)} {unit} ({level * 100:g} % CI "
        f"{tables.format_number(result.ci_low)} to {tables.format_number(result.ci_high)}; "
        f"p {_p_phrase(result.pvalue)}): "
        f"{significance_phrase(result.pvalue)}."
    )


def describe_estimators(result: Any) -> str:
    """Why the naive OLS, the ITT and the 2SLS estimates differ, in numbers.

    The ITT is the effect of being *offered* access, diluted by the families who were offered
    it but did not use the app; 2SLS rescales it by the first stage. The naive OLS compares
    users with non-users, who differ in more than app use.
    """
    itt, first, ols = result.itt, result.first_stage, result.ols
    binary = set(np.unique(result.design.d)) <= {0.0, 1.0}
    take_up = (f"only {first.coef:.1%} more students in the access group had a parent who used "
               "the app" if binary else
               f"access raised {result.design.treatment} by only {first.coef:.3f} on average")
    parts = [
        f"The ITT ({_signed(itt.coef)}) is the effect of being offered access. In the first "
        f"stage, {take_up}, so the ITT is diluted; 2SLS divides it by the first stage: "
        f"{_signed(itt.coef)} / {first.coef:.3f} = {_signed(result.coef)} for the children of "
        f"users (compliers)."
    ]
    gap = ols.coef - result.coef
    direction = "above" if gap > 0 else "below"
    parts.append(
        f"The naive OLS ({_signed(ols.coef)}) compares children of users with all others; it is "
        f"{tables.format_number(abs(gap))} {direction} the 2SLS estimate because parents who "
        f"choose to use the app differ from those who do not (for example in involvement), "
        f"which the random assignment of access removes."
    )
    return " ".join(parts)


def describe_response(result: Any) -> str:
    """A sentence on differential attrition from an ``inference.ResponseDifferenceResult``."""
    verdict = (
        "so questionnaire response differs by access, and the respondent sample may not be "
        "balanced" if result.pvalue < 0.05 else
        "no significant difference at 5 %, so there is no sign that access changed who answered"
    )
    return (
        f"Questionnaire response was {result.rate_access:.1%} with access and "
        f"{result.rate_no_access:.1%} without (difference {result.difference * 100:+.1f} "
        f"percentage points, p {_p_phrase(result.pvalue)}): {verdict}."
    )


# --------------------------------------------------------------------------- balance


def _expand(data: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Numeric columns as they are; categorical/text/grade columns as one dummy per level."""
    frames = {}
    for column in covariates:
        if column not in data.columns:
            raise KeyError(f"covariate {column!r} is not a column of the data "
                           f"(columns: {list(data.columns)})")
        series = data[column]
        is_numeric = pd.api.types.is_numeric_dtype(series) and not isinstance(
            series.dtype, pd.CategoricalDtype)
        if is_numeric and column != "grade":
            frames[column] = series.astype(float)
            continue
        levels = (series.cat.categories if isinstance(series.dtype, pd.CategoricalDtype)
                  else sorted(series.dropna().unique()))
        for level in levels:
            frames[f"{column} = {level}"] = (series == level).astype(float).where(series.notna())
    return pd.DataFrame(frames, index=data.index)


@dataclass(frozen=True)
class BalanceResult:
    """Covariate balance between the access arms.

    Attributes
    ----------
    table : DataFrame
        One row per covariate (dummies per level of a categorical one): ``mean_no_access``,
        ``mean_access``, ``difference``, ``std_diff`` (difference / sqrt of the mean of the two
        variances), ``pvalue`` (family-clustered t-test of the difference), ``n_no_access``,
        ``n_access`` (students with a value).
    joint_f, joint_pvalue : float
        Joint test that the covariates do not predict access: cluster-robust (CR1) Wald / q of
        all slopes in the regression of access on the covariates, against F(q, G - 1).
    joint_df : (int, int)
    nobs, nclusters : int
    """

    table: pd.DataFrame
    joint_f: float
    joint_pvalue: float
    joint_df: tuple[int, int]
    nobs: int
    nclusters: int

    @property
    def counts(self) -> pd.DataFrame:
        """Student counts behind every cell of :attr:`table` (for ``privacy.suppress``)."""
        n = self.table[["n_no_access", "n_access"]].min(axis=1)
        return pd.DataFrame({c: n for c in self.table.columns}, index=self.table.index)


def _cr1(x: np.ndarray, resid: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """CR1 covariance of OLS coefficients."""
    n, k = x.shape
    bread = np.linalg.inv(x.T @ x)
    _, codes = np.unique(clusters, return_inverse=True)
    g = codes.max() + 1
    scores = np.zeros((g, k))
    np.add.at(scores, codes, x * resid[:, None])
    scale = g / (g - 1) * (n - 1) / (n - k)
    return scale * bread @ (scores.T @ scores) @ bread


def balance(data: pd.DataFrame, covariates: Sequence[str] = BALANCE_COVARIATES,
            arm: str = "access", cluster: str = "family_id") -> BalanceResult:
    """Balance of ``covariates`` between the arms of ``arm`` (a 0/1 assignment).

    The joint test uses the students with every covariate present; categorical covariates enter
    with one level left out.
    """
    values = _expand(data, covariates)
    z = data[arm]
    if not set(z.dropna().unique()) <= {0, 1}:
        raise ValueError(f"{arm!r} must be 0/1; found values {sorted(z.dropna().unique())}")
    clusters = data[cluster].to_numpy()
    rows = {}
    for name in values.columns:
        v = values[name]
        a, b = v[z == 1].dropna(), v[z == 0].dropna()
        sd = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        keep = v.notna().to_numpy()
        x = np.column_stack([np.ones(keep.sum()), z.to_numpy(float)[keep]])
        y = v.to_numpy(float)[keep]
        coef = np.linalg.lstsq(x, y, rcond=None)[0]
        cov = _cr1(x, y - x @ coef, clusters[keep])
        g = len(np.unique(clusters[keep]))
        se = math.sqrt(cov[1, 1])
        p = float(2 * stats.t.sf(abs(coef[1] / se), g - 1)) if se > 0 else float("nan")
        rows[name] = {
            "mean_no_access": b.mean(), "mean_access": a.mean(), "difference": a.mean() - b.mean(),
            "std_diff": (a.mean() - b.mean()) / sd if sd > 0 else 0.0, "pvalue": p,
            "n_no_access": int(b.size), "n_access": int(a.size),
        }
    table = pd.DataFrame(rows).T
    table[["n_no_access", "n_access"]] = table[["n_no_access", "n_access"]].astype(int)
    table.index.name = "covariate"

    # Joint test: drop the first level of each categorical so the design has full rank.
    regressors = []
    for column in covariates:
        names = [n for n in values.columns if n == column or n.startswith(f"{column} = ")]
        regressors += names if names == [column] else names[1:]
    complete = values[regressors].notna().all(axis=1).to_numpy()
    x = np.column_stack([np.ones(complete.sum()), values.loc[complete, regressors].to_numpy()])
    keep_cols = [0] + [j for j in range(1, x.shape[1]) if np.ptp(x[:, j]) > 0]
    x = x[:, keep_cols]
    y = z.to_numpy(float)[complete]
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    cov = _cr1(x, y - x @ coef, clusters[complete])
    slopes = coef[1:]
    q = slopes.size
    g = len(np.unique(clusters[complete]))
    wald = float(slopes @ np.linalg.solve(cov[1:, 1:], slopes)) / q
    return BalanceResult(table=table, joint_f=wald, joint_pvalue=float(stats.f.sf(wald, q, g - 1)),
                         joint_df=(q, g - 1), nobs=int(complete.sum()), nclusters=g)


def describe_balance(result: BalanceResult, threshold: float = 0.1) -> str:
    """A sentence on the largest standardised difference and the joint test."""
    largest = result.table["std_diff"].abs().idxmax()
    value = result.table.loc[largest, "std_diff"]
    n_above = int((result.table["std_diff"].abs() > threshold).sum())
    joint = ("the covariates jointly predict access at 5 %, a sign of imbalance"
             if result.joint_pvalue < 0.05 else
             "the covariates do not jointly predict access at 5 %, as expected under random "
             "assignment")
    return (
        f"The largest standardised difference is {value:+.3f} ({largest}); {n_above} of "
        f"{len(result.table)} exceed {threshold} in absolute value. Joint test: "
        f"F({result.joint_df[0]}, {result.joint_df[1]}) = {result.joint_f:.2f}, "
        f"p {_p_phrase(result.joint_pvalue)}: {joint}."
    )


# --------------------------------------------------------------------------- compliance


def compliance_funnel(data: pd.DataFrame, arm: str = "access") -> pd.DataFrame:
    """Counts of students by arm: all, parent downloaded the app, parent used the app.

    The table is itself a table of student counts (pass it to ``privacy.suppress`` as is).
    """
    steps = {
        "students": pd.Series(True, index=data.index),
        "parent downloaded the app": data["downloaded"] == 1,
        "parent used the app": data["app_used"] == 1,
    }
    table = pd.DataFrame({
        label: {"no access": int((mask & (data[arm] == 0)).sum()),
                "access": int((mask & (data[arm] == 1)).sum()),
                "all": int(mask.sum())}
        for label, mask in steps.items()
    }).T
    table.index.name = "step"
    return table


def use_intensity(data: pd.DataFrame, column: str = "app_logins_per_week",
                  treatment: str = "app_used") -> pd.DataFrame:
    """Logins per week among students whose parent used the app: n, mean, quartiles, max."""
    used = data.loc[data[treatment] == 1, column].dropna()
    return pd.DataFrame({"logins per week (users)": {
        "n": int(used.size), "mean": used.mean(), "p25": used.quantile(0.25),
        "median": used.median(), "p75": used.quantile(0.75), "max": used.max(),
    }}).T


def takeup_by_group(data: pd.DataFrame, by: str | Sequence[str], arm: str = "access",
                    treatment: str = "app_used") -> pd.DataFrame:
    """Take-up (share using the app) by group and arm, with the counts behind each share.

    Columns ``n_no_access``, ``users_no_access``, ``n_access``, ``users_access``,
    ``takeup_access`` (users / n with access).
    """
    grouped = data.groupby(by, observed=True, sort=True)
    table = pd.DataFrame({
        "n_no_access": grouped[arm].apply(lambda s: int((s == 0).sum())),
        "users_no_access": grouped.apply(
            lambda f: int(((f[arm] == 0) & (f[treatment] == 1)).sum()), include_groups=False),
        "n_access": grouped[arm].apply(lambda s: int((s == 1).sum())),
        "users_access": grouped.apply(
            lambda f: int(((f[arm] == 1) & (f[treatment] == 1)).sum()), include_groups=False),
    })
    table["takeup_access"] = table["users_access"] / table["n_access"]
    return table


def complier_means(data: pd.DataFrame, covariates: Sequence[str] = BALANCE_COVARIATES,
                   instrument: str = "access", treatment: str = "app_used") -> pd.DataFrame:
    """Mean covariates of compliers, never-takers and everyone, under one-sided non-compliance.

    Nobody without access can use the app, so in the access arm the users are exactly the
    compliers and the non-users the never-takers; random assignment makes the access arm
    representative of everyone, so these are the complier and never-taker means of the whole
    sample (Angrist, Imbens and Rubin 1996; the kappa weights reduce to this).

    Returns
    -------
    DataFrame
        Rows covariates (dummies per level of categorical ones); columns ``all``,
        ``compliers``, ``never_takers``, ``ratio`` (compliers / all), ``n_compliers``,
        ``n_never_takers``.

    Raises
    ------
    ValueError
        If any student without access used the app (non-compliance is then two-sided).
    """
    z, d = data[instrument], data[treatment]
    crossed = int(((z == 0) & (d != 0)).sum())
    if crossed:
        raise ValueError(
            f"{crossed} students have {instrument} = 0 but {treatment} != 0: non-compliance is "
            "not one-sided, so complier means are not identified this simply. Check the data.")
    values = _expand(data, covariates)
    compliers = values[(z == 1) & (d != 0)]
    never = values[(z == 1) & (d == 0)]
    table = pd.DataFrame({
        "all": values.mean(), "compliers": compliers.mean(), "never_takers": never.mean(),
    })
    table["ratio"] = table["compliers"] / table["all"]
    table["n_compliers"] = compliers.notna().sum().astype(int)
    table["n_never_takers"] = never.notna().sum().astype(int)
    table.index.name = "covariate"
    return table


# --------------------------------------------------------------------------- practice time


def practice_distribution(data: pd.DataFrame, column: str = OUTCOME,
                          by: str | None = None) -> pd.DataFrame:
    """How practice time is distributed: n, share of zeros, mean, mean if positive, median,
    90th and 99th percentile, maximum, skewness; overall or per level of ``by``."""

    def summary(values: pd.Series) -> dict[str, float]:
        v = values.dropna().astype(float)
        positive = v[v > 0]
        return {
            "n": int(v.size), "share_zero": float((v == 0).mean()), "mean": v.mean(),
            "mean_if_positive": positive.mean() if positive.size else float("nan"),
            "median": v.median(), "p90": v.quantile(0.9), "p99": v.quantile(0.99),
            "max": v.max(), "skewness": float(stats.skew(v)) if v.size > 2 else float("nan"),
        }

    if by is None:
        table = pd.DataFrame({"all": summary(data[column])}).T
    else:
        table = pd.DataFrame({level: summary(group[column]) for level, group in
                              data.groupby(by, observed=True, sort=True)}).T
        table.index.name = by
    table["n"] = table["n"].astype(int)
    return table


# --------------------------------------------------------------------------- questionnaires


def alignment(data: pd.DataFrame, pairs: Sequence[tuple[str, str]] = ALIGNMENT_PAIRS,
              by: str = "grade") -> pd.DataFrame:
    """Spearman correlation of student and parent answers, per level of ``by``.

    Uses the students for whom both the student and the parent answered the item.

    Returns
    -------
    DataFrame
        One row per (level, student item, parent item): ``n``, ``rho``, ``pvalue``
        (two-sided, scipy's t approximation) and ``ci_low``/``ci_high`` (95 %, Fisher z with
        the Bonett-Wright variance 1.06 / (n - 3)).
    """
    rows = []
    for level, group in data.groupby(by, observed=True, sort=True):
        for student, parent in pairs:
            both = group[[student, parent]].dropna()
            n = len(both)
            if n > 3 and both[student].nunique() > 1 and both[parent].nunique() > 1:
                rho, p = stats.spearmanr(both[student], both[parent])
                half = 1.96 * math.sqrt(1.06 / (n - 3))
                low, high = math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)
            else:
                rho = p = low = high = float("nan")
            rows.append({by: level, "student_item": student, "parent_item": parent, "n": n,
                         "rho": float(rho), "pvalue": float(p), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows).set_index([by, "student_item", "parent_item"])


def describe_alignment(table: pd.DataFrame, level_name: str = "grade") -> list[str]:
    """One sentence per level: which pairs agree (positive, significant at 5 %), which
    diverge (negative, significant) and which show no significant association."""
    sentences = []
    for level, rows in table.groupby(level=0, sort=True):
        positive, negative, neither = [], [], []
        for (_, student, parent), row in rows.iterrows():
            pair = f"{student} ~ {parent} (rho = {row['rho']:.2f})"
            if not math.isfinite(row["pvalue"]) or row["pvalue"] >= 0.05:
                neither.append(pair)
            elif row["rho"] > 0:
                positive.append(pair)
            else:
                negative.append(pair)
        parts = [f"{level_name.capitalize()} {level}:"]
        if positive:
            parts.append("positively associated at 5 %: " + "; ".join(positive) + ".")
        if negative:
            parts.append("negatively associated at 5 %: " + "; ".join(negative) + ".")
        if neither:
            parts.append("no significant association: " + "; ".join(neither) + ".")
        sentences.append(" ".join(parts))
    return sentences


# --------------------------------------------------------------------------- effects


def safe_by_group(data: pd.DataFrame, by: str | Sequence[str], **kw: Any) -> dict[Any, Any]:
    """:func:`estimate.by_group`, but a cell that cannot be estimated (too small, no take-up)
    gives the error message (a ``str``) instead of stopping every other cell."""
    columns = [by] if isinstance(by, str) else list(by)
    out: dict[Any, Any] = {}
    groups = data.groupby(columns[0] if len(columns) == 1 else columns, observed=True,
                          sort=True).indices
    for level, idx in groups.items():
        mask = np.zeros(len(data), dtype=bool)
        mask[idx] = True
        key = tuple(v.item() if isinstance(v, np.generic) else v for v in level) \
            if isinstance(level, tuple) else (level.item() if isinstance(level, np.generic)
                                              else level)
        name = ", ".join(f"{c} = {v}" for c, v in zip(columns, key if isinstance(key, tuple)
                                                            else (key,), strict=True))
        try:
            out[key] = estimate.iv(data, subset=mask, label=name, **kw)
        except estimate.EstimationError as error:
            out[key] = f"not estimable: {error}"
    return out


def effects_frame(results: Mapping[Any, Any]) -> pd.DataFrame:
    """Tidy frame of 2SLS results (one row per key): coef, se, pvalue, ci_low, ci_high, nobs,
    first_stage_f, significance, note. A ``str`` value (see :func:`safe_by_group`) gives a row
    with missing statistics and the message as note."""
    rows = {}
    for key, result in results.items():
        label = ", ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        if isinstance(result, str):
            rows[label] = {"coef": np.nan, "se": np.nan, "pvalue": np.nan, "ci_low": np.nan,
                           "ci_high": np.nan, "nobs": 0, "first_stage_f": np.nan,
                           "significance": "", "note": result}
            continue
        rows[label] = {"coef": result.coef, "se": result.se, "pvalue": result.pvalue,
                       "ci_low": result.ci_low, "ci_high": result.ci_high, "nobs": result.nobs,
                       "first_stage_f": result.first_stage_f,
                       "significance": paper.stars_for(result.pvalue), "note": ""}
    frame = pd.DataFrame(rows).T
    for column in ("coef", "se", "pvalue", "ci_low", "ci_high", "first_stage_f"):
        frame[column] = frame[column].astype(float)
    frame["nobs"] = frame["nobs"].astype(int)
    return frame


def table1_record(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``table1`` entry of results.json: per key coef, se, pvalue, ci_low, ci_high, nobs,
    first_stage_f (shared/design.md)."""
    return {key: {"coef": r.coef, "se": r.se, "pvalue": r.pvalue, "ci_low": r.ci_low,
                  "ci_high": r.ci_high, "nobs": int(r.nobs), "first_stage_f": r.first_stage_f}
            for key, r in results.items()}


def suppressed_regression_table(results: Mapping[str, Any],
                                published: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """``tables.regression_table`` with every column of a regression on < 10 students hidden."""
    table = tables.regression_table(results, published=published)
    counts = pd.DataFrame({key: [results[key].nobs] * len(table) for key in table.columns},
                          index=table.index)
    shown = privacy.suppress(table, counts=counts, secondary=None)
    shown.columns = [human_label(c) for c in shown.columns]
    treatment = getattr(getattr(next(iter(results.values())), "design", None), "treatment", "")
    shown.columns.name = f"2SLS effect of {TREATMENT_WORDS.get(treatment, treatment)}"
    return shown


TREATMENT_WORDS = {"app_used": "app use", "app_logins_per_week": "app logins per week"}


def suppress_effects(frame: pd.DataFrame) -> pd.DataFrame:
    """An :func:`effects_frame` with rows on fewer than 10 students hidden (0 = not estimated
    stays visible, it describes no student)."""
    counts = pd.DataFrame({c: frame["nobs"] for c in frame.columns}, index=frame.index)
    return privacy.suppress(frame, counts=counts, secondary=None)


def subgroup_masks(data: pd.DataFrame, design: Any, by: str | Sequence[str]) -> dict[str, Any]:
    """Boolean masks over a design's rows, one per level of ``by`` (for
    ``inference.romano_wolf``), named like the rows of :func:`effects_frame`."""
    columns = [by] if isinstance(by, str) else list(by)
    rows = data.loc[design.index, columns]
    masks = {}
    for level, idx in rows.groupby(columns[0] if len(columns) == 1 else columns,
                                   observed=True, sort=True).indices.items():
        mask = np.zeros(len(rows), dtype=bool)
        mask[idx] = True
        label = ", ".join(map(str, level)) if isinstance(level, tuple) else str(level)
        masks[label] = mask
    return masks


def joined(items: Iterable[str]) -> str:
    """``"a, b and c"`` (or ``"none"``)."""
    items = list(items)
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------- notebook helpers


def flow_table(flow: pd.DataFrame) -> pd.DataFrame:
    """The attrition flow as a table of student counts indexed by stage (for ``suppress``),
    with the published counts beside ours where the paper printed one."""
    counts = ["n", "dropped", "no_access", "access", "grade_1", "grade_2", "grade_3"]
    table = flow.set_index("stage")[counts].astype(int)
    published = [paper.SAMPLE["students_total_min"], paper.SAMPLE["respondents"],
                 paper.SAMPLE["table1_nobs"]]
    table["published_n"] = published[: len(table)] + [0] * max(0, len(table) - 3)
    return table


def describe_flow(flow: pd.DataFrame) -> str:
    """A sentence on the funnel from all students to the analysis sample, with shares."""
    n = flow["n"].tolist()
    return (f"Of {n[0]} students, {n[1]} ({n[1] / n[0]:.1%}) answered the student "
            f"questionnaire, and {n[2]} of them ({n[2] / n[1]:.1%}) have every control: the "
            f"analysis sample. The paper reports just over {paper.SAMPLE['students_total_min']}"
            f", {paper.SAMPLE['respondents']} and {paper.SAMPLE['table1_nobs']}.")


def sample_description(data: pd.DataFrame, covariates: Sequence[str] = BALANCE_COVARIATES,
                       by: str = "grade") -> pd.DataFrame:
    """Mean of every covariate (shares for dummies) per level of ``by`` and overall, with the
    number of students as the row ``n``."""
    values = _expand(data, [c for c in covariates if c != by])
    table = values.groupby(data[by], observed=True, sort=True).mean().T
    table["all"] = values.mean()
    sizes = data.groupby(by, observed=True, sort=True).size()
    table.loc["n"] = [*sizes.tolist(), len(data)]
    table.columns = [f"{by} {c}" if c != "all" else c for c in table.columns]
    return table


def sample_description_counts(data: pd.DataFrame, table: pd.DataFrame,
                              by: str = "grade") -> pd.DataFrame:
    """The students behind each column of :func:`sample_description` (for ``suppress``)."""
    sizes = [*data.groupby(by, observed=True, sort=True).size().tolist(), len(data)]
    return pd.DataFrame([sizes] * len(table), index=table.index, columns=table.columns)


def first_stage_frame(results: Mapping[Any, Any]) -> pd.DataFrame:
    """First stage of each result: coefficient of access on use, se, F, take-up with and
    without access, nobs."""
    rows = {}
    for key, r in results.items():
        if isinstance(r, str):
            continue
        fs = r.first_stage
        rows[str(key)] = {"coef": fs.coef, "se": fs.se, "F": fs.fstat,
                          "takeup_access": fs.take_up_instrumented,
                          "takeup_no_access": fs.take_up_not_instrumented, "nobs": r.nobs}
    frame = pd.DataFrame(rows).T
    frame["nobs"] = frame["nobs"].astype(int)
    return frame


def describe_first_stage(results: Mapping[Any, Any], strong: float = 10.0) -> str:
    """Sentence on first-stage strength: the weakest F and whether every F exceeds ``strong``."""
    frame = first_stage_frame(results)
    weakest = frame["F"].idxmin()
    verdict = ("every first stage is strong (F above the rule-of-thumb 10)"
               if (frame["F"] > strong).all() else
               f"at least one first stage is weak (F below {strong:g}); read its 2SLS estimate "
               "with the weak-instrument-robust interval")
    return (f"First-stage F ranges from {frame['F'].min():.1f} ({human_label(weakest)}) to "
            f"{frame['F'].max():.1f}: {verdict}.")


def takeup_gap(data: pd.DataFrame, by: str = "ses_group", arm: str = "access",
               used: str = "app_used", cluster: str = "family_id") -> BalanceResult:
    """Does take-up differ between groups? Among students with access, a family-clustered
    joint test that the ``by`` dummies do not predict app use (and use rates per group)."""
    with_access = data[data[arm] == 1]
    return balance(with_access, [by], arm=used, cluster=cluster)


def describe_takeup_gap(gap: BalanceResult, by: str = "ses_group") -> str:
    """Sentence on the take-up gap between groups, from :func:`takeup_gap`."""
    verdict = ("take-up differs significantly between the groups at 5 %"
               if gap.joint_pvalue < 0.05 else
               "no significant difference in take-up between the groups at 5 %")
    return (f"Among students with access, does the {GROUP_WORDS.get(by, by)} predict app use? "
            f"Joint test F({gap.joint_df[0]}, {gap.joint_df[1]}) = {gap.joint_f:.2f}, "
            f"p {_p_phrase(gap.joint_pvalue)}: {verdict}.")


def describe_table1(results: Mapping[str, Any], unit: str = "minutes of practice per week"
                    ) -> str:
    """One :func:`describe_effect` line per Table 1 column, as a markdown list."""
    labels = {**paper.TABLE1_LABELS}
    return "\n".join(f"- {describe_effect(r, labels.get(k, str(k)).lower(), unit)}"
                     for k, r in results.items())


def estimators_frame(results: Mapping[str, Any]) -> pd.DataFrame:
    """Naive OLS, ITT, first stage and 2SLS side by side for each key (rows key, estimator)."""
    frames = {key: r.summary() for key, r in results.items() if not isinstance(r, str)}
    frame = pd.concat(frames, names=["sample", "estimate"])
    return frame


def robust_inference_frame(results: Mapping[str, Any], n_draws: int, seed: int
                           ) -> pd.DataFrame:
    """Per key: the usual 2SLS p-value and interval beside inference that leans on fewer
    assumptions.

    Columns: ``coef``, ``pvalue``, ``ci_low``, ``ci_high`` (2SLS); ``ri_pvalue``
    (randomisation inference of the ITT, family-level re-draws of access); ``ar_pvalue``,
    ``ar_ci_low``, ``ar_ci_high``, ``ar_shape`` (cluster-robust Anderson-Rubin set of the
    effect of use); ``itt``, ``wb_itt_pvalue``, ``wb_itt_ci_low``, ``wb_itt_ci_high`` (WCR
    wild cluster bootstrap of the ITT, families as clusters, Rademacher weights);
    ``wb_iv_pvalue``, ``wb_iv_ci_low``, ``wb_iv_ci_high`` (WRE wild bootstrap of the 2SLS
    effect); ``nobs``, ``n_draws``. Every resampling method uses ``n_draws`` draws from
    ``seed``.
    """
    from parentapp import inference

    usable = {k: r for k, r in results.items() if not isinstance(r, str)}
    ri = inference.randomisation_inference_many({k: r.design for k, r in usable.items()},
                                                n_draws=n_draws, seed=seed)
    rows = {}
    for key, r in usable.items():
        ar = inference.anderson_rubin(r.design)
        wb_itt = inference.wild_bootstrap(r.design, target="itt", n_draws=n_draws, seed=seed)
        wb_iv = inference.wild_bootstrap(r.design, target="iv", n_draws=n_draws, seed=seed)
        rows[key] = {"coef": r.coef, "pvalue": r.pvalue, "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "ri_pvalue": ri[key].pvalue,
                     "ar_pvalue": float(ar.pvalue(0.0)), "ar_ci_low": ar.ci_low,
                     "ar_ci_high": ar.ci_high, "ar_shape": ar.shape,
                     "itt": wb_itt.estimate, "wb_itt_pvalue": wb_itt.pvalue,
                     "wb_itt_ci_low": wb_itt.ci_low, "wb_itt_ci_high": wb_itt.ci_high,
                     "wb_iv_pvalue": wb_iv.pvalue, "wb_iv_ci_low": wb_iv.ci_low,
                     "wb_iv_ci_high": wb_iv.ci_high, "nobs": r.nobs,
                     "n_draws": ri[key].n_draws}
    frame = pd.DataFrame(rows).T
    for column in frame.columns.drop("ar_shape"):
        frame[column] = frame[column].astype(float)
    frame[["nobs", "n_draws"]] = frame[["nobs", "n_draws"]].astype(int)
    return frame


ROBUST_INFERENCE_COLUMNS: dict[Any, tuple[str, str]] = {
    "coef": ("Effect of use (2SLS)", "coef"),
    "pvalue": ("p-value (clustered)", "p"),
    ("ci_low", "ci_high"): ("95 % CI (clustered)", "coef"),
    "wb_iv_pvalue": ("p-value (wild bootstrap)", "p"),
    ("wb_iv_ci_low", "wb_iv_ci_high"): ("95 % CI (wild bootstrap)", "coef"),
    ("ar_ci_low", "ar_ci_high"): ("95 % set (Anderson-Rubin)", "coef"),
    "ar_shape": ("AR set shape", "text"),
    "itt": ("Effect of access (ITT)", "coef"),
    "wb_itt_pvalue": ("ITT p-value (wild bootstrap)", "p"),
    ("wb_itt_ci_low", "wb_itt_ci_high"): ("ITT 95 % CI (wild bootstrap)", "coef"),
    "ri_pvalue": ("ITT p-value (randomisation)", "p"),
    "nobs": ("N", "count"),
}
"""How notebook 4 shows :func:`robust_inference_frame` (for :func:`present`)."""


def describe_robust_inference(frame: pd.DataFrame, level: float = 0.10) -> str:
    """One line per key comparing the usual p-value with the wild bootstrap, randomisation
    and Anderson-Rubin p-values, and saying whether they agree at ``level``."""
    lines = []
    methods = {"usual": "pvalue", "wild bootstrap": "wb_iv_pvalue",
               "randomisation": "ri_pvalue", "Anderson-Rubin": "ar_pvalue"}
    for key, row in frame.iterrows():
        present_methods = {m: c for m, c in methods.items() if c in frame.columns}
        verdicts = {m: row[c] < level for m, c in present_methods.items()}
        ps = ", ".join(f"{m} p {_p_phrase(row[c])}" for m, c in present_methods.items())
        if len(set(verdicts.values())) == 1:
            verdict = (f"all {len(verdicts)} agree: "
                       + ("significant" if next(iter(verdicts.values())) else "not significant")
                       + f" at {level * 100:g} %")
        else:
            yes = [m for m, v in verdicts.items() if v]
            verdict = (f"they disagree at {level * 100:g} %: significant by {joined(yes)} only; "
                       "read this estimate with care")
        lines.append(f"- {human_label(key)}: {ps} ({verdict}).")
    return "\n".join(lines)


def _p_phrase(p: float) -> str:
    """``"= 0.012"`` or ``"< 0.001"`` (for sentences)."""
    text = format_pvalue(p)
    if not text:
        return "not available"
    return text.replace("<", "< ") if text.startswith("<") else f"= {text}"


def with_grade_band(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with ``grade_band``: "grades 1-2" or "grade 3" (claims 5 and 6 pool grades
    1 and 2)."""
    band = np.where(data["grade"] == 3, "grade 3", "grades 1-2")
    out = data.copy()
    out["grade_band"] = pd.Categorical(band, categories=["grades 1-2", "grade 3"], ordered=True)
    return out


def interaction_tests(data: pd.DataFrame, group: str, within: str = "grade",
                      **kw: Any) -> pd.DataFrame:
    """Within every level of ``within``: does the effect differ between levels of ``group``?
    (:func:`estimate.interaction`; a level where the test cannot run gets a note.)"""
    # The group enters as categories; it cannot also be a numeric control.
    kw = {**kw, "controls": tuple(c for c in kw.get("controls", ()) if c != group),
          "categorical": tuple(c for c in kw.get("categorical", ()) if c != group)}
    rows = {}
    for level in sorted(data[within].dropna().unique()):
        try:
            res = estimate.interaction(data, group, subset=(data[within] == level).to_numpy(),
                                       **kw)
            rows[f"{within} {level}"] = {"F": res.wald_f, "df1": res.wald_df[0],
                                         "df2": res.wald_df[1], "pvalue": res.wald_pvalue,
                                         "nobs": res.nobs, "note": ""}
        except estimate.EstimationError as error:
            rows[f"{within} {level}"] = {"F": np.nan, "df1": 0, "df2": 0, "pvalue": np.nan,
                                         "nobs": 0, "note": str(error)}
    frame = pd.DataFrame(rows).T
    frame[["F", "pvalue"]] = frame[["F", "pvalue"]].astype(float)
    frame[["df1", "df2", "nobs"]] = frame[["df1", "df2", "nobs"]].astype(int)
    return frame


def describe_interactions(frame: pd.DataFrame, group: str) -> str:
    """Sentences: in which levels the effect differs significantly by ``group``."""
    lines = []
    for level, row in frame.iterrows():
        if row["note"]:
            lines.append(f"- {human_label(level)}: not testable ({row['note']}).")
        else:
            lines.append(f"- {human_label(level)}: the effect differs by {group} with "
                         f"p {_p_phrase(row['pvalue'])} ({significance_phrase(row['pvalue'])}).")
    return "\n".join(lines)


def replication_summary(n_reps: int, seed: int, level: float = 0.10,
                        cov: str = "clustered") -> tuple[pd.DataFrame | None, str]:
    """Replication probability of every claim (``claims.replication_probability``) and the
    sentences that read it: an overall one and one per claim ("would hold in about X of 10
    replications"); ``n_reps = 0`` skips the simulation and says so."""
    from parentapp import claims

    if n_reps <= 0:
        return None, ("Replication probabilities were not computed in this run "
                      "(n_replications = 0).")
    table = claims.replication_table(
        claims.replication_probability(n_reps=n_reps, seed=seed, level=level, cov=cov))
    likely = [str(i) for i, row in table.iterrows() if row["probability"] >= 0.8]
    worst_se = float(table["mc_se"].max())
    summary = (
        f"In {n_reps} simulated replications of the study at the published effect sizes, "
        f"{len(likely)} of {len(table)} claims hold at least 80 % of the time "
        f"(claims {joined(likely)}). "
        + (f"Each share is uncertain by at most {worst_se * 100:.0f} percentage points (Monte "
           f"Carlo standard error)." if worst_se > 0 else
           "Every claim held in all or in none of the replications, so the Monte Carlo "
           "standard errors are zero; with so few replications that says little.")
    )
    return table, summary + "\n\n" + "\n".join(replication_sentences(table)[:-1])


# --------------------------------------------------------------------------- presentation
#
# Every table a stakeholder sees goes through :func:`present`: disclosure control first
# (``privacy.suppress`` on the numbers and their student counts), then numbers as text with
# one convention (p-values to 3 decimals or "<0.001", coefficients to 1 decimal, standard
# errors to 2, shares as %), readable column names and human row labels.

P_FLOOR = 0.001

# kind of each number -> how it is written; see format_value.
FORMAT_KINDS = ("coef", "se", "p", "share", "points", "count", "stat", "stat1", "rho", "text")

# Column name -> (heading, kind) for the columns the package's frames use.
COLUMN_STYLES: dict[str, tuple[str, str]] = {
    "coef": ("Effect", "coef"), "estimate": ("Estimate", "coef"), "se": ("SE", "se"),
    "t": ("t", "stat"), "tstat": ("t", "stat"),
    "pvalue": ("p-value", "p"), "nobs": ("N", "count"), "n": ("N", "count"),
    "first_stage_f": ("First-stage F", "stat1"), "F": ("F", "stat1"),
    "df1": ("df (numerator)", "count"), "df2": ("df (denominator)", "count"),
    "significance": ("Sig.", "text"), "note": ("Note", "text"), "reason": ("Reason", "text"),
    "dropped": ("Excluded", "count"), "published_n": ("Published N", "count"),
    "grade_1": ("Grade 1", "count"), "grade_2": ("Grade 2", "count"),
    "grade_3": ("Grade 3", "count"),
    "no_access": ("No access", "value"), "no access": ("No access", "value"),
    "access": ("Access", "value"), "all": ("All", "value"),
    "mean_no_access": ("Mean, no access", "value"), "mean_access": ("Mean, access", "value"),
    "difference": ("Difference", "difference"), "std_diff": ("Std. difference", "stat"),
    "n_no_access": ("N, no access", "count"), "n_access": ("N, access", "count"),
    "users_no_access": ("Users, no access", "count"), "users_access": ("Users, access", "count"),
    "takeup_access": ("Take-up with access", "share"),
    "takeup_no_access": ("Take-up without access", "share"),
    "share_zero": ("Never practised", "share"), "mean": ("Mean", "stat1"),
    "mean_if_positive": ("Mean if practised", "stat1"), "median": ("Median", "stat1"),
    "p25": ("25th percentile", "stat"), "p75": ("75th percentile", "stat"),
    "p90": ("90th percentile", "stat1"), "p99": ("99th percentile", "stat1"),
    "max": ("Maximum", "stat1"), "skewness": ("Skewness", "stat"),
    "rho": ("Spearman rho", "rho"), "compliers": ("Compliers", "value"),
    "never_takers": ("Never-takers", "value"), "ratio": ("Compliers / all", "stat"),
    "n_compliers": ("N compliers", "count"), "n_never_takers": ("N never-takers", "count"),
    "adjusted": ("Romano-Wolf p-value", "p"), "qvalue": ("BH q-value", "p"),
    "probability": ("Replication probability", "share"), "mc_se": ("Monte Carlo SE", "share"),
    "lower": ("Lower bound", "coef"), "upper": ("Upper bound", "coef"),
    "family": ("Family", "text"), "claim": ("Claim", "text"),
}

_INTERVALS = {("ci_low", "ci_high"): "95 % CI"}

COVARIATE_LABELS: dict[str, str] = {
    "cito": "Cito score", "age": "age (years)", "female": "girls",
    "both_parents_home": "lives with both parents", "ses_score": "SES score (SCP)",
    "income_avg": "average neighbourhood income", "n": "N (students)",
}

_LEVEL_WORDS: dict[str, Any] = {
    "grade": lambda v: f"Grade {int(float(v))}",
    "grade_band": lambda v: str(v)[0].upper() + str(v)[1:],
    "ses_group": lambda v: f"{v} SES",
    "gender": lambda v: {"boy": "boys", "girl": "girls"}.get(str(v), str(v)),
    "both_parents_home": lambda v: ("both parents at home" if float(v) == 1
                                    else "not both parents at home"),
    "female": lambda v: "girls" if float(v) == 1 else "boys",
    "school": lambda v: f"school {v}",
    "track": lambda v: f"track {v}",
}


def format_pvalue(p: float | None) -> str:
    """A p-value as a stakeholder reads it: 3 decimals, ``"<0.001"`` below 0.0005 (where 3
    decimals would print 0.000), blank when missing.

    Examples
    --------
    >>> format_pvalue(0.0004), format_pvalue(0.0123), format_pvalue(1.0)
    ('<0.001', '0.012', '1.000')
    """
    if p is None or (isinstance(p, float | np.floating) and not math.isfinite(p)):
        return ""
    if not 0 <= p <= 1:
        raise ValueError(f"p-value {p!r} is outside [0, 1]")
    return f"<{P_FLOOR:g}" if p < P_FLOOR / 2 else f"{p:.3f}"


def format_share(x: float | None, digits: int = 1) -> str:
    """A share (0-1) as a percentage: ``0.2268 -> "22.7 %"``; blank when missing."""
    if x is None or not math.isfinite(float(x)):
        return ""
    return tables.format_number(100 * float(x), digits) + " %"


def _format_bound(x: float, digits: int) -> str:
    if isinstance(x, float | np.floating) and math.isinf(x):
        return "-inf" if x < 0 else "+inf"
    return tables.format_number(float(x), digits)


def format_interval(low: float | None, high: float | None, digits: int = 1) -> str:
    """``[low, high]`` with ``digits`` decimals (infinite ends as -inf/+inf); blank when
    either end is missing."""
    if low is None or high is None or isinstance(low, str) or isinstance(high, str):
        return low if isinstance(low, str) else ""
    if (isinstance(low, float) and math.isnan(low)) or (isinstance(high, float)
                                                        and math.isnan(high)):
        return ""
    return f"[{_format_bound(low, digits)}, {_format_bound(high, digits)}]"


def format_value(value: Any, kind: str) -> str:
    """One cell as text by its ``kind`` (see :data:`FORMAT_KINDS`): ``coef`` 1 decimal,
    ``se`` 2, ``p`` :func:`format_pvalue`, ``share`` :func:`format_share`, ``points`` a
    difference of shares in percentage points, ``count`` an integer, ``stat`` 2 decimals,
    ``stat1`` 1 decimal, ``rho`` 2 decimals, ``text`` as is.
    Text already in the cell (a suppression marker such as ``"<10"``) is kept."""
    if kind not in FORMAT_KINDS:
        raise ValueError(f"format kind {kind!r}: use one of {FORMAT_KINDS}")
    if isinstance(value, str) or kind == "text":
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
            else str(value)
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return ""
    if kind == "p":
        return format_pvalue(float(value))
    if kind == "share":
        return format_share(value)
    if kind == "points":  # a difference of two shares
        return tables.format_number(100 * float(value), 1) + " pp"
    if kind == "count":
        return f"{int(value):d}"
    digits = {"coef": 1, "se": 2, "stat": 2, "stat1": 1, "rho": 2}[kind]
    return _format_bound(float(value), digits)


def human_label(value: Any, column: str | None = None) -> str:
    """A level of ``column`` in words: ``(1, "grade") -> "Grade 1"``, ``("low",
    "ses_group") -> "low SES"``; Table 1 keys (``"grade1"``) by the paper's labels;
    covariate names (``"cito"``, ``"track = vmbo"``) by :data:`COVARIATE_LABELS`."""
    if column in _LEVEL_WORDS:
        try:
            return _LEVEL_WORDS[column](value)
        except (TypeError, ValueError):
            return str(value)
    text = str(value)
    if text in paper.TABLE1_LABELS:
        return paper.TABLE1_LABELS[text]
    if text in COVARIATE_LABELS:
        return COVARIATE_LABELS[text]
    if " = " in text:
        name, level = text.split(" = ", 1)
        if name in _LEVEL_WORDS:
            return human_label(level, name)
    head, _, rest = text.partition(" ")
    if head in _LEVEL_WORDS and rest:
        return human_label(rest, head)
    if text.startswith("all_grades "):
        return "All grades"
    if text.startswith("grade ") and text[6:].isdigit():
        return f"Grade {text[6:]}"
    return text


def human_index(by: str | Sequence[str]):
    """A row-label function for :func:`present`: splits an :func:`effects_frame` label
    (``"1, low"``) and words each part by its column (``"Grade 1, low SES"``)."""
    columns = [by] if isinstance(by, str) else list(by)

    def label(key: Any) -> str:
        parts = list(key) if isinstance(key, tuple) else (
            str(key).split(", ", len(columns) - 1) if len(columns) > 1 else [key])
        if len(parts) != len(columns):
            return human_label(key)
        return ", ".join(human_label(v, c) for v, c in zip(parts, columns, strict=True))

    return label


def present(table: pd.DataFrame, counts: pd.DataFrame | pd.Series | str | None = None, *,
            columns: Mapping[Any, tuple[str, str]] | None = None,
            index: Any = None, index_name: str | None = None,
            row_kinds: Any = None, zero_is_safe: bool = True,
            secondary: str | None = None) -> pd.DataFrame:
    """A table as stakeholders see it: suppressed, formatted, readably labelled.

    Parameters
    ----------
    table : DataFrame
        Numbers (one statistic per column).
    counts
        Students behind each cell, as :func:`parentapp.privacy.suppress` takes them (None: the
        table is itself counts). Suppression runs first, on the numbers.
    columns : mapping, optional
        Column -> (heading, kind), in the order shown; only these columns are shown. A key
        that is a pair of columns ``(low, high)`` becomes one interval column. Default: the
        table's columns styled by :data:`COLUMN_STYLES` (an unknown column keeps its name and
        is written with kind ``value``), ``ci_low``/``ci_high`` joined into "95 % CI".
    index : callable, mapping, str or sequence of str, optional
        Row labels: a function of the label, a mapping, or the column(s) whose levels the
        labels are (see :func:`human_index`). Default :func:`human_label`.
    index_name : str, optional
        Heading of the row labels (default: none).
    row_kinds : callable or mapping, optional
        Kind per row label for columns of kind ``"value"`` or ``"difference"`` (tables
        whose rows mix shares and means, e.g. covariate means); default ``"stat"``.
    zero_is_safe, secondary
        Passed to ``privacy.suppress``.

    Returns
    -------
    DataFrame of str, with ``.attrs["suppression"]`` from ``privacy.suppress``.
    """
    shown = privacy.suppress(table, counts=counts, secondary=secondary,
                             zero_is_safe=zero_is_safe)
    mask = shown.attrs.get("suppression")
    if columns is None:
        columns = {}
        for column in table.columns:
            pair = next((p for p in _INTERVALS if column in p), None)
            if pair and all(c in table.columns for c in pair):
                if pair[0] == column:
                    columns[pair] = (_INTERVALS[pair], "coef")
                continue
            columns[column] = COLUMN_STYLES.get(column, (human_label(column), "value"))
    if callable(index):
        relabel = index
    elif isinstance(index, Mapping):
        relabel = lambda key: index.get(key, human_label(key))  # noqa: E731
    elif index is not None:
        relabel = human_index(index)
    else:
        relabel = human_label
    if callable(row_kinds):
        kind_of = row_kinds
    elif isinstance(row_kinds, Mapping):
        kind_of = lambda key: row_kinds.get(key, "stat")  # noqa: E731
    else:
        kind_of = lambda key: "stat"  # noqa: E731
    out = {}
    for key, (heading, kind) in columns.items():
        if isinstance(key, tuple):
            digits = 1 if kind == "coef" else 2
            out[heading] = [format_interval(lo, hi, digits) for lo, hi in
                            zip(shown[key[0]], shown[key[1]], strict=True)]
        else:
            if key not in shown.columns:
                raise KeyError(f"column {key!r} is not in the table (columns: "
                               f"{list(shown.columns)})")
            out[heading] = [format_value(v, _cell_kind(kind, kind_of(r)))
                            for r, v in zip(shown.index, shown[key], strict=True)]
    frame = pd.DataFrame(out, index=pd.Index([relabel(k) for k in shown.index],
                                             name=index_name))
    frame.columns.name = None
    frame.attrs["suppression"] = mask
    return frame


def _cell_kind(column_kind: str, row_kind: str) -> str:
    """Column kinds ``value`` and ``difference`` take the row's kind; the difference of two
    shares is in percentage points."""
    if column_kind == "value":
        return row_kind
    if column_kind == "difference":
        return "points" if row_kind == "share" else row_kind
    return column_kind


def covariate_kind(label: Any) -> str:
    """``"share"`` for a dummy covariate (``"female"``, ``"track = vmbo"``), ``"count"`` for
    the row ``n``, else ``"stat"`` (for :func:`present`'s ``row_kinds``)."""
    text = str(label)
    if text == "n":
        return "count"
    if " = " in text or text in ("female", "both_parents_home"):
        return "share"
    return "stat"


# --------------------------------------------------------------------------- attrition bounds


def attrition_bounds(students: pd.DataFrame, outcome: str = OUTCOME,
                     responded: str = "respondent", arm: str = "access",
                     treatment: str = "app_used", cluster: str = "family_id",
                     n_boot: int = 500, seed: int = 0) -> Any:
    """Lee (2009) bounds on the main effect under questionnaire non-response
    (``inference.lee_bounds`` over all students, respondents as the observed sample).

    Returns an ``inference.LeeBoundsResult``: bounds on the ITT of access for students who
    would answer whatever their access, and (``iv_lower``, ``iv_upper``) those bounds divided
    by the take-up among responding students with access.
    """
    from parentapp import inference

    missing = [c for c in (outcome, responded, arm, treatment, cluster)
               if c not in students.columns]
    if missing:
        raise KeyError(f"attrition_bounds needs columns {missing} in the student table "
                       "(sample.prepare(...).students has them)")
    return inference.lee_bounds(students[outcome], students[responded].astype(int),
                                students[arm], treatment=students[treatment],
                                clusters=students[cluster], n_boot=n_boot, seed=seed)


def attrition_bounds_frame(bounds: Any) -> pd.DataFrame:
    """The Lee bounds as a two-row table (ITT of access; effect of use) with the students
    in each arm's respondents as N."""
    n = min(bounds.n_access, bounds.n_no_access)
    rows = {"effect of access (ITT)": {"lower": bounds.lower, "upper": bounds.upper,
                                       "ci_low": bounds.ci_low, "ci_high": bounds.ci_high,
                                       "n": n}}
    if bounds.iv_lower is not None:
        rows["effect of app use (ITT / take-up)"] = {
            "lower": bounds.iv_lower, "upper": bounds.iv_upper,
            "ci_low": np.nan, "ci_high": np.nan, "n": n}
    frame = pd.DataFrame(rows).T
    frame = frame.astype({"lower": float, "upper": float, "ci_low": float, "ci_high": float})
    frame["n"] = frame["n"].astype(int)
    return frame


def describe_attrition_bounds(bounds: Any, unit: str = "minutes of practice per week",
                              level: float = 0.95) -> str:
    """What the Lee bounds say, from the numbers: how much was trimmed, the range for the
    ITT and for the effect of use, and whether the range excludes zero."""
    arm = bounds.trimmed_arm
    itt = f"[{_signed(bounds.lower)}, {_signed(bounds.upper)}]"
    sign = ("excludes zero" if bounds.lower > 0 or bounds.upper < 0 else "includes zero")
    text = (
        f"Response was {format_share(bounds.response_access)} with access and "
        f"{format_share(bounds.response_no_access)} without. Lee bounds trim the '{arm}' arm, "
        f"which answered more often, by {format_share(bounds.trim_share)} of its respondents "
        f"(the students who may have answered only because of their arm), once from the top "
        f"and once from "
        f"the bottom of its practice times. Assuming access moved response in one direction "
        f"only, the ITT of access for students who would answer either way lies in {itt} "
        f"{unit}; this range {sign}."
    )
    if bounds.ci_low is not None and math.isfinite(bounds.ci_low):
        text += (f" Allowing for sampling error (family bootstrap, {bounds.n_boot} draws), "
                 f"the {level * 100:g} % interval covering both bounds is "
                 f"{format_interval(bounds.ci_low, bounds.ci_high)}.")
    if bounds.iv_lower is not None:
        text += (f" Divided by the take-up among responding students with access "
                 f"({format_share(bounds.compliance)}), the effect of app use lies in "
                 f"[{_signed(bounds.iv_lower)}, {_signed(bounds.iv_upper)}] {unit}, under the "
                 f"extra assumption that take-up among students who answer either way equals "
                 f"take-up among all responding students with access.")
    return text


# --------------------------------------------------------------------------- multiple testing

# The subgroup family of issue 6: every grade x (SES group, home situation, gender) cell.
SUBGROUP_FAMILY: dict[str, str] = {
    "ses_group": "grade x SES", "both_parents_home": "grade x home situation",
    "gender": "grade x gender",
}

# Cells behind the subgroup claims, with the sign the article reports (claims.py rules).
CLAIM_CELLS: dict[int, tuple[tuple[str, str], ...]] = {
    4: (("Grade 1, low SES", "positive"), ("Grade 2, low SES", "positive"),
        ("Grade 3, high SES", "negative")),
    5: (("Grade 1, not both parents at home", "positive"),
        ("Grade 2, not both parents at home", "positive")),
    6: (("Grade 1, boys", "positive"), ("Grade 2, boys", "positive")),
}


def subgroup_family_masks(data: pd.DataFrame, design: Any,
                          groups: Sequence[str] = tuple(SUBGROUP_FAMILY),
                          within: str = "grade") -> dict[str, np.ndarray]:
    """Boolean masks over a design's rows for every ``within`` x group cell, named in words
    (``"Grade 1, low SES"``); cells with fewer than ``privacy.MIN_CELL`` students are left
    out of the family (they are not shown either)."""
    masks: dict[str, np.ndarray] = {}
    for group in groups:
        for name, mask in subgroup_masks(data, design, [within, group]).items():
            label = human_index([within, group])(name)
            if mask.sum() >= privacy.MIN_CELL:
                masks[label] = mask
    return masks


def multiple_testing(data: pd.DataFrame, n_draws: int, seed: int,
                     groups: Sequence[str] = tuple(SUBGROUP_FAMILY), within: str = "grade",
                     outcome: str = OUTCOME, **kw: Any) -> pd.DataFrame:
    """Adjusted p-values for "no effect" in every cell of one family of subgroup hypotheses
    (by default grade x SES group, grade x home situation and grade x gender together).

    The test in each cell is the CR1 t-test of the ITT of access (with one-sided
    non-compliance, no effect of access iff no effect of use); ``adjusted`` is the
    Romano-Wolf stepdown p-value (restricted wild cluster bootstrap, families share one
    weight across cells) and ``qvalue`` the Benjamini-Hochberg q-value of the unadjusted
    ``pvalue`` over the whole family.

    Returns
    -------
    DataFrame
        Rows cells in words; columns ``family``, ``estimate`` (ITT), ``tstat``, ``pvalue``,
        ``adjusted``, ``qvalue``, ``nobs``.
    """
    from parentapp import inference

    kw = {k: v for k, v in kw.items() if k != "cov"}
    design = estimate.prepare_design(data, outcome, **kw)
    masks = subgroup_family_masks(data, design, groups, within)
    result = inference.romano_wolf(design, masks, n_draws=n_draws, seed=seed)
    frame = result.to_frame()
    # BH over the whole family (the same as result.qvalues, stated here explicitly)
    frame["qvalue"] = inference.benjamini_hochberg(frame["pvalue"].to_numpy())
    family_of = {}
    for group in groups:
        for label in subgroup_family_masks(data, design, [group], within):
            family_of[label] = SUBGROUP_FAMILY.get(group, f"{within} x {group}")
    frame.insert(0, "family", [family_of[k] for k in frame.index])
    frame["nobs"] = [int(masks[k].sum()) for k in frame.index]
    return frame


MULTIPLE_TESTING_COLUMNS: dict[Any, tuple[str, str]] = {
    "family": ("Family", "text"), "estimate": ("Effect of access (ITT)", "coef"),
    "pvalue": ("p-value", "p"), "adjusted": ("Romano-Wolf p-value", "p"),
    "qvalue": ("BH q-value", "p"), "nobs": ("N", "count"),
}


def claims_after_adjustment(frame: pd.DataFrame, level: float = 0.10
                            ) -> dict[str, dict[str, Any]]:
    """For every cell behind claims 4-6 (:data:`CLAIM_CELLS`): the reported sign, the ITT,
    and whether it is significant in that direction at ``level`` unadjusted, after
    Romano-Wolf and after Benjamini-Hochberg. Keyed by cell; cells not in ``frame`` (too
    small) are marked ``tested = False``."""
    out: dict[str, dict[str, Any]] = {}
    for claim, cells in CLAIM_CELLS.items():
        for cell, sign in cells:
            if cell not in frame.index:
                out[cell] = {"claim": claim, "sign": sign, "tested": False}
                continue
            row = frame.loc[cell]
            right_sign = row["estimate"] > 0 if sign == "positive" else row["estimate"] < 0
            out[cell] = {
                "claim": claim, "sign": sign, "tested": True, "estimate": float(row["estimate"]),
                "unadjusted": bool(right_sign and row["pvalue"] < level),
                "romano_wolf": bool(right_sign and row["adjusted"] < level),
                "benjamini_hochberg": bool(right_sign and row["qvalue"] < level),
            }
    return out


def _listed(items: Iterable[str]) -> str:
    """``"a; b and c"``: :func:`joined` for items that contain commas themselves."""
    items = list(items)
    if not items:
        return "none"
    return items[0] if len(items) == 1 else "; ".join(items[:-1]) + " and " + items[-1]


def describe_multiple_testing(frame: pd.DataFrame, level: float = 0.10) -> str:
    """Sentences: how many cells of the family are significant before and after adjustment,
    and which of the subgroup findings behind claims 4-6 survive."""
    pct = f"{level * 100:g} %"
    n = len(frame)
    raw = int((frame["pvalue"] < level).sum())
    rw = int((frame["adjusted"] < level).sum())
    bh = int((frame["qvalue"] < level).sum())
    text = [f"Of the {n} subgroup cells tested as one family, {raw} are significant at {pct} "
            f"unadjusted, {rw} after the Romano-Wolf adjustment (family-wise error) and {bh} "
            f"with Benjamini-Hochberg q-values below {pct} (false discovery rate)."]
    verdicts = claims_after_adjustment(frame, level)
    for claim in sorted({v["claim"] for v in verdicts.values()}):
        cells = {k: v for k, v in verdicts.items() if v["claim"] == claim}
        found = [k for k, v in cells.items() if v.get("unadjusted")]
        survive_rw = [k for k, v in cells.items() if v.get("romano_wolf")]
        survive_bh = [k for k, v in cells.items() if v.get("benjamini_hochberg")]
        untested = [k for k, v in cells.items() if not v["tested"]]
        words = [f"Claim {claim} rests on {_listed(cells)}."]
        if not found:
            words.append(f"None of these is significant in the reported direction at {pct} "
                         "even before adjustment.")
        else:
            words.append(f"Significant in the reported direction before adjustment: "
                         f"{_listed(found)}. After Romano-Wolf: {_listed(survive_rw)}. After "
                         f"Benjamini-Hochberg: {_listed(survive_bh)}.")
        if untested:
            words.append(f"Too few students to test: {_listed(untested)}.")
        text.append(" ".join(words))
    return "\n\n".join(text)


# --------------------------------------------------------------------------- replication


def replication_sentences(table: pd.DataFrame, out_of: int = 10) -> list[str]:
    """One sentence per claim of a ``claims.replication_table``: "would hold in about X of
    10 replications of the study" with the Monte Carlo uncertainty."""
    n_reps = table.attrs.get("n_reps")
    lines = []
    for claim_id, row in table.iterrows():
        p, se = float(row["probability"]), float(row["mc_se"])
        about = round(p * out_of)
        margin = f" (± {se * out_of:.1f} from simulation error)" if se > 0 else ""
        lines.append(f"- Claim {claim_id} would hold in about {about} of {out_of} replications"
                     f" of the study{margin}.")
    if n_reps:
        lines.append(f"\n(Shares from {n_reps} simulated replications at the published effect "
                     "sizes.)")
    return lines


REPLICATION_COLUMNS: dict[Any, tuple[str, str]] = {
    "claim": ("Claim", "text"), "probability": ("Replication probability", "share"),
    "mc_se": ("Monte Carlo SE", "share"),
}


# How notebook 4 shows :func:`estimators_frame` (rows (sample, estimator)).
ESTIMATOR_COLUMNS: dict[Any, tuple[str, str]] = {
    "coef": ("Estimate", "value"), "se": ("SE", "value"), "pvalue": ("p-value", "p"),
    ("ci_low", "ci_high"): ("95 % CI", "coef"), "nobs": ("N", "count"),
}

_ESTIMATOR_WORDS = {"2SLS": "2SLS: effect of use", "ITT": "ITT: effect of access",
                    "OLS": "naive OLS: users vs others",
                    "first stage": "first stage: access on use"}


def estimator_label(key: Any) -> str:
    """``("grade1", "ITT") -> "Grade 1 | ITT: effect of access"``."""
    sample_key, estimator = key
    return f"{human_label(sample_key)} | {_ESTIMATOR_WORDS.get(estimator, estimator)}"


def estimator_kind(key: Any) -> str:
    """The first stage is a share (2 decimals); the other estimates are minutes (1)."""
    return "stat" if key[1] == "first stage" else "coef"


def scorecard_frame(scorecard: Any, replication: pd.DataFrame | None = None) -> pd.DataFrame:
    """The scorecard as stakeholders read it: claim, verdict, rule, evidence and, when a
    ``claims.replication_table`` is given, how often the claim would hold in ten
    replications of the study (from its replication probability)."""
    frame = scorecard.to_frame()
    out = pd.DataFrame({
        "Claim": frame["claim"],
        "Verdict": ["holds" if h else "does not hold" for h in frame["holds"]],
    }, index=frame.index)
    if replication is not None:
        out["Would hold in"] = [
            f"about {round(replication.loc[int(i), 'probability'] * 10)} of 10 replications"
            if int(i) in replication.index else "" for i in frame.index]
    out["Rule"] = frame["rule"]
    out["Evidence"] = frame["evidence"]
    out.index.name = "Claim no."
    return out


GROUP_WORDS = {"grade": "grade", "ses_group": "SES group", "gender": "gender",
               "both_parents_home": "home situation", "grade_band": "grade band"}

# How notebook 3 shows :func:`first_stage_frame`: the first stage is a share of students.
FIRST_STAGE_COLUMNS: dict[Any, tuple[str, str]] = {
    "coef": ("Effect of access on use", "stat"), "se": ("SE", "stat"),
    "F": ("First-stage F", "stat1"), "takeup_access": ("Take-up with access", "share"),
    "takeup_no_access": ("Take-up without access", "share"), "nobs": ("N", "count"),
}

ALIGNMENT_COLUMNS: dict[Any, tuple[str, str]] = {
    "rho": ("Spearman rho", "rho"), ("ci_low", "ci_high"): ("95 % CI", "rho"),
    "pvalue": ("p-value", "p"), "n": ("N (pairs)", "count"),
}


def item_label(item: str) -> str:
    """A questionnaire item in words: ``"st_wants_more_help" -> "student: wants more help"``."""
    who = {"st": "student", "pa": "parent"}.get(item[:2], "")
    rest = item[3:] if who else item
    return f"{who}: {rest.replace('_', ' ')}" if who else rest.replace("_", " ")


def alignment_label(key: Any) -> str:
    """Row label of an :func:`alignment` table: ``"Grade 1 | student: ... ~ parent: ..."``."""
    level, student, parent = key
    return f"{human_label(level, 'grade')} | {item_label(student)} ~ {item_label(parent)}"


def replication_counts(table: pd.DataFrame) -> pd.Series:
    """Students behind each row of a ``claims.replication_table`` (for :func:`present`): every
    share describes simulated studies of the default synthetic size, never a real student."""
    from parentapp import simulate

    return pd.Series(simulate.DEFAULT_N_STUDENTS, index=table.index)
