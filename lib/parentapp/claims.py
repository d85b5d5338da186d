"""The replication scorecard: every claim of the article, checked by code on a data set.

The article (``shared/study.md``, "Claims made in the text") makes ten claims. :func:`evaluate`
takes a raw data set in the schema (:data:`parentapp.schema.COLUMNS`), builds the analysis
sample itself (:func:`parentapp.sample.build`: SCP status score in three groups, and for the
robustness claim also average income in four groups), and decides for each claim, by a rule
stated in plain language, whether it holds in these data. Each verdict comes with evidence: a
short generated sentence with the numbers behind it.

How the rules read the text
---------------------------
* "Significant" means two-sided p < ``level`` (default 0.10, the weakest level the article
  marks with a star); "no effect" means p >= ``level``. Every effect is the study specification
  of :func:`parentapp.estimate.study` (2SLS, access instruments app use, all controls,
  standard errors clustered by family), fitted once per subgroup.
* A subgroup estimate needs at least ``privacy.MIN_CELL`` (10) app users. Below that it is not
  estimated (a 2SLS effect then rests on fewer than 10 families, and the report may not describe
  fewer than 10 students); every part of a claim that rests on such a cell fails, so the claim
  does not hold, and the evidence says why. Estimation errors (no app use, too few families)
  are handled the same way: a verdict, never an exception.
* Where the article is vague the rule says which reading was chosen (see each rule text).

:func:`replication_probability` runs the whole study many times on synthetic trials
(:func:`parentapp.simulate.simulate`, fresh seeds) and reports the share of replications in
which each claim holds (its power), via :func:`parentapp.inference.replication_probability`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from parentapp import estimate, inference, paper, paths, privacy, sample, simulate

__all__ = [
    "CLAIM_TEXTS",
    "DEFAULT_LEVEL",
    "CellEstimate",
    "ClaimResult",
    "Samples",
    "Scorecard",
    "evaluate",
    "evaluate_samples",
    "REQUIREMENTS",
    "fit_cell",
    "meets",
    "replication_probability",
    "replication_table",
]

DEFAULT_LEVEL = 0.10
MIN_CELL = privacy.MIN_CELL
INTENSITY = "app_logins_per_week"
# Achievement outcomes (January test) and the September test each is controlled for.
SCORE_BASELINE = {"score_math_jan": "score_math_sep", "score_lang_jan": "score_lang_sep"}
# The robustness specification: SES measured by the neighbourhood's average income instead of
# the SCP status score, as a control and for the groups.
INCOME_CONTROLS = tuple(
    "income_avg" if c == "ses_score" else c for c in estimate.STUDY_CONTROLS
)

_T1 = paper.TABLE1
CLAIM_TEXTS: dict[int, str] = {
    1: "All grades pooled: no significant effect of app use on practice time.",
    2: (f"Grades 1 and 2: significant positive effect ({_T1['grade1'].coef:+g} and "
        f"{_T1['grade2'].coef:+g} min/week, against an average practice time of "
        f"{paper.SAMPLE['mean_practice_minutes_per_week']:g} min/week)."),
    3: f"Grade 3: significant negative effect ({_T1['grade3'].coef:+g} min/week).",
    4: ("By grade x SES tertile: positive significant effect in grades 1 and 2 for the lowest "
        "SES group, negative significant effect for the highest SES group in grade 3, no "
        "effects for the middle SES group."),
    5: ("Home situation: the positive grade 1-2 effects also appear for students who do not "
        "live with both parents."),
    6: ("Gender: the positive grade 1-2 effects are entirely due to boys; the grade 3 negative "
        "effect is not visible in the separate gender analyses."),
    7: ("Achievement: app use raises maths scores (mainly grade 2), not language scores; the "
        "maths effect is visible for boys only; no differences in score effects across SES "
        "groups."),
    8: ("Questionnaires: in grades 1-2 students' and parents' views on help are aligned; in "
        "grade 3 they diverge (parent: child could use more help; student: parents should "
        "interfere less)."),
    9: "No socio-economic gap in uptake: app use was not limited to high-SES parents.",
    10: ("Robustness: the results hold with SES groups from average neighbourhood income, "
         "with four instead of three groups, and with app use measured by its intensity."),
}


# --------------------------------------------------------------------------- cell estimates


@dataclass(frozen=True)
class CellEstimate:
    """One number a claim rests on: an effect, a correlation, a difference or a test.

    Attributes
    ----------
    label : str
        Plain-language name of the cell (e.g. "grade 1, low SES").
    value : float
        The estimate (effect, correlation, difference; the F statistic for an equality test).
    pvalue : float
        Two-sided p-value.
    nobs : int
        Students behind the estimate.
    se : float
        Standard error (NaN when not applicable).
    value_format : str
        How ``value`` is printed, e.g. ``"{:+.1f}"`` or ``"r = {:+.2f}"``.
    problem : str
        Why there is no estimate ("" when there is one).
    n_users : int or None
        App users behind an effect (None when not applicable or when below ``MIN_CELL``).
    """

    label: str
    value: float = math.nan
    pvalue: float = math.nan
    nobs: int = 0
    se: float = math.nan
    value_format: str = "{:+.1f}"
    problem: str = ""
    n_users: int | None = None

    @property
    def estimated(self) -> bool:
        """Whether there is an estimate (no problem, finite value and p-value)."""
        return not self.problem and math.isfinite(self.value) and math.isfinite(self.pvalue)

    def describe(self) -> str:
        """The cell in words, with its numbers; cells of < 10 students are never described."""
        if not self.estimated:
            return f"{self.label}: not estimated ({self.problem or 'no finite estimate'})"
        return (f"{self.label}: {self.value_format.format(self.value)} "
                f"({_p_text(self.pvalue)}, N = {self.nobs})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN as None)."""
        return {
            "label": self.label,
            "value": _finite_or_none(self.value),
            "se": _finite_or_none(self.se),
            "pvalue": _finite_or_none(self.pvalue),
            "nobs": int(self.nobs) if self.estimated else None,
            "n_users": self.n_users,
            "problem": self.problem or None,
        }


def _finite_or_none(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _pct(level: float) -> str:
    return f"{level * 100:g} %"


def _not_estimated(label: str, problem: str, value_format: str = "{:+.1f}") -> CellEstimate:
    return CellEstimate(label=label, problem=problem, value_format=value_format)


def _problem_of(exc: Exception) -> str:
    """A short reason for a failed fit that never echoes counts of a small group."""
    if isinstance(exc, estimate.ZeroTakeUpError):
        return "no app use to instrument"
    if isinstance(exc, estimate.NoInstrumentVariationError):
        return "access does not vary"
    if isinstance(exc, estimate.SubgroupTooSmallError):
        return "too few students or families for the model"
    if isinstance(exc, np.linalg.LinAlgError):
        return "singular design"
    return "the model could not be estimated"


def _as_mask(data: pd.DataFrame, subset: Any) -> np.ndarray:
    if subset is None:
        return np.ones(len(data), dtype=bool)
    if isinstance(subset, pd.Series):
        subset = subset.reindex(data.index)
        return subset.fillna(False).to_numpy(dtype=bool)
    return np.asarray(subset, dtype=bool)


def fit_cell(
    data: pd.DataFrame,
    label: str,
    subset: Any = None,
    *,
    cov: str = "clustered",
    **spec: Any,
) -> CellEstimate:
    """The study specification's 2SLS effect in one (sub)sample, or the reason there is none.

    Parameters
    ----------
    data : DataFrame
        The analysis sample.
    label : str
        Name of the cell, used in evidence.
    subset : boolean mask or Series, optional
        Rows of the cell (missing counts as outside).
    cov : str
        Covariance type of :func:`parentapp.estimate.iv` (default clustered by family).
    **spec
        Overrides of the study specification (``outcome``, ``treatment``, ``controls``, ...).

    Returns
    -------
    CellEstimate
        With ``problem`` set (and no numbers) when the model cannot be fitted or when fewer than
        ``MIN_CELL`` students use the app in the cell.
    """
    mask = _as_mask(data, subset)
    if int(mask.sum()) < MIN_CELL:
        return _not_estimated(label, f"fewer than {MIN_CELL} students")
    try:
        result = estimate.study(data, subset=mask, cov=cov, label=label, **spec)
    except estimate.UnknownColumnError:
        raise
    except (estimate.EstimationError, np.linalg.LinAlgError) as exc:
        return _not_estimated(label, _problem_of(exc))
    users = int(np.count_nonzero(result.design.d))
    if users < MIN_CELL:
        return _not_estimated(label, f"fewer than {MIN_CELL} app users")
    return CellEstimate(
        label=label,
        value=float(result.coef),
        pvalue=float(result.pvalue),
        nobs=int(result.nobs),
        se=float(result.se),
        n_users=users,
    )


def _fit_equality(data: pd.DataFrame, label: str, group: str, *, cov: str,
                  **spec: Any) -> CellEstimate:
    """Wald test that the 2SLS effect is equal across the levels of ``group``."""
    full = {**estimate.STUDY_SPEC, **spec}
    try:
        result = estimate.interaction(data, group, cov=cov, **full)
    except estimate.UnknownColumnError:
        raise
    except (estimate.EstimationError, np.linalg.LinAlgError) as exc:
        return _not_estimated(label, _problem_of(exc), "F = {:.2f}")
    levels = data.loc[result.design.index, group].to_numpy()
    users = pd.Series(result.design.d != 0).groupby(levels).sum()
    if (users < MIN_CELL).any():
        return _not_estimated(label, f"a group has fewer than {MIN_CELL} app users",
                              "F = {:.2f}")
    return CellEstimate(label=label, value=float(result.wald_f), pvalue=float(result.wald_pvalue),
                        nobs=int(result.nobs), value_format="F = {:.2f}",
                        n_users=int(users.sum()))


def _spearman(frame: pd.DataFrame, x: str, y: str, label: str) -> CellEstimate:
    """Spearman rank correlation of two questionnaire items over the rows answering both."""
    pairs = frame[[x, y]].apply(pd.to_numeric, errors="coerce").dropna()
    fmt = "r = {:+.2f}"
    if len(pairs) < MIN_CELL:
        return _not_estimated(label, f"fewer than {MIN_CELL} students answered both", fmt)
    if pairs[x].nunique() < 2 or pairs[y].nunique() < 2:
        return _not_estimated(label, "an item does not vary", fmt)
    rho, pvalue = stats.spearmanr(pairs[x], pairs[y])
    return CellEstimate(label=label, value=float(rho), pvalue=float(pvalue), nobs=len(pairs),
                        value_format=fmt)


# --------------------------------------------------------------------------- rules


# What a part of a claim can require of its cell: description and test (value, p, level).
REQUIREMENTS: dict[str, tuple[str, Callable[[float, float, float], bool]]] = {
    "positive": ("positive and significant", lambda v, p, a: v > 0 and p < a),
    "negative": ("negative and significant", lambda v, p, a: v < 0 and p < a),
    "null": ("not significant", lambda v, p, a: p >= a),
    "not positive": ("not significantly positive", lambda v, p, a: not (v > 0 and p < a)),
    "not negative": ("not significantly negative", lambda v, p, a: not (v < 0 and p < a)),
}


def meets(cell: CellEstimate, requirement: str, level: float = DEFAULT_LEVEL) -> bool:
    """Whether ``cell`` meets a requirement of :data:`REQUIREMENTS` at significance ``level``.

    Significant means ``p < level``; a cell without an estimate meets no requirement, not even
    "null" (a claim cannot be shown on a cell that could not be estimated).
    """
    if requirement not in REQUIREMENTS:
        raise ValueError(f"requirement={requirement!r}; use one of {', '.join(REQUIREMENTS)}.")
    return cell.estimated and REQUIREMENTS[requirement][1](cell.value, cell.pvalue, level)


@dataclass(frozen=True)
class _Part:
    cell: CellEstimate
    requirement: str

    def met(self, level: float) -> bool:
        return meets(self.cell, self.requirement, level)


def _judge(parts: Sequence[_Part], level: float, preamble: str) -> tuple[bool, str, dict]:
    """All parts met? With evidence listing every part and a numbers dict."""
    pieces, numbers, failing = [], {}, []
    for part in parts:
        wanted = REQUIREMENTS[part.requirement][0]
        ok = part.met(level)
        pieces.append(f"{part.cell.describe()} [needs {wanted}: {'yes' if ok else 'no'}]")
        numbers[part.cell.label] = {**part.cell.to_dict(), "required": wanted, "met": ok}
        if not ok:
            failing.append(part.cell.label)
    holds = not failing
    verdict = "Holds." if holds else f"Does not hold: fails for {', '.join(failing)}."
    return holds, f"{preamble} {'; '.join(pieces)}. {verdict}", numbers


# --------------------------------------------------------------------------- the claims


@dataclass(frozen=True)
class Samples:
    """The frames the claims are evaluated on.

    Attributes
    ----------
    data : DataFrame
        Analysis sample with ``ses_group`` from the SCP score in three groups (low/middle/high).
    respondents : DataFrame
        All questionnaire respondents (for the questionnaire claim).
    income_data : DataFrame
        Analysis sample with ``ses_group`` from the average income in four groups (Q1..Q4).
    """

    data: pd.DataFrame
    respondents: pd.DataFrame
    income_data: pd.DataFrame

    @classmethod
    def build(cls, raw: pd.DataFrame, source: str = "<data>") -> Samples:
        """Build the samples from raw records with :func:`parentapp.sample.build`."""
        scp = sample.build(raw, ses_measure="scp", ses_groups=3, source=source)
        income = sample.build(raw, ses_measure="income", ses_groups=4, source=source)
        return cls(data=scp.data, respondents=scp.respondents, income_data=income.data)


@dataclass(frozen=True)
class ClaimResult:
    """The verdict on one claim.

    Attributes
    ----------
    id : int
        Claim number (1..10, as in study.md).
    text : str
        The claim, shortly.
    rule : str
        How it is checked, in plain language.
    holds : bool
        Whether it holds in the data.
    evidence : str
        Generated sentence with the numbers behind the verdict.
    numbers : dict
        The numbers, JSON-safe, keyed by cell label.
    """

    id: int
    text: str
    rule: str
    holds: bool
    evidence: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """``{id, text, rule, holds, evidence}`` (JSON-safe)."""
        return {"id": int(self.id), "text": self.text, "rule": self.rule,
                "holds": bool(self.holds), "evidence": self.evidence}


def _grade_mask(data: pd.DataFrame, grade: int) -> np.ndarray:
    return (pd.to_numeric(data["grade"], errors="coerce") == grade).to_numpy(dtype=bool)


def _eq_mask(data: pd.DataFrame, column: str, value: Any) -> np.ndarray:
    return data[column].eq(value).fillna(False).to_numpy(dtype=bool)


def _ses_levels(data: pd.DataFrame) -> list[Any]:
    groups = data["ses_group"]
    if isinstance(groups.dtype, pd.CategoricalDtype):
        return list(groups.cat.categories)
    return sorted(groups.dropna().unique().tolist())


_EFFECT_PREAMBLE = ("2SLS effect of app use on practice minutes/week (study controls, SE "
                    "clustered by family):")


def _claim_1(s: Samples, level: float, cov: str) -> tuple[str, bool, str, dict]:
    rule = (f"The 2SLS effect of app use on practice minutes/week with all grades pooled (study "
            f"specification, SE clustered by family) is not significant at {_pct(level)} "
            f"(p >= {level:g}).")
    parts = [_Part(fit_cell(s.data, "all grades", cov=cov), "null")]
    return (rule, *_judge(parts, level, _EFFECT_PREAMBLE))


def _grade_pattern_parts(data: pd.DataFrame, cov: str, grades: Sequence[int],
                         requirement: str, prefix: str = "", **spec: Any) -> list[_Part]:
    return [_Part(fit_cell(data, f"{prefix}grade {g}", _grade_mask(data, g), cov=cov, **spec),
                  requirement) for g in grades]


def _claim_2(s: Samples, level: float, cov: str) -> tuple[str, bool, str, dict]:
    rule = (f"In grade 1 and in grade 2 separately, the 2SLS effect on practice minutes/week is "
            f"positive and significant at {_pct(level)}. The published sizes are not required.")
    parts = _grade_pattern_parts(s.data, cov, (1, 2), "positive")
    return (rule, *_judge(parts, level, _EFFECT_PREAMBLE))


def _claim_3(s: Samples, level: float, cov: str) -> tuple[str, bool, str, dict]:
    rule = (f"In grade 3 the 2SLS effect on practice minutes/week is negative and significant "
            f"at {_pct(level)}.")
    parts = _grade_pattern_parts(s.data, cov, (3,), "negative")
    return (rule, *_judge(parts, level, _EFFECT_PREAMBLE))


def _ses_cell(data: pd.DataFrame, grade: int, group: Any, cov: str, measure: str = "",
              **spec: Any) -> CellEstimate:
    mask = _grade_mask(data, grade) & _eq_mask(data, "ses_group", group)
    return fit_cell(data, f"grade {grade}, {measure}{group} SES", mask, cov=cov, **spec)


def _claim_4(s: Samples, level: float, cov: str) -> tuple[str, bool, str, dict]:
    levels = _ses_levels(s.data)
    lowest, highest, middle = levels[0], levels[-1], levels[1:-1]
    rule = (f"2SLS effect on practice minutes/week within grade x SCP-SES tertile (9 cells): "
            f"positive and significant at {_pct(level)} for the lowest SES group in grade 1 and "
            f"in grade 2; negative and significant for the highest SES group in grade 3; not "
            f"significant for the middle SES group in every grade. The text says nothing "
            f"about the other cells (high SES in grades 1-2, low SES in grade 3), so they are "
            f"not judged.")
    parts = [_Part(_ses_cell(s.data, 1, lowest, cov), "positive"),
             _Part(_ses_cell(s.data, 2, lowest, cov), "positive"),
             _Part(_ses_cell(s.data, 3, highest, cov), "negative")]
    parts += [_Part(_ses_cell(s.data, g, m, cov), "null") for g in (1, 2, 3) for m in middle]
    return (rule, *_judge(parts, level, _EFFECT_PREAMBLE))


def _claim_5(s: Samples, level: float, cov: str) -> tuple[str, bool, str, dict]:
    rule = (f"Among students who do not live with both parents, the 2SLS effect on practice "
            f"minutes/week is positive and significant at {_pct(level)} in grade 1 and in grade "
            f"2 separately. The text ('also found') is vague about significance; the strict "
            f"reading, parallel to claim 2, is used.")
    not_both = _eq_mask(s.data, "both_parents_home", 0)
    parts = [_Part(fit_cell(s.data, f"grade {g}, not both parents at home",
                            _grade_mask(s.data, g) & not_both, cov=cov), "positive")
             for g in (1, 2)]
    return (rule, *_judge(parts, level, _EFFECT_PREAMBLE))


def _claim_6(s: Samples, level: float, cov: str) -> tuple[str, bool, str, dict]:
    rule = (f"2SLS effect on practice minutes/week within grade x gender: for boys positive and "
            f"significant at {_pct(level)} in grade 1 and in grade 2, for girls not "
            f"significantly positive in grades 1 and 2 ('entirely due to boys'); in grade 3 not "
            f"significantly negative for boys nor for girls ('not visible').")
    parts = []
    for g in (1, 2, 3):
        for gender in ("boy", "girl"):
            mask = _grade_mask(s.data, g) & _eq_mask(s.data, "gender", gender)
            cell = fit_cell(s.data, f"grade {g}, {gender}s", mask, cov=cov)
            if g == 3:
                requirement = "not negative"
            else:
                requirement = "positive" if gender == "boy" else "not positive"
            parts.append(_Part(cell, requirement))
    return (rule, *_judge(parts, level, _EFFECT_PREAMBLE))


def _score_spec(outcome: str) -> dict[str, Any]:
    return {"outcome": outcome,
            "controls": (*estimate.STUDY_CONTROLS, SCORE_BASELINE[outcome])}


def _claim_7(s: Samples, level: float, cov: str) -> tuple[str, bool, str, dict]:
    rule = (f"2SLS effect of app use on the January test score (study controls plus the "
            f"September score of the same subject): maths positive and significant at "
            f"{_pct(level)} in grade 2 ('mainly grade 2') and for boys (all grades), not "
            f"significantly positive for girls; language not significant (all grades); the "
            f"maths and the language effect each do not differ significantly across SCP-SES "
            f"groups (Wald test of equal effects, p >= {level:g}).")
    maths, language = _score_spec("score_math_jan"), _score_spec("score_lang_jan")
    d = s.data
    parts = [
        _Part(fit_cell(d, "maths, grade 2", _grade_mask(d, 2), cov=cov, **maths), "positive"),
        _Part(fit_cell(d, "maths, boys", _eq_mask(d, "gender", "boy"), cov=cov, **maths),
              "positive"),
        _Part(fit_cell(d, "maths, girls", _eq_mask(d, "gender", "girl"), cov=cov, **maths),
              "not positive"),
        _Part(fit_cell(d, "language, all grades", cov=cov, **language), "null"),
        _Part(_fit_equality(d, "maths, equal effects across SES groups", "ses_group", cov=cov,
                            **maths), "null"),
        _Part(_fit_equality(d, "language, equal effects across SES groups", "ses_group",
                            cov=cov, **language), "null"),
    ]
    preamble = "Effect of app use on January scores, points on the 0-100 scale:"
    return (rule, *_judge(parts, level, preamble))


def _claim_8(s: Samples, level: float, cov: str) -> tuple[str, bool, str, dict]:
    rule = (f"Spearman correlations among questionnaire respondents whose parent also answered: "
            f"'student wants more help from parents' with 'parent says child needs a lot of "
            f"help' is positive and significant at {_pct(level)} in grade 1 and in grade 2 "
            f"(aligned) and not significantly positive in grade 3 (not aligned); in grade 3 "
            f"'parent says child could use more help' with 'student says parents should "
            f"interfere less' is positive and significant (diverging). The p-values ignore "
            f"that siblings share a parent (the article gives no method).")
    r = s.respondents
    parts = [_Part(_spearman(r[_grade_mask(r, g)], "st_wants_more_help", "pa_child_needs_help",
                             f"grade {g}, wants help x needs help"), "positive")
             for g in (1, 2)]
    grade3 = r[_grade_mask(r, 3)]
    parts.append(_Part(_spearman(grade3, "st_wants_more_help", "pa_child_needs_help",
                                 "grade 3, wants help x needs help"), "not positive"))
    parts.append(_Part(_spearman(grade3, "pa_could_use_more_help", "st_parents_interfere_less",
                                 "grade 3, could use more help x interfere less"), "positive"))
    return (rule, *_judge(parts, level, "Rank correlations of student and parent answers:"))


def _take_up_gap(data: pd.DataFrame, level: float, cov: str) -> tuple[CellEstimate, str, dict]:
    """Take-up (share using the app) with access: lowest minus highest SES group."""
    levels = _ses_levels(data)
    lowest, highest = levels[0], levels[-1]
    with_access = data[pd.to_numeric(data["access"], errors="coerce") == 1]
    groups = {"lowest": lowest, "highest": highest}
    rates, numbers, described = {}, {}, []
    for name, group in groups.items():
        members = with_access[with_access["ses_group"].eq(group).fillna(False).to_numpy(bool)]
        n = len(members)
        users = int(pd.to_numeric(members["app_used"], errors="coerce").fillna(0).sum())
        if n < MIN_CELL:
            described.append(f"{name} SES ({group}): fewer than {MIN_CELL} students with access")
            numbers[f"{name} SES"] = {"group": str(group), "n": None, "take_up": None}
            continue
        rates[name] = users / n
        shown = (f"{rates[name]:.0%}" if users == 0 or users >= MIN_CELL
                 else f"fewer than {MIN_CELL} users")
        described.append(f"{name} SES ({group}): take-up {shown} of {n} students with access")
        numbers[f"{name} SES"] = {
            "group": str(group), "n": n,
            "take_up": rates[name] if users == 0 or users >= MIN_CELL else None,
        }
    label = f"difference {lowest} - {highest} SES"
    fmt = "{:+.1f} percentage points"
    if len(rates) < 2:
        return _not_estimated(label, "a group is too small", fmt), "; ".join(described), numbers
    subset = with_access[with_access["ses_group"].isin([lowest, highest]).to_numpy(bool)]
    y = pd.to_numeric(subset["app_used"], errors="coerce").to_numpy(dtype=float)
    low = subset["ses_group"].eq(lowest).to_numpy(dtype=float)
    x = sm.add_constant(low, has_constant="add")
    families = pd.factorize(subset["family_id"])[0]
    if cov == "clustered":
        fit = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": families},
                               use_t=True)
    else:
        fit = sm.OLS(y, x).fit(cov_type="HC1" if cov == "robust" else "nonrobust", use_t=True)
    # in percentage points, as the rates are shown
    diff, se = 100 * float(fit.params[1]), 100 * float(fit.bse[1])
    pvalue = float(fit.pvalues[1])
    if not (math.isfinite(se) and se > 0):
        return (_not_estimated(label, "no variation in app use to compare", fmt),
                "; ".join(described), numbers)
    cell = CellEstimate(label=label, value=diff, pvalue=pvalue, nobs=len(subset), se=se,
                        value_format=fmt)
    return cell, "; ".join(described), numbers


def _claim_9(s: Samples, level: float, cov: str) -> tuple[str, bool, str, dict]:
    rule = (f"Among students in the analysis sample whose parents had access, the share whose "
            f"parent used the app is not significantly lower (at {_pct(level)}, linear "
            f"probability model, SE clustered by family) in the lowest SCP-SES group than in the "
            f"highest. Not finding a gap is weak evidence of no gap: see the interval in "
            f"numbers.")
    cell, described, numbers = _take_up_gap(s.data, level, cov)
    holds, evidence, judged = _judge([_Part(cell, "not negative")], level,
                                     f"Take-up with access: {described}.")
    numbers.update(judged)
    return rule, holds, evidence, numbers


def _claim_10(s: Samples, level: float, cov: str) -> tuple[str, bool, str, dict]:
    rule = (f"The grade pattern of claims 2-3 (grades 1 and 2 positive, grade 3 negative, each "
            f"significant at {_pct(level)}) reappears (a) with SES measured by average "
            f"neighbourhood income (control income_avg instead of the SCP score) and (b) with "
            f"app use measured by its intensity (logins per week, instrumented by access); and "
            f"(c) the SES findings of claim 4 reappear with income quartiles: lowest quartile "
            f"positive and significant in grades 1 and 2, highest quartile negative and "
            f"significant in grade 3. The article does not say which results were re-run; "
            f"these are its headline findings.")
    income = {"controls": INCOME_CONTROLS}
    parts = []
    for prefix, data, spec in (("income SES control, ", s.income_data, income),
                               ("intensity, ", s.data, {"treatment": INTENSITY})):
        parts += _grade_pattern_parts(data, cov, (1, 2), "positive", prefix, **spec)
        parts += _grade_pattern_parts(data, cov, (3,), "negative", prefix, **spec)
    quartiles = _ses_levels(s.income_data)
    parts += [
        _Part(_ses_cell(s.income_data, 1, quartiles[0], cov, "income ", **income), "positive"),
        _Part(_ses_cell(s.income_data, 2, quartiles[0], cov, "income ", **income), "positive"),
        _Part(_ses_cell(s.income_data, 3, quartiles[-1], cov, "income ", **income), "negative"),
    ]
    preamble = ("2SLS effects on practice minutes/week (intensity: per extra login a week; "
                "income SES groups are quartiles):")
    return (rule, *_judge(parts, level, preamble))


_CHECKS: dict[int, Callable[[Samples, float, str], tuple[str, bool, str, dict]]] = {
    1: _claim_1, 2: _claim_2, 3: _claim_3, 4: _claim_4, 5: _claim_5,
    6: _claim_6, 7: _claim_7, 8: _claim_8, 9: _claim_9, 10: _claim_10,
}


# --------------------------------------------------------------------------- scorecard


@dataclass(frozen=True)
class Scorecard:
    """The verdicts on all claims, in claim order.

    Attributes
    ----------
    results : tuple of ClaimResult
    level : float
        Significance level of the rules.
    cov : str
        Covariance type of the estimates.
    """

    results: tuple[ClaimResult, ...]
    level: float = DEFAULT_LEVEL
    cov: str = "clustered"

    def __iter__(self) -> Iterator[ClaimResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, claim_id: int) -> ClaimResult:
        for result in self.results:
            if result.id == claim_id:
                return result
        raise KeyError(f"No claim {claim_id!r}; claims are {[r.id for r in self.results]}.")

    @property
    def n_hold(self) -> int:
        """Number of claims that hold."""
        return sum(r.holds for r in self.results)

    def holds(self) -> dict[str, bool]:
        """``{"1": True, ...}``: the verdicts keyed by claim id as text."""
        return {str(r.id): bool(r.holds) for r in self.results}

    def to_records(self) -> list[dict[str, Any]]:
        """One ``{id, text, rule, holds, evidence}`` dict per claim (what results.json holds)."""
        return [r.to_record() for r in self.results]

    def to_frame(self) -> pd.DataFrame:
        """A display table indexed by claim id: claim, rule, holds, evidence."""
        frame = pd.DataFrame(self.to_records()).set_index("id")
        return frame.rename(columns={"text": "claim"})[["claim", "holds", "rule", "evidence"]]

    def __repr__(self) -> str:
        lines = [f"Scorecard: {self.n_hold} of {len(self)} claims hold "
                 f"(significance at {_pct(self.level)}, {self.cov} SE)"]
        lines += [f"  {r.id:>2} {'holds' if r.holds else 'fails'}  {r.text}" for r in self]
        return "\n".join(lines)


def _check_level(level: float) -> None:
    if not (isinstance(level, int | float) and 0 < level < 1):
        raise ValueError(f"level={level!r} must be a significance level between 0 and 1, "
                         "e.g. 0.10 (the article's weakest star).")


def evaluate_samples(samples: Samples, level: float = DEFAULT_LEVEL, *,
                     cov: str = "clustered", claims: Sequence[int] | None = None) -> Scorecard:
    """Evaluate the claims on already built samples (see :func:`evaluate`).

    Parameters
    ----------
    samples : Samples
    level : float
        Significance level of every rule.
    cov : {"clustered", "robust", "unadjusted"}
        Covariance type of every estimate (default clustered by family, as the study).
    claims : sequence of int, optional
        Evaluate only these claim ids (default all ten).
    """
    _check_level(level)
    if cov not in estimate.COV_TYPES:
        raise ValueError(f"cov={cov!r}; use one of {', '.join(estimate.COV_TYPES)}.")
    ids = list(_CHECKS) if claims is None else list(claims)
    unknown = [i for i in ids if i not in _CHECKS]
    if unknown:
        raise ValueError(f"Unknown claim id(s) {unknown}; the claims are 1..{len(_CHECKS)}.")
    results = []
    for claim_id in ids:
        rule, holds, evidence, numbers = _CHECKS[claim_id](samples, level, cov)
        results.append(ClaimResult(id=claim_id, text=CLAIM_TEXTS[claim_id], rule=rule,
                                   holds=bool(holds), evidence=evidence, numbers=numbers))
    return Scorecard(results=tuple(results), level=level, cov=cov)


def evaluate(raw: pd.DataFrame, level: float = DEFAULT_LEVEL, *, cov: str = "clustered",
             claims: Sequence[int] | None = None, source: str = "<data>") -> Scorecard:
    """Evaluate every claim of the article on a raw data set.

    Parameters
    ----------
    raw : DataFrame
        Student records in the schema of :data:`parentapp.schema.COLUMNS` (the real file or a
        synthetic trial). The analysis samples are built here with
        :func:`parentapp.sample.build` (SCP score in 3 groups; average income in 4 groups).
    level : float
        Significance level of every rule (default 0.10, the article's weakest star).
    cov : {"clustered", "robust", "unadjusted"}
        Covariance type of the estimates (default clustered by family).
    claims : sequence of int, optional
        Evaluate only these claim ids (default all ten).
    source : str
        Name of the data's origin, for validation messages.

    Returns
    -------
    Scorecard
        ``.to_records()`` gives the ``claims`` list of results.json.

    Raises
    ------
    parentapp.schema.DataValidationError
        The raw data do not follow the schema (every problem listed).
    """
    _check_level(level)
    return evaluate_samples(Samples.build(raw, source=source), level, cov=cov, claims=claims)


# --------------------------------------------------------------------------- replication


def replication_probability(
    n_reps: int = 100,
    seed: int = paths.DEFAULT_SEED,
    n_students: int | None = None,
    *,
    effects: simulate.Effects | None = None,
    level: float = DEFAULT_LEVEL,
    cov: str = "clustered",
    claims: Sequence[int] | None = None,
) -> inference.ReplicationResult:
    """Share of simulated replications of the study in which each claim holds (its power).

    Each replication draws a fresh synthetic trial with :func:`parentapp.simulate.simulate`
    (seeds spawned from ``seed``; by default at the published effect sizes) and evaluates all
    claims on it with :func:`evaluate`.

    Parameters
    ----------
    n_reps : int
        Number of replications (Monte Carlo SE of a share p is sqrt(p (1 - p) / n_reps)).
    seed : int
        Seed from which the replication seeds are spawned.
    n_students : int, optional
        Students per replication (default: the study's size).
    effects : simulate.Effects, optional
        True effects (default: calibrated to the article).
    level, cov, claims
        As in :func:`evaluate` (``claims`` restricts the replications to some claims).

    Returns
    -------
    parentapp.inference.ReplicationResult
        ``probability`` and ``mc_se`` keyed by claim id as text ("1".."10").

    Notes
    -----
    One evaluation takes a few seconds (about 45 model fits), so 100 replications take a few
    minutes. Set ``OPENBLAS_NUM_THREADS=1`` on a busy machine: the fits are small and BLAS
    threads only compete with each other.
    """
    _check_level(level)

    def simulate_fn(rep_seed: int) -> pd.DataFrame:
        return simulate.simulate(seed=rep_seed, n_students=n_students, effects=effects).data

    def evaluate_fn(raw: pd.DataFrame) -> dict[str, bool]:
        return evaluate(raw, level, cov=cov, claims=claims).holds()

    return inference.replication_probability(simulate_fn, evaluate_fn, n_reps=n_reps, seed=seed)


def replication_table(result: inference.ReplicationResult) -> pd.DataFrame:
    """The replication probabilities as a table: claim, probability, Monte Carlo SE."""
    rows = [{"id": int(k), "claim": CLAIM_TEXTS.get(int(k), ""),
             "probability": result.probability[k], "mc_se": result.mc_se[k]}
            for k in sorted(result.probability, key=int)]
    frame = pd.DataFrame(rows).set_index("id")
    frame.attrs["n_reps"] = result.n_reps
    return frame
