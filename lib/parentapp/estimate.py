"""Instrumental-variable estimation for an experiment with imperfect compliance.

One call, :func:`iv`, estimates on any DataFrame and column names: the 2SLS effect of an
endogenous treatment (here: parental app use) instrumented by a randomised assignment (here:
access to the app), together with the first stage, the reduced form / intention-to-treat (ITT)
effect and the naive OLS for contrast. Everything is built on ``linearmodels`` (``IV2SLS`` and its
``OLS``).

Conventions (the same as Stata's ``ivregress 2sls ..., vce(cluster c) small`` and fixest):

* ``cov="clustered"`` (default): CR1, the sandwich scaled by ``G/(G-1) * (N-1)/(N-K)``; t-tests
  and intervals use Student's t with ``G-1`` degrees of freedom.
* ``cov="robust"``: HC1, scaled by ``N/(N-K)``; t with ``N-K`` degrees of freedom.
* ``cov="unadjusted"``: classical homoskedastic errors with ``s^2 = e'e/(N-K)``; t with ``N-K``.

``K`` counts every regressor of the model at hand (constant, controls and dummies, treatment or
instrument). ``linearmodels`` applies exactly these factors with ``debiased=True`` (its clustered
factor is ``N/(N-K) * G/(G-1) * (N-1)/N``); its own p-values use ``N-K`` degrees of freedom, so
the p-values and intervals here are computed from its coefficients and covariance instead.

The design matrices are built once, by :func:`prepare_design`, before any model: rows with a
missing outcome, treatment, instrument, control or cluster are dropped and counted per reason,
and controls that are constant or collinear in the rows used (e.g. grade dummies inside a
single-grade subgroup) are dropped with a note. The resulting :class:`Design` holds plain numpy
arrays, which :mod:`parentapp.inference` reuses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "STUDY_CATEGORICAL",
    "STUDY_CLUSTER",
    "STUDY_CONTROLS",
    "STUDY_INSTRUMENT",
    "STUDY_OUTCOME",
    "STUDY_SPEC",
    "STUDY_TREATMENT",
    "Design",
    "EstimationError",
    "NoInstrumentVariationError",
    "SubgroupTooSmallError",
    "UnknownColumnError",
    "ZeroTakeUpError",
    "prepare_design",
]

# The study's specification (shared/study.md, "Method").
STUDY_OUTCOME = "practice_min_total"
STUDY_TREATMENT = "app_used"
STUDY_INSTRUMENT = "access"
STUDY_CLUSTER = "family_id"
STUDY_CONTROLS: tuple[str, ...] = ("cito", "age", "ses_score", "both_parents_home")
STUDY_CATEGORICAL: tuple[str, ...] = ("gender", "grade", "track", "school")
STUDY_SPEC: dict[str, Any] = {
    "outcome": STUDY_OUTCOME,
    "treatment": STUDY_TREATMENT,
    "instrument": STUDY_INSTRUMENT,
    "controls": STUDY_CONTROLS,
    "categorical": STUDY_CATEGORICAL,
    "cluster": STUDY_CLUSTER,
}

# A model needs at least this many observations beyond its number of parameters.
MIN_EXTRA_OBS = 10
COV_TYPES = ("clustered", "robust", "unadjusted")
CONSTANT = "const"


# --------------------------------------------------------------------------- errors


class EstimationError(ValueError):
    """A model that cannot be estimated as asked; the message names the cause and a fix."""


class UnknownColumnError(EstimationError):
    """A column named in the specification is not in the data."""


class NoInstrumentVariationError(EstimationError):
    """The instrument does not vary (given the controls) in the rows used."""


class SubgroupTooSmallError(EstimationError):
    """Too few observations or clusters in the (sub)sample for the model."""


class ZeroTakeUpError(EstimationError):
    """The treatment does not respond to the instrument: nothing to instrument."""


# --------------------------------------------------------------------------- design


@dataclass(frozen=True, eq=False)
class Design:
    """The numeric design of one IV model, after missing values and collinear controls.

    Attributes
    ----------
    y : ndarray (n,)
        Outcome.
    d : ndarray (n,)
        Endogenous treatment.
    z : ndarray (n, k_z)
        Excluded instrument(s).
    x : ndarray (n, k_x)
        Exogenous regressors, the constant first, then numeric controls, then dummies.
    x_names, z_names : tuple of str
        Column names of ``x`` and ``z``.
    clusters : ndarray (n,) of int or None
        Cluster codes ``0..G-1`` (None when no cluster variable was given).
    index : pandas.Index
        Labels of the rows used, in the order of the arrays.
    dropped : dict
        Rows dropped, per reason (``"missing <column>"``; a row is counted once, under the
        first missing column in the order outcome, treatment, instrument, controls,
        categorical, cluster).
    notes : tuple of str
        Controls dropped as constant or collinear, and similar remarks.
    n_outside_subset : int
        Rows excluded by ``subset`` (a choice, so not counted in ``dropped``).
    """

    y: np.ndarray
    d: np.ndarray
    z: np.ndarray
    x: np.ndarray
    x_names: tuple[str, ...]
    z_names: tuple[str, ...]
    clusters: np.ndarray | None
    index: pd.Index
    dropped: dict[str, int]
    notes: tuple[str, ...] = ()
    outcome: str = ""
    treatment: str = ""
    instrument: tuple[str, ...] = ()
    cluster: str | None = None
    label: str = "the sample"
    n_outside_subset: int = 0
    dropped_controls: tuple[str, ...] = field(default=())

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return int(self.y.shape[0])

    @property
    def nclusters(self) -> int | None:
        """Number of clusters (None without a cluster variable)."""
        if self.clusters is None:
            return None
        return int(np.unique(self.clusters).size)

    @property
    def n_dropped(self) -> int:
        """Total rows dropped for missing values."""
        return int(sum(self.dropped.values()))

    def frame(self) -> pd.DataFrame:
        """The design as one DataFrame (y, d, instruments, exogenous regressors, cluster)."""
        out = pd.DataFrame(self.x, index=self.index, columns=list(self.x_names))
        out.insert(0, self.outcome or "y", self.y)
        out.insert(1, self.treatment or "d", self.d)
        for j, name in enumerate(self.z_names):
            out.insert(2 + j, name, self.z[:, j])
        if self.clusters is not None:
            out[f"{self.cluster or 'cluster'} (code)"] = self.clusters
        return out


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _check_columns(data: pd.DataFrame, roles: Mapping[str, Sequence[str]]) -> None:
    missing = [(role, c) for role, cols in roles.items() for c in cols if c not in data.columns]
    if missing:
        listed = ", ".join(f"{c!r} ({role})" for role, c in missing)
        available = ", ".join(map(str, data.columns[:40]))
        raise UnknownColumnError(
            f"Unknown column(s): {listed}. Available columns: {available}"
            f"{' ...' if data.shape[1] > 40 else ''}. Fix: correct the name or add the column "
            "to the data (see parentapp.schema.COLUMNS and parentapp.sample.build)."
        )


def _subset_mask(data: pd.DataFrame, subset: Any) -> tuple[np.ndarray, str]:
    """Boolean mask (aligned with ``data``) and a description of the subset."""
    if subset is None:
        return np.ones(len(data), dtype=bool), "the sample"
    if isinstance(subset, str):
        try:
            selected = data.query(subset, engine="python")
        except Exception as exc:  # pandas raises many types for a bad expression
            raise EstimationError(
                f"The subset query {subset!r} could not be evaluated: {exc}. Fix: use column "
                'names of the data, e.g. subset="grade == 1".'
            ) from exc
        mask = data.index.isin(selected.index)
        return np.asarray(mask, dtype=bool), f"subset {subset!r}"
    if isinstance(subset, pd.Series):
        if not subset.index.equals(data.index):
            subset = subset.reindex(data.index)
        if subset.isna().any():
            raise EstimationError(
                f"The subset Series has {int(subset.isna().sum())} missing values after "
                "aligning with the data's index. Fix: pass a boolean Series on the same index."
            )
        values = subset.to_numpy()
    else:
        values = np.asarray(subset)
    if values.shape != (len(data),) or values.dtype != bool:
        raise EstimationError(
            f"subset must be a boolean mask of length {len(data)} or a query string; got an "
            f"array of shape {values.shape} and dtype {values.dtype}. Fix: pass e.g. "
            "data['grade'] == 1 or \"grade == 1\"."
        )
    name = getattr(subset, "name", None)
    return values.astype(bool), f"subset {name!r}" if name else "the subset"


def _numeric(series: pd.Series, role: str) -> np.ndarray:
    try:
        return pd.to_numeric(series, errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise EstimationError(
            f"Column {series.name!r} ({role}) is not numeric (e.g. value "
            f"{series.dropna().iloc[0]!r}). Fix: recode it as a number, or pass it in "
            "`categorical=` to get dummies."
        ) from exc


def _dummies(series: pd.Series) -> tuple[np.ndarray, list[str], list[Any]]:
    """Dummies for every level present but the first (categorical order, else sorted)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        levels = [lv for lv in series.cat.categories if (series == lv).any()]
    else:
        levels = sorted(series.unique().tolist(), key=lambda v: (str(type(v)), v))
    columns = [(series == lv).to_numpy(dtype=float) for lv in levels[1:]]
    names = [f"{series.name}[{lv}]" for lv in levels[1:]]
    matrix = np.column_stack(columns) if columns else np.empty((len(series), 0))
    return matrix, names, levels


def _independent_columns(x: np.ndarray, tol: float = 1e-7) -> list[int]:
    """Indices of columns of ``x`` that are not (near) linear combinations of earlier ones.

    Greedy Gram-Schmidt on standardised columns: keeps the constant and the earliest of a
    collinear set, as Stata does.
    """
    kept: list[int] = []
    basis = np.empty((x.shape[0], 0))
    for j in range(x.shape[1]):
        col = x[:, j]
        norm = np.linalg.norm(col)
        if norm == 0:
            continue
        v = col / norm
        if basis.shape[1]:
            v = v - basis @ (basis.T @ v)
        residual = np.linalg.norm(v)
        if residual > tol:
            basis = np.column_stack([basis, v / residual])
            kept.append(j)
    return kept


def _residualise(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(x, v, rcond=None)
    return v - x @ coef


def _responds(d: np.ndarray, z: np.ndarray, x: np.ndarray, tol: float = 1e-10) -> bool:
    """Whether the treatment has any (partial) association with the instruments given x."""
    d_tilde = _residualise(d, x)
    z_tilde = _residualise(z, x)
    fitted = z_tilde @ np.linalg.lstsq(z_tilde, d_tilde, rcond=None)[0]
    return bool(np.linalg.norm(fitted) > tol * max(np.linalg.norm(d_tilde), 1e-300))


def prepare_design(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    instrument: str | Sequence[str] = STUDY_INSTRUMENT,
    controls: str | Sequence[str] = (),
    categorical: str | Sequence[str] = (),
    cluster: str | None = STUDY_CLUSTER,
    subset: Any = None,
    *,
    label: str | None = None,
) -> Design:
    """Build the numeric design of an IV model from a DataFrame.

    Parameters
    ----------
    data : DataFrame
        Any data set, one row per unit.
    outcome, treatment : str
        Outcome column and the endogenous treatment column.
    instrument : str or sequence of str
        Excluded instrument(s), e.g. the randomised assignment.
    controls : sequence of str
        Numeric controls, entered linearly.
    categorical : sequence of str
        Categorical controls, entered as dummies for every level present except the first
        (categorical order for a pandas Categorical, otherwise sorted).
    cluster : str or None
        Cluster variable (the unit of randomisation); None for no clustering.
    subset : None, boolean Series/array, or str
        Rows to use: a boolean mask aligned with ``data`` or a ``DataFrame.query`` string.
    label : str, optional
        Name of the (sub)sample used in error messages (default: derived from ``subset``).

    Returns
    -------
    Design
        Arrays ``y, d, z, x`` (``x`` with the constant first), names, cluster codes, the
        labels of the rows used, dropped-row counts per reason and notes on dropped controls.

    Raises
    ------
    UnknownColumnError
        A named column is not in ``data``.
    NoInstrumentVariationError
        The instrument is constant, or collinear with the controls, in the rows used.
    ZeroTakeUpError
        The treatment is constant in the rows used.
    SubgroupTooSmallError
        Fewer than (parameters + 10) observations, or fewer than 2 clusters.
    """
    instruments = _as_tuple(instrument)
    controls_t = _as_tuple(controls)
    categorical_t = _as_tuple(categorical)
    if not instruments:
        raise EstimationError("No instrument given. Fix: pass instrument='access' (or a list).")
    roles = {
        "outcome": [outcome],
        "treatment": [treatment],
        "instrument": list(instruments),
        "control": list(controls_t),
        "categorical control": list(categorical_t),
        "cluster": [cluster] if cluster is not None else [],
    }
    _check_columns(data, roles)
    role_of: dict[str, list[str]] = {}
    for role, cols in roles.items():
        if role != "cluster":  # the cluster may also be a control (e.g. school)
            for c in cols:
                role_of.setdefault(c, []).append(role)
    clashes = {c: r for c, r in role_of.items() if len(r) > 1}
    if clashes:
        listed = "; ".join(f"{c!r} as {' and '.join(r)}" for c, r in clashes.items())
        raise EstimationError(
            f"Column(s) used in two roles: {listed}. Fix: each column can be only one of "
            "outcome, treatment, instrument or control."
        )

    mask, where = _subset_mask(data, subset)
    where = label or where
    n_outside = int((~mask).sum())
    frame = data.loc[mask]

    # Listwise deletion, each row counted once under its first missing column.
    ordered = [c for cols in roles.values() for c in cols]
    seen: list[str] = []
    dropped: dict[str, int] = {}
    keep = np.ones(len(frame), dtype=bool)
    for column in ordered:
        if column in seen:
            continue
        seen.append(column)
        missing = frame[column].isna().to_numpy() & keep
        if missing.any():
            dropped[f"missing {column}"] = int(missing.sum())
            keep &= ~missing
    frame = frame.loc[keep]
    if len(frame) == 0:
        raise SubgroupTooSmallError(
            f"No complete rows in {where}: {sum(dropped.values())} rows dropped ({dropped}). "
            "Fix: check the subset and the missing values of the columns named."
        )

    y = _numeric(frame[outcome], "outcome")
    d = _numeric(frame[treatment], "treatment")
    z = np.column_stack([_numeric(frame[c], "instrument") for c in instruments])

    columns = [np.ones(len(frame))]
    names = [CONSTANT]
    notes: list[str] = []
    for c in controls_t:
        columns.append(_numeric(frame[c], "control"))
        names.append(c)
    for c in categorical_t:
        matrix, dummy_names, levels = _dummies(frame[c])
        if len(levels) == 1:
            notes.append(f"{c}: one level ({levels[0]!r}) in {where}; no dummies")
        columns.extend(matrix.T)
        names.extend(dummy_names)
    x_full = np.column_stack(columns)

    kept = _independent_columns(x_full)
    dropped_controls = tuple(names[j] for j in range(len(names)) if j not in kept)
    for name in dropped_controls:
        notes.append(f"{name}: constant or collinear with the other controls in {where}; dropped")
    x = x_full[:, kept]
    x_names = tuple(names[j] for j in kept)

    # Instruments must vary beyond the controls.
    for j, name in enumerate(instruments):
        if np.ptp(z[:, j]) == 0:
            raise NoInstrumentVariationError(
                f"Instrument {name!r} has no variation in {where} (all {len(frame)} rows "
                f"= {z[0, j]:g}). Fix: estimate on a (sub)sample where both arms are present, "
                "or pool this subgroup with another."
            )
    if len(_independent_columns(np.column_stack([x, z]))) < x.shape[1] + z.shape[1]:
        raise NoInstrumentVariationError(
            f"Instrument(s) {list(instruments)} are collinear with the controls in {where} "
            "(they do not vary within the control cells). Fix: drop the control that "
            "determines the instrument, or use another subgroup."
        )
    if np.ptp(d) == 0:
        raise ZeroTakeUpError(
            f"Treatment {treatment!r} is constant ({d[0]:g}) in all {len(frame)} rows of "
            f"{where}: no take-up to instrument. Fix: check the treatment column, or report "
            "the ITT (reduced form) only for this subgroup."
        )

    if not _responds(d, z, x):
        raise ZeroTakeUpError(
            f"Treatment {treatment!r} does not respond to the instrument(s) {list(instruments)} "
            f"in {where} (first-stage coefficient zero: take-up is the same with and without "
            "the instrument). Fix: check that the treatment is coded for the instrumented arm, "
            "or report the ITT (reduced form) only for this subgroup."
        )

    n_params = x.shape[1] + 1
    if len(frame) < n_params + MIN_EXTRA_OBS:
        raise SubgroupTooSmallError(
            f"{where} has {len(frame)} complete rows for a model with {n_params} parameters "
            f"(at least {n_params + MIN_EXTRA_OBS} needed). Fix: pool subgroups or use fewer "
            "controls."
        )
    codes = None
    if cluster is not None:
        codes = pd.factorize(frame[cluster], sort=True)[0].astype(np.int64)
        n_clusters = int(codes.max()) + 1
        if n_clusters < 2:
            raise SubgroupTooSmallError(
                f"{where} has {n_clusters} cluster(s) of {cluster!r}; clustered errors need "
                "at least 2. Fix: use a larger subgroup or cov='robust'."
            )

    return Design(
        y=y,
        d=d,
        z=z,
        x=x,
        x_names=x_names,
        z_names=instruments,
        clusters=codes,
        index=frame.index,
        dropped=dropped,
        notes=tuple(notes),
        outcome=outcome,
        treatment=treatment,
        instrument=instruments,
        cluster=cluster,
        label=where,
        n_outside_subset=n_outside,
        dropped_controls=dropped_controls,
    )


# --------------------------------------------------------------------------- fitting


def _fit(
    y: np.ndarray,
    exog: pd.DataFrame,
    endog: pd.DataFrame | None,
    instruments: pd.DataFrame | None,
    cov: str,
    clusters: np.ndarray | None,
):
    """One linearmodels fit (2SLS if ``endog`` is given, else OLS) with the small-sample factor."""
    from linearmodels.iv import IV2SLS

    model = IV2SLS(pd.Series(y, index=exog.index, name="y"), exog, endog, instruments)
    if cov == "clustered":
        return model.fit(cov_type="clustered", clusters=clusters, debiased=True)
    return model.fit(cov_type=cov, debiased=True)


def _check_cov(cov: str, design: Design) -> None:
    if cov not in COV_TYPES:
        raise EstimationError(f"cov={cov!r} is not one of {COV_TYPES}. Fix: pick one of these.")
    if cov == "clustered" and design.clusters is None:
        raise EstimationError(
            "cov='clustered' needs a cluster variable, but cluster=None. Fix: pass "
            "cluster='family_id' (the unit of randomisation) or cov='robust'."
        )


def _df_resid(cov: str, nobs: int, n_params: int, nclusters: int | None) -> int:
    """Degrees of freedom of the t reference distribution (G-1 when clustered, else N-K)."""
    if cov == "clustered":
        assert nclusters is not None
        return nclusters - 1
    return nobs - n_params


def _t_stats(coef: float, se: float, df: int, level: float) -> dict[str, float]:
    from scipy import stats

    tstat = coef / se if se > 0 else math.nan
    pvalue = float(2 * stats.t.sf(abs(tstat), df)) if se > 0 else math.nan
    crit = float(stats.t.ppf(0.5 + level / 2, df))
    return {
        "coef": float(coef),
        "se": float(se),
        "tstat": float(tstat),
        "pvalue": pvalue,
        "ci_low": float(coef - crit * se),
        "ci_high": float(coef + crit * se),
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Estimate:
    """One coefficient with its inference (t with ``df`` degrees of freedom)."""

    coef: float
    se: float
    tstat: float
    pvalue: float
    ci_low: float
    ci_high: float
    nobs: int
    df: int
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN becomes None)."""
        return _json_safe(self.__dict__)


@dataclass(frozen=True)
class FirstStage(Estimate):
    """First stage: coefficient of the (first) instrument on the treatment, and its strength.

    ``fstat`` is the Wald statistic of all excluded instruments divided by their number, using
    the model's covariance type (with one instrument: t squared, the effective F; clustered
    with several: the cluster-robust, Kleibergen-Paap-type Wald/k). ``compliance_rate`` is
    P(D=1|Z=1) - P(D=1|Z=0) in the rows used (NaN unless one binary 0/1 instrument).
    """

    fstat: float = math.nan
    fstat_pvalue: float = math.nan
    n_instruments: int = 1
    compliance_rate: float = math.nan
    take_up_instrumented: float = math.nan
    take_up_not_instrumented: float = math.nan


def _wald(coefs: np.ndarray, cov: np.ndarray, df: int) -> tuple[float, float]:
    """Wald statistic divided by the number of restrictions, and its F(q, df) p-value."""
    from scipy import stats

    q = coefs.shape[0]
    stat = float(coefs @ np.linalg.solve(cov, coefs)) / q
    return stat, float(stats.f.sf(stat, q, df))


class IVResult:
    """Result of :func:`iv`: 2SLS, first stage, ITT (reduced form) and naive OLS.

    Every statistic is a property; ``summary()`` gives a tidy table and ``to_dict()`` a
    JSON-safe dict. Inference follows the module conventions (CR1 / HC1, t with G-1 or N-K
    degrees of freedom); ``df`` holds the degrees of freedom used.
    """

    def __init__(self, design: Design, cov: str, level: float) -> None:
        self._design = design
        self._cov = cov
        self._level = level
        d = design
        exog = pd.DataFrame(d.x, columns=list(d.x_names))
        endog = pd.DataFrame({d.treatment: d.d})
        instr = pd.DataFrame(d.z, columns=list(d.z_names))
        if d.treatment in exog.columns or set(d.z_names) & set(exog.columns):
            raise EstimationError("A control has the name of the treatment or an instrument.")
        self._fit_2sls = _fit(d.y, exog, endog, instr, cov, d.clusters)
        self._fit_first = _fit(d.d, pd.concat([exog, instr], axis=1), None, None, cov, d.clusters)
        self._fit_itt = _fit(d.y, pd.concat([exog, instr], axis=1), None, None, cov, d.clusters)
        self._fit_ols = _fit(d.y, pd.concat([exog, endog], axis=1), None, None, cov, d.clusters)
        k = d.x.shape[1] + 1
        nk = d.x.shape[1] + d.z.shape[1]
        self._df = _df_resid(cov, d.nobs, k, d.nclusters)
        self._df_reduced = _df_resid(cov, d.nobs, nk, d.nclusters)

    # -- internals
    def _estimate(self, fit, name: str, df: int) -> Estimate:
        se = float(np.sqrt(fit.cov.loc[name, name]))
        return Estimate(
            **_t_stats(float(fit.params[name]), se, df, self._level),
            nobs=self.nobs,
            df=df,
            name=name,
        )

    # -- the 2SLS estimate
    @property
    def design(self) -> Design:
        """The :class:`Design` the model was fitted on."""
        return self._design

    @property
    def fit(self):
        """The underlying linearmodels ``IVResults`` of the 2SLS (debiased covariance)."""
        return self._fit_2sls

    @property
    def cov_type(self) -> str:
        """Covariance type: clustered (CR1), robust (HC1) or unadjusted."""
        return self._cov

    @property
    def level(self) -> float:
        """Confidence level of the intervals."""
        return self._level

    @property
    def df(self) -> int:
        """Degrees of freedom of the t distribution for p-values and intervals."""
        return self._df

    @property
    def iv_estimate(self) -> Estimate:
        """The 2SLS coefficient of the treatment as an :class:`Estimate`."""
        return self._estimate(self._fit_2sls, self._design.treatment, self._df)

    @property
    def coef(self) -> float:
        """2SLS coefficient of the treatment (the effect on compliers)."""
        return float(self._fit_2sls.params[self._design.treatment])

    @property
    def se(self) -> float:
        """Standard error of the 2SLS coefficient."""
        return self.iv_estimate.se

    @property
    def tstat(self) -> float:
        """t statistic of the 2SLS coefficient."""
        return self.iv_estimate.tstat

    @property
    def pvalue(self) -> float:
        """Two-sided p-value of the 2SLS coefficient (t with ``df`` degrees of freedom)."""
        return self.iv_estimate.pvalue

    @property
    def ci_low(self) -> float:
        """Lower bound of the confidence interval of the 2SLS coefficient."""
        return self.iv_estimate.ci_low

    @property
    def ci_high(self) -> float:
        """Upper bound of the confidence interval of the 2SLS coefficient."""
        return self.iv_estimate.ci_high

    @property
    def intercept(self) -> float:
        """The 2SLS constant (as printed in the paper's Table 1)."""
        return float(self._fit_2sls.params[CONSTANT])

    @property
    def params(self) -> pd.Series:
        """All 2SLS coefficients."""
        return self._fit_2sls.params.rename("coef")

    @property
    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of all 2SLS coefficients (CR1 / HC1 / classical)."""
        return self._fit_2sls.cov

    def params_table(self) -> pd.DataFrame:
        """All 2SLS coefficients with se, t, p-value and interval."""
        rows = {
            name: self._estimate(self._fit_2sls, name, self._df).__dict__
            for name in self._fit_2sls.params.index
        }
        return pd.DataFrame(rows).T.drop(columns=["name"])

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return self._design.nobs

    @property
    def nclusters(self) -> int | None:
        """Number of clusters (None without a cluster variable)."""
        return self._design.nclusters

    @property
    def dropped(self) -> dict[str, int]:
        """Rows dropped per reason (missing values)."""
        return dict(self._design.dropped)

    @property
    def notes(self) -> tuple[str, ...]:
        """Controls dropped as constant or collinear, and similar remarks."""
        return self._design.notes

    # -- the other regressions
    @property
    def first_stage(self) -> FirstStage:
        """First stage (treatment on instruments and controls), strength and compliance."""
        d = self._design
        first = self._estimate(self._fit_first, d.z_names[0], self._df_reduced)
        names = list(d.z_names)
        pi = self._fit_first.params[names].to_numpy()
        cov = self._fit_first.cov.loc[names, names].to_numpy()
        fstat, fpvalue = _wald(pi, cov, self._df_reduced)
        compliance = treated = untreated = math.nan
        z = d.z[:, 0]
        if d.z.shape[1] == 1 and set(np.unique(z)) == {0.0, 1.0}:
            treated = float(d.d[z == 1].mean())
            untreated = float(d.d[z == 0].mean())
            compliance = treated - untreated
        return FirstStage(
            **first.__dict__,
            fstat=fstat,
            fstat_pvalue=fpvalue,
            n_instruments=len(names),
            compliance_rate=compliance,
            take_up_instrumented=treated,
            take_up_not_instrumented=untreated,
        )

    @property
    def first_stage_f(self) -> float:
        """First-stage F respecting the covariance type (see :class:`FirstStage`)."""
        return self.first_stage.fstat

    @property
    def compliance_rate(self) -> float:
        """P(D=1|Z=1) - P(D=1|Z=0) in the rows used."""
        return self.first_stage.compliance_rate

    @property
    def itt(self) -> Estimate:
        """Reduced form / intention-to-treat: outcome on the (first) instrument and controls."""
        return self._estimate(self._fit_itt, self._design.z_names[0], self._df_reduced)

    @property
    def ols(self) -> Estimate:
        """Naive OLS of the outcome on the treatment and controls (not causal; for contrast)."""
        return self._estimate(self._fit_ols, self._design.treatment, self._df)

    # -- presentation
    def summary(self) -> pd.DataFrame:
        """Tidy table: rows 2SLS, first stage, ITT, OLS; columns coef, se, t, pvalue, CI, nobs."""
        rows = {
            "2SLS": self.iv_estimate,
            "first stage": self.first_stage,
            "ITT": self.itt,
            "OLS": self.ols,
        }
        table = pd.DataFrame(
            {
                label: {
                    "coef": e.coef,
                    "se": e.se,
                    "t": e.tstat,
                    "pvalue": e.pvalue,
                    "ci_low": e.ci_low,
                    "ci_high": e.ci_high,
                    "nobs": e.nobs,
                }
                for label, e in rows.items()
            }
        ).T
        table["nobs"] = table["nobs"].astype(int)
        table.index.name = "estimate"
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: the 2SLS statistics at the top level, the other models nested."""
        d = self._design
        first = self.first_stage
        iv_est = self.iv_estimate
        out = {
            "coef": iv_est.coef,
            "se": iv_est.se,
            "tstat": iv_est.tstat,
            "pvalue": iv_est.pvalue,
            "ci_low": iv_est.ci_low,
            "ci_high": iv_est.ci_high,
            "nobs": self.nobs,
            "nclusters": self.nclusters,
            "first_stage_f": first.fstat,
            "compliance_rate": first.compliance_rate,
            "intercept": self.intercept,
            "df": self.df,
            "cov_type": self._cov,
            "level": self._level,
            "outcome": d.outcome,
            "treatment": d.treatment,
            "instrument": list(d.instrument),
            "controls": [n for n in d.x_names if n != CONSTANT],
            "cluster": d.cluster,
            "sample": d.label,
            "first_stage": first.to_dict(),
            "itt": self.itt.to_dict(),
            "ols": self.ols.to_dict(),
            "dropped": dict(d.dropped),
            "notes": list(d.notes),
        }
        return _json_safe(out)

    def __repr__(self) -> str:
        d = self._design
        pct = f"{self._level:.0%}"
        clusters = f", {self.nclusters} clusters of {d.cluster}" if self._cov == "clustered" else ""
        lines = [
            f"IVResult: effect of {d.treatment} on {d.outcome} (2SLS, instrument "
            f"{', '.join(d.z_names)}) in {d.label}",
            f"  N = {self.nobs}{clusters}; covariance {self._cov}, t with {self.df} df",
            f"  coef {self.coef:.4g}  se {self.se:.4g}  p {self.pvalue:.3g}  "
            f"{pct} CI [{self.ci_low:.4g}, {self.ci_high:.4g}]",
            f"  first stage {self.first_stage.coef:.4g} (F = {self.first_stage_f:.1f}, "
            f"compliance {self.compliance_rate:.3g}); ITT {self.itt.coef:.4g} "
            f"(se {self.itt.se:.4g}); naive OLS {self.ols.coef:.4g}",
        ]
        if d.dropped:
            lines.append(f"  dropped: {d.dropped}")
        lines.extend(f"  note: {n}" for n in d.notes)
        return "\n".join(lines)


# --------------------------------------------------------------------------- public API


def iv(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    instrument: str | Sequence[str] = STUDY_INSTRUMENT,
    controls: str | Sequence[str] = (),
    categorical: str | Sequence[str] = (),
    cluster: str | None = STUDY_CLUSTER,
    subset: Any = None,
    cov: str = "clustered",
    level: float = 0.95,
    *,
    label: str | None = None,
) -> IVResult:
    """Estimate the effect of ``treatment`` on ``outcome`` by 2SLS with ``instrument``.

    Also fits the first stage, the reduced form (ITT) and the naive OLS on the same rows and
    with the same covariance type.

    Parameters
    ----------
    data, outcome, treatment, instrument, controls, categorical, cluster, subset, label
        As in :func:`prepare_design`.
    cov : {"clustered", "robust", "unadjusted"}
        Covariance: CR1 clustered on ``cluster`` (default; t with G-1 df), HC1 robust or
        classical (t with N-K df). See the module docstring.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    IVResult

    Examples
    --------
    >>> res = iv(df, "practice_min_total", "app_used", "access",
    ...          controls=["cito", "age"], categorical=["grade"], cluster="family_id")
    >>> res.coef, res.se, res.first_stage.fstat
    """
    if not 0 < level < 1:
        raise EstimationError(f"level={level} must be between 0 and 1, e.g. 0.95.")
    design = prepare_design(
        data, outcome, treatment, instrument, controls, categorical, cluster, subset, label=label
    )
    _check_cov(cov, design)
    return IVResult(design, cov, level)


def study(
    data: pd.DataFrame,
    outcome: str = STUDY_OUTCOME,
    treatment: str = STUDY_TREATMENT,
    **overrides: Any,
) -> IVResult:
    """The paper's specification: :data:`STUDY_SPEC` (controls of study.md, clustered by family).

    ``overrides`` replace any argument of :func:`iv` (e.g. ``subset="grade == 1"``,
    ``cov="robust"``).
    """
    return iv(data, **{**STUDY_SPEC, "outcome": outcome, "treatment": treatment, **overrides})


def _python_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def by_group(
    data: pd.DataFrame, by: str | Sequence[str], *, subset: Any = None, **kw: Any
) -> dict[Any, IVResult]:
    """Estimate :func:`iv` separately in every level of ``by`` (one column or several).

    Parameters
    ----------
    data : DataFrame
    by : str or sequence of str
        Grouping column(s); keys are the levels (tuples for several columns), in categorical
        order or sorted. Rows with a missing group are left out.
    subset : optional
        Restricts every group further (same forms as in :func:`prepare_design`).
    **kw
        Arguments of :func:`iv` (``outcome`` and ``treatment`` required), e.g. ``**STUDY_SPEC``.

    Raises
    ------
    EstimationError
        (a subclass) naming the subgroup when a group cannot be estimated.
    """
    columns = list(_as_tuple(by))
    _check_columns(data, {"group": columns})
    base, where = _subset_mask(data, subset)
    positions = np.flatnonzero(base)
    key = columns[0] if len(columns) == 1 else columns
    groups = data.iloc[positions].groupby(key, observed=True, sort=True, dropna=True).indices
    results: dict[Any, IVResult] = {}
    kw.pop("label", None)  # every group gets its own label
    for level, idx in groups.items():
        mask = np.zeros(len(data), dtype=bool)
        mask[positions[idx]] = True
        if isinstance(level, tuple):
            level = tuple(_python_scalar(v) for v in level)
            name = ", ".join(f"{c} = {v}" for c, v in zip(columns, level, strict=True))
        else:
            level = _python_scalar(level)
            name = f"{columns[0]} = {level}"
        if subset is not None:
            name = f"{name} within {where}"
        results[level] = iv(data, subset=mask, label=name, **kw)
    return results


def table1(data: pd.DataFrame, **kw: Any) -> dict[str, IVResult]:
    """The paper's Table 1: the study specification pooled and by grade.

    Returns a dict keyed ``all``, ``grade1``, ``grade2``, ``grade3`` (one key per grade
    present). ``kw`` override :data:`STUDY_SPEC` or other :func:`iv` arguments.
    """
    spec = {**STUDY_SPEC, **kw}
    out = {"all": iv(data, label="all students", **spec)}
    for grade, result in by_group(data, "grade", **spec).items():
        out[f"grade{grade}"] = result
    return out


# --------------------------------------------------------------------------- interactions


@dataclass(frozen=True)
class InteractionResult:
    """Does the 2SLS effect differ between levels of a group? (See :func:`interaction`.)

    Attributes
    ----------
    group, reference : the grouping column and its reference level.
    differences : DataFrame, one row per non-reference level: effect(level) - effect(reference)
        with se, t, p-value and interval.
    effects : DataFrame, one row per level: the effect within the level.
    wald_f, wald_df, wald_pvalue : joint test that all effects are equal (Wald/q against
        F(q, df)); with two levels it equals the t-test of the single difference.
    """

    group: str
    reference: Any
    levels: tuple[Any, ...]
    differences: pd.DataFrame
    effects: pd.DataFrame
    wald_f: float
    wald_df: tuple[int, int]
    wald_pvalue: float
    nobs: int
    nclusters: int | None
    cov_type: str
    design: Design
    fit: Any = field(repr=False)

    @property
    def difference(self) -> float:
        """The difference in effects with two levels (NaN-free; error with more levels)."""
        if len(self.differences) != 1:
            raise EstimationError(
                f"{self.group} has {len(self.levels)} levels; read .differences instead."
            )
        return float(self.differences["coef"].iloc[0])

    @property
    def se(self) -> float:
        """Standard error of the difference (two levels only)."""
        self.difference  # noqa: B018 - raises with more than two levels
        return float(self.differences["se"].iloc[0])

    @property
    def pvalue(self) -> float:
        """p-value of equality of the effects (Wald test; the t-test with two levels)."""
        return self.wald_pvalue

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return _json_safe(
            {
                "group": self.group,
                "reference": self.reference,
                "levels": list(self.levels),
                "differences": {
                    str(k): v for k, v in self.differences.to_dict(orient="index").items()
                },
                "effects": {str(k): v for k, v in self.effects.to_dict(orient="index").items()},
                "wald_f": self.wald_f,
                "wald_df": list(self.wald_df),
                "pvalue": self.wald_pvalue,
                "nobs": self.nobs,
                "nclusters": self.nclusters,
                "cov_type": self.cov_type,
            }
        )

    def __repr__(self) -> str:
        lines = [
            f"InteractionResult: effect of {self.design.treatment} by {self.group} "
            f"(reference {self.reference!r}), N = {self.nobs}",
            self.differences.round(4).to_string(),
            f"  equality of effects: F({self.wald_df[0]}, {self.wald_df[1]}) = "
            f"{self.wald_f:.3g}, p = {self.wald_pvalue:.3g}",
        ]
        return "\n".join(lines)


def interaction(
    data: pd.DataFrame,
    group: str | pd.Series,
    reference: Any = None,
    **kw: Any,
) -> InteractionResult:
    """Test whether the 2SLS effect differs between levels of ``group``.

    Fits one model with the treatment D, D x 1[group = level] for every non-reference level,
    group dummies and the controls, instrumented by Z and Z x 1[group = level]. The coefficient
    of D x 1[level] is the difference effect(level) - effect(reference).

    Parameters
    ----------
    data : DataFrame
    group : str or Series
        Grouping column, or a Series aligned with ``data`` (e.g.
        ``df["grade"].eq(3).map({True: "grade 3", False: "grades 1-2"}).rename("grade3")``).
    reference : optional
        Reference level (default: the first level in categorical or sorted order).
    **kw
        Arguments of :func:`iv` (``outcome`` and ``treatment`` required), e.g. ``**STUDY_SPEC``.

    Returns
    -------
    InteractionResult
    """
    if isinstance(group, pd.Series):
        name = str(group.name) if group.name is not None else "group"
        if name in data.columns and not data[name].equals(group):
            name = f"{name} (interaction group)"
        data = data.assign(**{name: group.reindex(data.index)})
        group = name
    _check_columns(data, {"group": [group]})
    cov = kw.pop("cov", "clustered")
    level = kw.pop("level", 0.95)
    categorical = list(_as_tuple(kw.pop("categorical", ())))
    if group not in categorical:
        categorical.append(group)
    design = prepare_design(data, categorical=categorical, **kw)
    _check_cov(cov, design)

    g = data.loc[design.index, group]
    if isinstance(g.dtype, pd.CategoricalDtype):
        levels = [lv for lv in g.cat.categories if (g == lv).any()]
    else:
        levels = sorted(g.unique().tolist(), key=lambda v: (str(type(v)), v))
    levels = [_python_scalar(v) for v in levels]
    if len(levels) < 2:
        raise SubgroupTooSmallError(
            f"{group!r} has {len(levels)} level(s) in {design.label}; an interaction needs at "
            "least 2. Fix: choose another group or widen the subset."
        )
    if reference is None:
        reference = levels[0]
    if reference not in levels:
        raise EstimationError(
            f"reference={reference!r} is not a level of {group!r} in {design.label}; levels: "
            f"{levels}. Fix: pass one of these."
        )
    others = [lv for lv in levels if lv != reference]
    g_values = g.to_numpy()
    for lv in levels:
        inside = g_values == lv
        where = f"{group} = {lv}"
        if any(np.ptp(design.z[inside, j]) == 0 for j in range(design.z.shape[1])):
            raise NoInstrumentVariationError(
                f"Instrument {list(design.z_names)} has no variation in subgroup {where} "
                f"({int(inside.sum())} rows). Fix: pool this level with another."
            )
        if np.ptp(design.d[inside]) == 0:
            raise ZeroTakeUpError(
                f"Treatment {design.treatment!r} is constant in subgroup {where}: no take-up "
                "to instrument. Fix: pool this level with another."
            )

    treatment = design.treatment
    endog = {treatment: design.d}
    instr = {n: design.z[:, j] for j, n in enumerate(design.z_names)}
    diff_names = []
    for lv in others:
        ind = (g_values == lv).astype(float)
        diff_names.append(f"{treatment} x {group}[{lv}]")
        endog[diff_names[-1]] = design.d * ind
        for j, n in enumerate(design.z_names):
            instr[f"{n} x {group}[{lv}]"] = design.z[:, j] * ind
    exog = pd.DataFrame(design.x, columns=list(design.x_names))
    fit = _fit(design.y, exog, pd.DataFrame(endog), pd.DataFrame(instr), cov, design.clusters)
    df = _df_resid(cov, design.nobs, design.x.shape[1] + len(endog), design.nclusters)

    params, vcov = fit.params, fit.cov
    differences = pd.DataFrame(
        {
            lv: _t_stats(float(params[n]), float(np.sqrt(vcov.loc[n, n])), df, level)
            for lv, n in zip(others, diff_names, strict=True)
        }
    ).T
    effects = {}
    for lv in levels:
        weights = pd.Series(0.0, index=params.index)
        weights[treatment] = 1.0
        if lv != reference:
            weights[diff_names[others.index(lv)]] = 1.0
        coef = float(weights @ params)
        se = float(np.sqrt(weights @ vcov @ weights))
        effects[lv] = {**_t_stats(coef, se, df, level), "nobs": int((g_values == lv).sum())}
    effects_frame = pd.DataFrame(effects).T
    effects_frame["nobs"] = effects_frame["nobs"].astype(int)
    b = params[diff_names].to_numpy()
    wald_f, wald_p = _wald(b, vcov.loc[diff_names, diff_names].to_numpy(), df)
    return InteractionResult(
        group=group,
        reference=reference,
        levels=tuple(levels),
        differences=differences,
        effects=effects_frame,
        wald_f=wald_f,
        wald_df=(len(diff_names), df),
        wald_pvalue=wald_p,
        nobs=design.nobs,
        nclusters=design.nclusters,
        cov_type=cov,
        design=design,
        fit=fit,
    )
