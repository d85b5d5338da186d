"""The calibrated synthetic trial: a stand-in for the confidential student records.

:func:`simulate` draws one complete data set in the raw schema (:data:`parentapp.schema.COLUMNS`)
from a structural model of the experiment, deterministic per seed. The model is calibrated to
every figure printed in the article (``shared/study.md``): sample sizes and the attrition funnel
are hit *exactly* (rank-based selection on latent propensities that depend on covariates), the
distributional figures approximately, and the heterogeneous effects of parental app use are
solved *in the drawn sample* so that the complier-average effect per grade -- the quantity 2SLS
estimates -- equals the published Table 1 coefficient.

The causal structure, in one place:

* families (siblings share everything parental) live in one of 65 postcode areas with an SCP
  status score and an average income; parental randomisation of app ``access`` is by family;
* a latent parental take-up propensity (driven by an unobserved family involvement factor,
  grade, home situation and Cito, but *not* by SES overall) makes a parent a *complier*: uses
  the app if given access; nobody without access can use it (one-sided non-compliance);
* the same involvement factor raises the child's practice time, so naive OLS of practice on use
  is biased upwards while 2SLS is not;
* potential practice minutes ``Y(d) = f(s0 + d * tau)`` with ``f`` censoring at zero, so practice
  time has real zeros and a right tail; ``tau`` varies by grade, SES tertile, gender and home
  situation (see :class:`Effects`); the grade levels of ``tau`` are solved so that the
  *realised* mean of ``Y(1) - Y(0)`` among the analysis sample's compliers in each grade equals
  the target.

Every calibration choice, and how the ambiguous figures of the article are read, is documented
in ``data/synthetic/README.md``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parentapp import paths
from parentapp.schema import COLUMNS

__all__ = [
    "DEFAULT_N_STUDENTS",
    "Effects",
    "FunnelTargets",
    "SyntheticTrial",
    "Truth",
    "simulate",
]

DEFAULT_N_STUDENTS = 2460  # "ruim 2450": just over 2450 students in grades 1-3
N_POSTCODES = 65
GRADES = (1, 2, 3)
SES_GROUPS = ("low", "middle", "high")
# Limburg postcode areas used for the synthetic trial (4-digit, 6000-6499: Midden/Zuid-Limburg).
POSTCODE_RANGE = (6000, 6500)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Effects:
    """True effects of parental app use (the structural parameters the data are drawn from).

    Tuples are indexed by grade (grade 1, 2, 3). The effect of use on practice minutes per week
    for student ``i`` in grade ``g`` is, on the latent (uncensored) scale::

        tau_i = level_g + practice_ses_shift[g][tertile_i] + practice_boy_shift[g] * boy_i
                + practice_not_both_home_shift[g] * (1 - both_parents_home_i)

    The shifts are the given parameters; ``level_g`` is solved in the drawn sample so that the
    mean *realised* effect ``Y_i(1) - Y_i(0)`` (after censoring practice at zero) among the
    compliers of grade ``g`` in the analysis sample equals ``practice_late[g]``. That mean is
    what the grade-specific 2SLS estimates, so ``practice_late`` is the expected Table 1
    coefficient. The January test scores get an additive effect of use (score points, 0-100
    scale) by grade and gender; language has no effect by default.

    Parameters
    ----------
    practice_late
        Complier-average effect on practice minutes/week per grade (Table 1: 10.9, 13.3, -17.3).
    practice_ses_shift
        Per grade, the shift for the (low, middle, high) SCP-score tertile.
    practice_boy_shift
        Per grade, the extra effect for boys (girls: 0).
    practice_not_both_home_shift
        Per grade, the extra effect when not both parents live at home.
    math_score_boys, math_score_girls
        Per grade, the effect of use on the January maths score (points).
    language_score
        Per grade, the effect of use on the January language score (points), both genders.
    """

    practice_late: tuple[float, float, float] = (10.9, 13.3, -17.3)
    practice_ses_shift: tuple[tuple[float, float, float], ...] = (
        (16.0, -8.0, -8.0),
        (16.0, -8.0, -8.0),
        (0.0, 14.0, -60.0),
    )
    practice_boy_shift: tuple[float, float, float] = (24.0, 24.0, -6.0)
    practice_not_both_home_shift: tuple[float, float, float] = (6.0, 6.0, 0.0)
    math_score_boys: tuple[float, float, float] = (2.0, 8.0, 0.0)
    math_score_girls: tuple[float, float, float] = (0.0, 0.0, 0.0)
    language_score: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        for name in ("practice_late", "practice_boy_shift", "practice_not_both_home_shift",
                     "math_score_boys", "math_score_girls", "language_score"):
            value = getattr(self, name)
            if len(value) != 3 or not all(np.isfinite(v) for v in value):
                raise ValueError(f"Effects.{name} needs 3 finite numbers (grades 1, 2, 3); "
                                 f"got {value!r}")
        shift = self.practice_ses_shift
        if len(shift) != 3 or any(len(row) != 3 for row in shift):
            raise ValueError("Effects.practice_ses_shift needs 3 rows (grades) of 3 numbers "
                             f"(low, middle, high SES); got {shift!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the parameters (lists for tuples)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def none(cls) -> Effects:
        """No effect of app use at all (a null data set)."""
        zero = (0.0, 0.0, 0.0)
        return cls(practice_late=zero, practice_ses_shift=(zero, zero, zero),
                   practice_boy_shift=zero, practice_not_both_home_shift=zero,
                   math_score_boys=zero, math_score_girls=zero, language_score=zero)


@dataclass(frozen=True)
class FunnelTargets:
    """The counts the synthetic trial hits exactly (published values for 2460 students).

    For another ``n_students`` every count is scaled by ``n_students / 2460`` and rounded.
    """

    complete_by_grade: tuple[int, int, int] = (560, 581, 444)  # Table 1 N by grade
    incomplete_by_grade: tuple[int, int, int] = (12, 13, 9)  # respondents with a missing control
    never_practised: int = 216  # respondents with zero practice minutes
    downloads: int = 309  # respondents whose parent downloaded the app
    downloads_with_access: int = 187  # of those, in the access arm ("ruim de helft")
    users: int = 181  # respondents whose parent used the app

    @property
    def respondents_by_grade(self) -> tuple[int, int, int]:
        return tuple(c + i for c, i in zip(self.complete_by_grade, self.incomplete_by_grade,
                                           strict=True))

    @property
    def respondents(self) -> int:
        return sum(self.respondents_by_grade)

    @property
    def complete(self) -> int:
        return sum(self.complete_by_grade)

    @classmethod
    def for_n(cls, n_students: int) -> FunnelTargets:
        if n_students == DEFAULT_N_STUDENTS:
            return cls()
        base = cls()
        scale = n_students / DEFAULT_N_STUDENTS

        def s(v: int) -> int:
            return max(1, round(v * scale))

        return cls(
            complete_by_grade=tuple(s(v) for v in base.complete_by_grade),
            incomplete_by_grade=tuple(s(v) for v in base.incomplete_by_grade),
            never_practised=s(base.never_practised),
            downloads=s(base.downloads),
            downloads_with_access=s(base.downloads_with_access),
            users=s(base.users),
        )


# Nuisance parameters of the structural model (calibrated, see data/synthetic/README.md).
_FAMILY_SIZE_P = (0.90, 0.09, 0.01)  # children in grades 1-3 of the same school: 1, 2, 3
_GRADE_P = (0.338, 0.346, 0.316)
_SCHOOL_A_P = 0.57
_CLASS_SIZE = 25
# Take-up latent: grade intercepts and SES slope by grade (overall SES gradient ~ 0, claim 9).
_TAKEUP_GRADE = (-0.2, 0.0, 0.12)
_TAKEUP_SES_SLOPE = (-0.08, -0.08, 0.18)
# Practice latent (minutes/week): noise scale and involvement loading by grade.
_PRACTICE_SIGMA = (12.5, 11.5, 20.0)
_PRACTICE_INVOLVEMENT = (2.5, 2.5, 10.0)
_PRACTICE_GAMMA_SHAPE = 0.5
_PRACTICE_MAX = 400.0
_LIKERT_CUTS = (-1.3, -0.45, 0.45, 1.3)
# Student-parent alignment of views on help (claim 8): loading of the student's latent on the
# parent's, by grade.
_ALIGNMENT = (0.7, 0.7, -0.6)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Truth:
    """What the synthetic data were generated from, and the estimands they imply.

    Attributes
    ----------
    seed, n_students
        The arguments of :func:`simulate`.
    effects
        The structural :class:`Effects`.
    levels
        The solved grade levels of the latent practice effect (``level_g`` in :class:`Effects`).
    table1
        Complier-average effect of app use on practice minutes in the analysis sample, keyed
        ``all``/``grade1``/``grade2``/``grade3``: the expected 2SLS coefficients of Table 1.
    subgroups
        The same complier averages by grade x subgroup (SES tertile, gender, home situation),
        and pooled over grades 1-2, keyed e.g. ``grade1.ses_low``, ``grades12.boy``.
    math_score, language_score
        Complier-average effects of use on the January scores, keyed like ``subgroups``
        (``all``, ``grade2``, ``boy``, ``grade2.boy``, ...).
    counts
        The funnel and sample counts of the drawn data (students, families, respondents, ...).
    compliance
        Share of compliers (parents who use the app when given access) in the analysis sample,
        by grade and overall.
    """

    seed: int
    n_students: int
    effects: Effects
    levels: dict[str, float]
    table1: dict[str, float]
    subgroups: dict[str, float]
    math_score: dict[str, float]
    language_score: dict[str, float]
    counts: dict[str, int]
    compliance: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, deterministic dict (floats rounded to 6 decimals)."""

        def clean(value: Any) -> Any:
            if isinstance(value, dict):
                return {str(k): clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            if isinstance(value, float | np.floating):
                return round(float(value), 6)
            if isinstance(value, np.integer):
                return int(value)
            return value

        return clean({
            "generator": "parentapp.simulate",
            "seed": self.seed,
            "n_students": self.n_students,
            "effects": self.effects.to_dict(),
            "levels": self.levels,
            "table1": self.table1,
            "subgroups": self.subgroups,
            "math_score": self.math_score,
            "language_score": self.language_score,
            "counts": self.counts,
            "compliance": self.compliance,
        })

    def to_json(self) -> str:
        """The truth as JSON text (sorted keys, 2-space indent, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class SyntheticTrial:
    """One simulated data set: ``data`` in the raw schema and the ``truth`` behind it."""

    data: pd.DataFrame
    truth: Truth

    def write(self, path: str | Path) -> Path:
        """Write the data in the format given by the suffix, plus ``<stem>.truth.json``.

        Supported suffixes: ``.csv`` (comma separated, decimal point, ``\\n`` line ends,
        byte-identical per seed), ``.parquet``, ``.xlsx``, ``.dta`` (Stata) and ``.sav`` (SPSS).

        Returns
        -------
        Path
            The data file written.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        writers = {".csv": _write_csv, ".parquet": _write_parquet, ".xlsx": _write_xlsx,
                   ".dta": _write_dta, ".sav": _write_sav}
        if suffix not in writers:
            raise ValueError(f"Cannot write {path.name!r}: unknown suffix {suffix!r}. "
                             f"Use one of {', '.join(sorted(writers))}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        writers[suffix](self.data, path)
        truth_path = path.with_name(path.stem + ".truth.json")
        truth_path.write_text(self.truth.to_json(), encoding="utf-8", newline="\n")
        return path


def _write_csv(data: pd.DataFrame, path: Path) -> None:
    # Values are rounded when drawn; "%.10g" prints them without binary noise.
    data.to_csv(path, index=False, lineterminator="\n", float_format="%.10g", encoding="utf-8")


def _write_parquet(data: pd.DataFrame, path: Path) -> None:
    data.to_parquet(path, index=False)


def _plain(data: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as strings and nullable integers as floats, for formats without them."""
    out = data.copy()
    for name in out.columns:
        col = out[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            out[name] = col.astype(object)
        elif isinstance(col.dtype, pd.Int64Dtype):
            out[name] = col.astype("float64")
        elif pd.api.types.is_string_dtype(col.dtype):
            out[name] = col.astype(object)
    return out


def _write_xlsx(data: pd.DataFrame, path: Path) -> None:
    _plain(data).to_excel(path, index=False, sheet_name="data")


def _write_dta(data: pd.DataFrame, path: Path) -> None:
    _plain(data).to_stata(path, write_index=False, version=118)


def _write_sav(data: pd.DataFrame, path: Path) -> None:
    import pyreadstat

    pyreadstat.write_sav(_plain(data), str(path))


# --------------------------------------------------------------------------- helpers


def _top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the ``k`` largest entries of ``score`` (ties broken by position)."""
    mask = np.zeros(score.shape[0], dtype=bool)
    if k > 0:
        order = np.argsort(-score, kind="stable")
        mask[order[:k]] = True
    return mask


def _threshold_for_top_k(values: np.ndarray, k: int) -> float:
    """A cut ``c`` with exactly ``k`` of ``values`` above it (midpoint of neighbours)."""
    ordered = np.sort(values)[::-1]
    if k <= 0:
        return float(ordered[0]) + 1.0
    if k >= ordered.shape[0]:
        return float(ordered[-1]) - 1.0
    return float((ordered[k - 1] + ordered[k]) / 2.0)


def _likert(latent: np.ndarray) -> np.ndarray:
    z = (latent - latent.mean()) / latent.std()
    return (np.searchsorted(np.asarray(_LIKERT_CUTS), z) + 1).astype(float)


def _practice_minutes(latent: np.ndarray) -> np.ndarray:
    """Observed minutes/week from the latent: 0 if not positive, else >= 0.1, to 1 decimal."""
    minutes = np.minimum(np.round(latent, 1), _PRACTICE_MAX)
    return np.where(latent > 0, np.maximum(minutes, 0.1), 0.0)


def _gumbel(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.gumbel(size=n)


# --------------------------------------------------------------------------- the model


def simulate(seed: int = paths.DEFAULT_SEED, n_students: int | None = None,
             effects: Effects | None = None) -> SyntheticTrial:
    """Draw one calibrated synthetic trial.

    Parameters
    ----------
    seed
        Seed of the numpy random generator; the same arguments give identical data.
    n_students
        Number of students (default 2460, "just over 2450"). Other sizes scale every exact
        count of :class:`FunnelTargets` proportionally; at least 500.
    effects
        The true effects of app use (default: calibrated so that the expected 2SLS estimates
        equal the published Table 1).

    Returns
    -------
    SyntheticTrial
        ``.data`` in the raw schema (columns of :data:`parentapp.schema.COLUMNS`, in order) and
        ``.truth`` (:class:`Truth`).
    """
    n = DEFAULT_N_STUDENTS if n_students is None else int(n_students)
    if n < 500:
        raise ValueError(f"n_students={n} is too small for the design (65 postcode areas, "
                         "3 grades, exact attrition counts); use at least 500.")
    effects = Effects() if effects is None else effects
    if not isinstance(effects, Effects):
        raise TypeError(f"effects must be a parentapp.simulate.Effects, not {type(effects)!r}")
    targets = FunnelTargets.for_n(n)
    rng = np.random.default_rng(seed)

    # ---- families, schools, postcodes ------------------------------------------------------
    sizes = rng.choice(np.arange(1, 4), size=n, p=_FAMILY_SIZE_P)
    cum = np.cumsum(sizes)
    n_fam = int(np.searchsorted(cum, n) + 1)
    sizes = sizes[:n_fam].copy()
    sizes[-1] -= int(cum[n_fam - 1] - n)
    fam_school_a = rng.random(n_fam) < _SCHOOL_A_P

    postcodes = np.sort(rng.choice(np.arange(*POSTCODE_RANGE), size=N_POSTCODES, replace=False))
    pc_location = rng.random(N_POSTCODES)  # position in the region, 0 = near school A
    pc_size = rng.lognormal(0.0, 0.6, N_POSTCODES)
    pc_ses = np.clip(rng.normal(-0.6, 1.1, N_POSTCODES), -4.5, 2.5)
    pc_income = np.clip(23.5 + 2.6 * pc_ses + rng.normal(0.0, 1.2, N_POSTCODES), 12.0, 45.0)
    pc_ses = np.round(pc_ses, 2)
    pc_income = np.round(pc_income, 1)
    # catchment: each school draws mostly from nearby postcodes
    weight_a = pc_size * np.exp(-(((pc_location - 0.3) / 0.3) ** 2))
    weight_b = pc_size * np.exp(-(((pc_location - 0.7) / 0.3) ** 2))
    fam_pc = np.where(fam_school_a,
                      rng.choice(N_POSTCODES, size=n_fam, p=weight_a / weight_a.sum()),
                      rng.choice(N_POSTCODES, size=n_fam, p=weight_b / weight_b.sum()))
    # every postcode area is home to at least a few families (65 areas in the data)
    per_area = min(4, n_fam // N_POSTCODES)
    seeded = rng.permutation(n_fam)[: per_area * N_POSTCODES]
    fam_pc[seeded] = np.tile(np.arange(N_POSTCODES), per_area)

    fam_ses = pc_ses[fam_pc]
    fam_involvement = rng.normal(0.0, 1.0, n_fam)  # unobserved parental involvement
    fam_both_home = (rng.random(n_fam) < 1.0 / (1.0 + np.exp(-(1.3 + 0.25 * fam_ses)))).astype(int)
    # parental randomisation: complete randomisation of families, half get access
    fam_access = np.zeros(n_fam, dtype=int)
    fam_access[rng.permutation(n_fam)[: (n_fam + 1) // 2]] = 1

    # ---- students -------------------------------------------------------------------------
    fam = np.repeat(np.arange(n_fam), sizes)
    grade = np.empty(n, dtype=int)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    single = sizes == 1
    grade[start[single]] = rng.choice(GRADES, size=int(single.sum()), p=_GRADE_P)
    for f in np.flatnonzero(~single):  # siblings are in different grades
        grade[start[f]: start[f] + sizes[f]] = rng.choice(GRADES, size=sizes[f], replace=False,
                                                           p=_GRADE_P)
    ses = fam_ses[fam]
    involvement = fam_involvement[fam]
    both_home = fam_both_home[fam]
    school_a = fam_school_a[fam]
    access = fam_access[fam]
    girl = (rng.random(n) < 0.49).astype(int)
    cito_true = np.clip(np.round(534.5 + 1.3 * ses + 0.8 * involvement + rng.normal(0, 7, n)),
                        501, 550)
    track_latent = cito_true + rng.normal(0.0, 3.0, n) + np.where(school_a, 0.0, 1.5)
    track = np.where(track_latent < 533, 0, np.where(track_latent < 540, 1, 2))  # vmbo/havo/vwo
    held_back = rng.random(n) < np.where(track == 0, 0.12, 0.05)
    age = np.round(11.55 + grade + rng.random(n) + held_back, 2)
    module_arm_a = np.zeros(n, dtype=bool)
    module_arm_a[rng.permutation(n)[: n // 2]] = True

    # classes (mentor groups) within school x grade x track: the mentor decided whether the
    # questionnaire was handed out, so response clusters by class
    cell = (school_a.astype(int) * 9 + (grade - 1) * 3 + track)
    class_id = np.empty(n, dtype=int)
    next_id = 0
    order = rng.permutation(n)
    for c in np.unique(cell):
        members = order[cell[order] == c]
        class_id[members] = next_id + np.arange(members.size) // _CLASS_SIZE
        next_id = int(class_id[members].max()) + 1
    mentor = rng.normal(0.0, 1.0, next_id)

    # ---- questionnaire response (exact counts per grade) ------------------------------------
    response_score = (1.6 * mentor[class_id] + 0.35 * girl + 0.025 * (cito_true - 535)
                      + 0.35 * both_home + _gumbel(rng, n))
    responded = np.zeros(n, dtype=bool)
    for g, r in zip(GRADES, targets.respondents_by_grade, strict=True):
        in_g = grade == g
        if in_g.sum() < r:
            raise ValueError(f"grade {g} has {in_g.sum()} students, fewer than the {r} "
                             "respondents required; increase n_students")
        responded[np.flatnonzero(in_g)[_top_k(response_score[in_g], r)]] = True

    # ---- missing controls: exact number of incomplete respondents per grade ------------------
    missing_score = 0.6 * (track == 0) + 0.4 * (1 - both_home) + _gumbel(rng, n)
    incomplete = np.zeros(n, dtype=bool)
    for g, k in zip(GRADES, targets.incomplete_by_grade, strict=True):
        pool = np.flatnonzero(responded & (grade == g))
        incomplete[pool[_top_k(missing_score[pool], k)]] = True
    incomplete |= ~responded & (rng.random(n) < 0.03)
    kind = rng.random(n)  # which control is missing: Cito (60 %), home (30 %), both (10 %)
    cito_missing = incomplete & ((kind < 0.6) | (kind >= 0.9))
    home_missing = incomplete & (kind >= 0.6)
    analysis = responded & ~incomplete

    # ---- take-up: compliers, downloads, intensity ------------------------------------------
    takeup = (fam_involvement[fam] + 0.5 * rng.normal(0.0, 1.0, n)
              + np.asarray(_TAKEUP_GRADE)[grade - 1]
              + np.asarray(_TAKEUP_SES_SLOPE)[grade - 1] * ses
              + 0.3 * both_home - 0.03 * (cito_true - 535) + 0.1 * school_a)
    resp_access = responded & (access == 1)
    if resp_access.sum() <= targets.downloads_with_access:
        raise ValueError("too few respondents with access for the download/use counts; "
                         "increase n_students")
    cut_use = _threshold_for_top_k(takeup[resp_access], targets.users)
    complier = takeup > cut_use  # would use the app if given access
    app_used = (complier & (access == 1)).astype(int)
    download_score = takeup + 0.3 * rng.normal(0.0, 1.0, n)
    extra = targets.downloads_with_access - targets.users
    cut_dl_access = _threshold_for_top_k(download_score[resp_access & ~complier], extra)
    resp_noaccess = responded & (access == 0)
    cut_dl_noaccess = _threshold_for_top_k(download_score[resp_noaccess],
                                           targets.downloads - targets.downloads_with_access)
    downloaded = np.where(access == 1,
                          (app_used == 1) | (download_score > cut_dl_access),
                          download_score > cut_dl_noaccess).astype(int)
    logins = np.where(app_used == 1,
                      np.round(np.minimum(0.2 + rng.gamma(2.5, 0.38, n), 7.0), 2), 0.0)

    # ---- SES tertiles, effect modifiers ----------------------------------------------------
    tertile_cuts = np.quantile(ses, [1 / 3, 2 / 3])
    ses_group = np.searchsorted(tertile_cuts, ses, side="right")  # 0 low, 1 middle, 2 high
    boy = 1 - girl
    gi = grade - 1
    shift = (np.asarray(effects.practice_ses_shift)[gi, ses_group]
             + np.asarray(effects.practice_boy_shift)[gi] * boy
             + np.asarray(effects.practice_not_both_home_shift)[gi] * (1 - both_home))

    # ---- practice minutes: potential outcomes, calibrated ------------------------------------
    sigma = np.asarray(_PRACTICE_SIGMA)[gi]
    k = _PRACTICE_GAMMA_SHAPE
    noise = (rng.gamma(k, 1.0, n) - k) / np.sqrt(k)
    s0_base = (0.22 * (cito_true - 535) + 3.0 * girl + np.array([0.0, 1.0, 2.0])[track]
               + 1.5 * school_a + 2.0 * both_home + 0.4 * ses
               + np.asarray(_PRACTICE_INVOLVEMENT)[gi] * involvement + sigma * noise)
    targets_late = np.asarray(effects.practice_late, dtype=float)
    cells = [analysis & complier & (grade == g) for g in GRADES]
    for g, c in zip(GRADES, cells, strict=True):
        if c.sum() == 0:
            raise ValueError(f"no compliers in grade {g} of the analysis sample")
    def zero_count_intercept(levels: np.ndarray) -> float:
        # the intercept that gives exactly the published number of non-practising respondents
        observed_latent = s0_base + (levels[gi] + shift) * app_used
        ranked = np.sort(observed_latent[responded])
        z = targets.never_practised
        return -float((ranked[z - 1] + ranked[z]) / 2.0)

    # fixed point: intercept <- exact zero count given the effects; grade levels <- exact
    # complier-average effects given the intercept. The last step fixes the zero count exactly;
    # the complier averages are then within ~1e-3 of the targets (recorded in the truth).
    levels = targets_late.copy()
    alpha = zero_count_intercept(levels)
    for _ in range(50):
        levels = np.array([
            _solve_level(s0_base[c] + alpha, shift[c], targets_late[j], g)
            for j, (g, c) in enumerate(zip(GRADES, cells, strict=True))
        ])
        new_alpha = zero_count_intercept(levels)
        converged = abs(new_alpha - alpha) < 1e-9
        alpha = new_alpha
        if converged:
            break
    tau = levels[gi] + shift
    s0 = s0_base + alpha
    y0 = _practice_minutes(s0)
    y1 = _practice_minutes(s0 + tau)
    practice = np.where(app_used == 1, y1, y0)
    if int((practice[responded] == 0).sum()) != targets.never_practised:
        raise RuntimeError("calibration of the never-practised count did not converge")
    math_share = rng.beta(4.0, 4.0, n) + np.where(module_arm_a, 0.03, -0.03)
    total_tenths = np.round(practice * 10).astype(np.int64)
    math_tenths = np.round(total_tenths * np.clip(math_share, 0, 1)).astype(np.int64)
    practice_math = math_tenths / 10.0
    practice_lang = (total_tenths - math_tenths) / 10.0
    practice_total = total_tenths / 10.0

    # ---- test scores ------------------------------------------------------------------------
    math_effect = np.where(boy == 1, np.asarray(effects.math_score_boys)[gi],
                           np.asarray(effects.math_score_girls)[gi])
    lang_effect = np.asarray(effects.language_score)[gi]
    ability = 0.8 * (cito_true - 535) + rng.normal(0.0, 6.0, n)
    math_sep = np.clip(55 + ability + rng.normal(0.0, 6.0, n), 0, 100)
    lang_sep = np.clip(57 + 0.9 * ability + rng.normal(0.0, 6.0, n), 0, 100)
    math_jan0 = 10 + 0.85 * math_sep + 0.1 * ability + rng.normal(0.0, 4.0, n)
    lang_jan0 = 11 + 0.85 * lang_sep + 0.1 * ability + rng.normal(0.0, 4.0, n)
    math_jan_po = [np.clip(math_jan0 + d * math_effect, 0, 100) for d in (0, 1)]
    lang_jan_po = [np.clip(lang_jan0 + d * lang_effect, 0, 100) for d in (0, 1)]
    math_jan = np.where(app_used == 1, math_jan_po[1], math_jan_po[0])
    lang_jan = np.where(app_used == 1, lang_jan_po[1], lang_jan_po[0])
    absent = rng.random((4, n)) < np.array([[0.02], [0.04], [0.02], [0.04]])

    # ---- questionnaires ---------------------------------------------------------------------
    parent_need = -0.05 * (cito_true - 535) + 0.3 * (track == 0) + rng.normal(0.0, 1.0, n)
    student_want = np.asarray(_ALIGNMENT)[gi] * parent_need + rng.normal(0.0, 0.8, n)
    pa_needs = _likert(parent_need + rng.normal(0.0, 0.5, n))
    pa_more = _likert(0.9 * parent_need + 0.3 * (grade == 3) + rng.normal(0.0, 0.6, n))
    st_wants = _likert(student_want + rng.normal(0.0, 0.4, n))
    st_less = _likert(-0.8 * student_want + 0.3 * (grade - 1) + rng.normal(0.0, 0.7, n))
    st_talks = _likert(0.6 * involvement + rng.normal(0.0, 1.0, n))
    pa_talks = _likert(0.7 * involvement + 0.3 * app_used + rng.normal(0.0, 1.0, n))
    parent_score = -0.1 + 0.5 * involvement + 0.8 * downloaded + 0.3 * both_home
    responded_parent = (rng.random(n) < 1.0 / (1.0 + np.exp(-parent_score))).astype(int)

    # ---- assemble -----------------------------------------------------------------------------
    student_ids = rng.permutation(n) + 10001
    family_ids = rng.permutation(n_fam) + 5001
    nan = np.nan
    resp = responded.astype(int)
    st_mask = responded
    pa_mask = responded_parent == 1
    columns: dict[str, Any] = {
        "student_id": [f"S{v:05d}" for v in student_ids],
        "family_id": [f"F{v:05d}" for v in family_ids[fam]],
        "school": np.where(school_a, "A", "B"),
        "grade": grade,
        "track": np.array(["vmbo", "havo", "vwo"])[track],
        "gender": np.where(girl == 1, "girl", "boy"),
        "age": age,
        "cito": np.where(cito_missing, nan, cito_true),
        "both_parents_home": pd.array(np.where(home_missing, None, both_home), dtype="Int64"),
        "postcode": postcodes[fam_pc[fam]],
        "ses_score": ses,
        "income_avg": pc_income[fam_pc[fam]],
        "module_arm": np.where(module_arm_a, "A", "B"),
        "access": access,
        "downloaded": downloaded,
        "app_used": app_used,
        "app_logins_per_week": logins,
        "responded_student": resp,
        "responded_parent": responded_parent,
        "st_wants_more_help": np.where(st_mask, st_wants, nan),
        "st_parents_interfere_less": np.where(st_mask, st_less, nan),
        "st_talks_with_parents": np.where(st_mask, st_talks, nan),
        "pa_child_needs_help": np.where(pa_mask, pa_needs, nan),
        "pa_could_use_more_help": np.where(pa_mask, pa_more, nan),
        "pa_talks_with_child": np.where(pa_mask, pa_talks, nan),
        "practice_min_math": practice_math,
        "practice_min_language": practice_lang,
        "practice_min_total": practice_total,
        "score_math_sep": np.where(absent[0], nan, np.round(math_sep, 1)),
        "score_math_jan": np.where(absent[1], nan, np.round(math_jan, 1)),
        "score_lang_sep": np.where(absent[2], nan, np.round(lang_sep, 1)),
        "score_lang_jan": np.where(absent[3], nan, np.round(lang_jan, 1)),
    }
    assert set(columns) == set(COLUMNS), set(columns) ^ set(COLUMNS)
    frame = pd.DataFrame({name: columns[name] for name in COLUMNS})
    frame = _to_schema_dtypes(frame)
    order = np.argsort(frame["student_id"].to_numpy(dtype=object), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)

    # ---- truth ---------------------------------------------------------------------------------
    effect_practice = y1 - y0
    effect_math = math_jan_po[1] - math_jan_po[0]
    effect_lang = lang_jan_po[1] - lang_jan_po[0]
    base = analysis & complier

    def late(values: np.ndarray, mask: np.ndarray) -> float:
        m = base & mask
        return float(values[m].mean()) if m.any() else float("nan")

    table1 = {"all": late(effect_practice, np.ones(n, dtype=bool))}
    table1.update({f"grade{g}": late(effect_practice, grade == g) for g in GRADES})
    groups = {
        **{f"ses_{name}": ses_group == j for j, name in enumerate(SES_GROUPS)},
        "boy": boy == 1, "girl": girl == 1,
        "both_parents_home": both_home == 1, "not_both_parents_home": both_home == 0,
    }
    grade_sets = {**{f"grade{g}": grade == g for g in GRADES}, "grades12": grade <= 2}
    subgroups: dict[str, float] = {}
    for gname, gmask in grade_sets.items():
        for name, mask in groups.items():
            subgroups[f"{gname}.{name}"] = late(effect_practice, gmask & mask)
    for name, mask in groups.items():
        subgroups[name] = late(effect_practice, mask)

    def score_truth(values: np.ndarray) -> dict[str, float]:
        out = {"all": late(values, np.ones(n, dtype=bool))}
        for gname, gmask in grade_sets.items():
            out[gname] = late(values, gmask)
        for name, mask in groups.items():
            out[name] = late(values, mask)
            for gname, gmask in grade_sets.items():
                out[f"{gname}.{name}"] = late(values, gmask & mask)
        return out

    counts = {
        "students": n,
        "families": n_fam,
        "families_with_siblings": int((sizes > 1).sum()),
        "postcodes": int(np.unique(fam_pc[fam]).size),
        "respondents": int(responded.sum()),
        "respondents_practised": int((practice[responded] > 0).sum()),
        "respondents_never_practised": int((practice[responded] == 0).sum()),
        "downloads_respondents": int(downloaded[responded].sum()),
        "downloads_respondents_with_access": int(downloaded[resp_access].sum()),
        "downloads_all_students": int(downloaded.sum()),
        "users_respondents": int(app_used[responded].sum()),
        "users_all_students": int(app_used.sum()),
        "analysis_sample": int(analysis.sum()),
        **{f"analysis_grade{g}": int((analysis & (grade == g)).sum()) for g in GRADES},
        "compliers_analysis": int(base.sum()),
    }
    compliance = {"all": float(complier[analysis].mean())}
    compliance.update({f"grade{g}": float(complier[analysis & (grade == g)].mean())
                       for g in GRADES})
    for j, name in enumerate(SES_GROUPS):
        compliance[f"ses_{name}"] = float(complier[analysis & (ses_group == j)].mean())
    truth = Truth(
        seed=int(seed), n_students=n, effects=effects,
        levels={f"grade{g}": float(levels[j]) for j, g in enumerate(GRADES)} | {"alpha": alpha},
        table1=table1, subgroups=subgroups,
        math_score=score_truth(effect_math), language_score=score_truth(effect_lang),
        counts=counts, compliance=compliance,
    )
    return SyntheticTrial(data=frame, truth=truth)


def _solve_level(s0: np.ndarray, shift: np.ndarray, target: float, grade: int) -> float:
    """The level ``b`` with mean ``f(s0 + b + shift) - f(s0)`` equal to ``target`` (bisection).

    The realised mean effect is non-decreasing in ``b``; it is bounded below by ``-mean f(s0)``
    (every complier stops practising), so a target below that cannot be reached.
    """
    y0 = _practice_minutes(s0)

    def mean_effect(b: float) -> float:
        return float((_practice_minutes(s0 + b + shift) - y0).mean())

    lo, hi = -1000.0, 1000.0
    if mean_effect(lo) > target:
        raise ValueError(
            f"Effects.practice_late for grade {grade} is {target}, below the smallest possible "
            f"complier-average effect {mean_effect(lo):.1f} (every complier stopping to "
            "practise); choose a less negative effect.")
    if mean_effect(hi) < target:
        raise ValueError(f"Effects.practice_late for grade {grade} is {target}: too large.")
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if mean_effect(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def _to_schema_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast every column to its dtype in the schema (strings, categories, ints, floats)."""
    out = {}
    for name, spec in COLUMNS.items():
        col = frame[name]
        if spec.dtype == "str":
            out[name] = col.astype("str")
        elif spec.dtype == "category":
            out[name] = pd.Categorical(col, categories=list(spec.allowed))
        elif spec.dtype == "int":
            out[name] = col.astype("Int64") if spec.nullable else col.astype("int64")
        else:
            out[name] = col.astype("float64")
    return pd.DataFrame(out)


