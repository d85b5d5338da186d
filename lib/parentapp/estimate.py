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


@dataclass(frozen=True)
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
                "names of the data, e.g. subset=\"grade == 1\"."
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
    overlap = set(instruments) & ({outcome, treatment} | set(controls_t) | set(categorical_t))
    if overlap or outcome == treatment:
        raise EstimationError(
            f"Column(s) {sorted(overlap or {outcome})} play two roles in the model. Fix: each "
            "column can be only one of outcome, treatment, instrument or control."
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
