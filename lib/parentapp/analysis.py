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


def significance_phrase(pvalue: float) -> str:
    """How the paper's convention reads a p-value: 5 %, 10 % (not 5 %) or not at 10 %."""
    if pvalue is None or not math.isfinite(pvalue):
        return "not tested (no p-value)"
    if pvalue < 0.05:
        return "significant at 5 %"
    if pvalue < 0.10:
        return "significant at 10 % but not at 5 %"
    return "not significant at 10 %"


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
        f"{_signed(result.coef)} {unit} ({level:.0%} CI {tables.format_number(result.ci_low)} "
        f"to {tables.format_number(result.ci_high)}; p = {result.pvalue:.3f}): "
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
        f"percentage points, p = {result.pvalue:.3f}): {verdict}."
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
        f"p = {result.joint_pvalue:.3f}: {joint}."
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
    shown.columns.name = table.columns.name
    return shown


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
    return (f"First-stage F ranges from {frame['F'].min():.1f} ({weakest}) to "
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
    return (f"Among students with access, does {by} predict app use? Joint test "
            f"F({gap.joint_df[0]}, {gap.joint_df[1]}) = {gap.joint_f:.2f}, "
            f"p = {gap.joint_pvalue:.3f}: {verdict}.")


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
    """Per key: randomisation-inference p-value of the ITT (family-level re-draws of access)
    and the cluster-robust Anderson-Rubin 95 % set of the effect of use, beside the usual
    2SLS p-value and interval."""
    from parentapp import inference

    usable = {k: r for k, r in results.items() if not isinstance(r, str)}
    ri = inference.randomisation_inference_many({k: r.design for k, r in usable.items()},
                                                n_draws=n_draws, seed=seed)
    rows = {}
    for key, r in usable.items():
        ar = inference.anderson_rubin(r.design)
        rows[key] = {"coef": r.coef, "pvalue": r.pvalue, "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "ri_pvalue": ri[key].pvalue,
                     "ar_pvalue": float(ar.pvalue(0.0)), "ar_ci_low": ar.ci_low,
                     "ar_ci_high": ar.ci_high, "ar_shape": ar.shape, "nobs": r.nobs,
                     "n_draws": ri[key].n_draws}
    frame = pd.DataFrame(rows).T
    for column in frame.columns.drop("ar_shape"):
        frame[column] = frame[column].astype(float)
    frame[["nobs", "n_draws"]] = frame[["nobs", "n_draws"]].astype(int)
    return frame


def describe_robust_inference(frame: pd.DataFrame) -> str:
    """Sentences comparing the usual p-values with randomisation and Anderson-Rubin ones."""
    lines = []
    for key, row in frame.iterrows():
        agree = (row["pvalue"] < 0.10) == (row["ri_pvalue"] < 0.10) == (row["ar_pvalue"] < 0.10)
        lines.append(
            f"- {key}: usual p = {row['pvalue']:.3f}, randomisation p = {row['ri_pvalue']:.3f}, "
            f"Anderson-Rubin p = {row['ar_pvalue']:.3f} ("
            + ("all three agree at 10 %" if agree else "they disagree at 10 %: "
               "read this estimate with care") + ")."
        )
    return "\n".join(lines)


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
            lines.append(f"- {level}: not testable ({row['note']}).")
        else:
            lines.append(f"- {level}: the effect differs by {group} with p = {row['pvalue']:.3f}"
                         f" ({significance_phrase(row['pvalue'])}).")
    return "\n".join(lines)


def adjusted_pvalues(data: pd.DataFrame, by: str | Sequence[str], n_draws: int, seed: int,
                     outcome: str = OUTCOME, **kw: Any) -> pd.DataFrame:
    """Romano-Wolf (stepdown, wild cluster bootstrap) and Benjamini-Hochberg adjusted p-values
    for "no effect" in every cell of ``by``, with the number of students per cell."""
    from parentapp import inference

    kw = {k: v for k, v in kw.items() if k != "cov"}
    design = estimate.prepare_design(data, outcome, **kw)
    masks = subgroup_masks(data, design, by)
    masks = {k: m for k, m in masks.items() if m.sum() >= privacy.MIN_CELL}
    result = inference.romano_wolf(design, masks, n_draws=n_draws, seed=seed)
    frame = result.to_frame()
    frame["nobs"] = [int(masks[k].sum()) for k in frame.index]
    return frame


def describe_adjusted(frame: pd.DataFrame) -> str:
    """Which cells stay significant at 10 % after the Romano-Wolf adjustment."""
    raw = [f"({k})" for k, r in frame.iterrows() if r["pvalue"] < 0.10]
    kept = [f"({k})" for k, r in frame.iterrows() if r["adjusted"] < 0.10]
    return (f"Unadjusted, {len(raw)} of {len(frame)} cells are significant at 10 % "
            f"({joined(raw)}); after the Romano-Wolf adjustment for testing {len(frame)} cells "
            f"at once, {len(kept)} remain ({joined(kept)}).")


def replication_summary(n_reps: int, seed: int, level: float = 0.10,
                        cov: str = "clustered") -> tuple[pd.DataFrame | None, str]:
    """Replication probability of every claim (``claims.replication_probability``) and a
    sentence; ``n_reps = 0`` skips the simulation and says so."""
    from parentapp import claims

    if n_reps <= 0:
        return None, ("Replication probabilities were not computed in this run "
                      "(n_replications = 0).")
    table = claims.replication_table(
        claims.replication_probability(n_reps=n_reps, seed=seed, level=level, cov=cov))
    likely = [str(i) for i, row in table.iterrows() if row["probability"] >= 0.8]
    return table, (
        f"In {n_reps} simulated replications of the study at the published effect sizes, "
        f"{len(likely)} of {len(table)} claims hold at least 80 % of the time "
        f"(claims {joined(likely)}); the Monte Carlo standard error of each share is shown."
    )
