"""Design-based and robust inference for the access → app use → outcome IV model, vectorised.

Every procedure here is for one endogenous treatment ``d`` (app use) and one instrument ``z``
(the randomised parental access), with exogenous controls ``x`` (constant included) and
clusters = families, the unit of randomisation. The controls are partialled out once
(Frisch–Waugh–Lovell); all re-randomisation or bootstrap draws are then evaluated as matrix
products at the family level, in chunks of draws so that memory stays bounded. No model is
refitted per draw.

Public API
----------
``randomisation_inference``      Fisher p-value of the sharp null "access changes nothing"
                                 (ITT statistic, re-drawing family-level access).
``randomisation_inference_many`` the same for several designs (e.g. the four Table 1 columns).
``draw_assignments``             the family-level assignments those functions use.
``wild_bootstrap``               wild cluster bootstrap (restricted) p-value and interval, for the
                                 ITT (WCR) or the IV coefficient (WRE, Davidson–MacKinnon 2010).
``anderson_rubin``               cluster-robust Anderson–Rubin confidence set, in closed form.
``romano_wolf``                  Romano–Wolf stepdown (or single-step max-t) adjusted p-values
                                 for a family of subgroup hypotheses, resampled jointly.
``benjamini_hochberg``           Benjamini–Hochberg q-values.
``response_difference``          does questionnaire response differ by access?
``lee_bounds``                   Lee (2009) bounds for the ITT (and its IV rescaling).
``replication_probability``      share of simulated replications in which each claim holds.

Conventions
-----------
* Cluster-robust variances are CR1: the sandwich scaled by ``G/(G-1) * (n-1)/(n-k)``, with ``k``
  the number of regressors (Stata's default; linearmodels ``debiased=True``).
* Randomisation p-values count the observed assignment as one of the draws,
  ``(1 + #{draws at least as extreme}) / (1 + n_draws)``, which keeps the test exact.
  Bootstrap p-values are the plain share of draws at least as extreme (as boottest and
  wildboottest report them).
* Every random step takes an explicit seed; the same inputs and seed give identical results,
  whatever ``chunk_size`` is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sparse
from scipy import stats

from parentapp.paths import DEFAULT_SEED

__all__ = [
    "AndersonRubinResult",
    "BootstrapResult",
    "InferenceError",
    "LeeBoundsResult",
    "MultipleTestingResult",
    "RandomisationResult",
    "ReplicationResult",
    "ResponseDifferenceResult",
    "anderson_rubin",
    "benjamini_hochberg",
    "draw_assignments",
    "lee_bounds",
    "randomisation_inference",
    "randomisation_inference_many",
    "replication_probability",
    "response_difference",
    "romano_wolf",
    "wild_bootstrap",
]

DEFAULT_CHUNK = 1000  # draws evaluated at once; bounds memory at about chunk x families floats
_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
_RADEMACHER = np.array([-1.0, 1.0])
_ALTERNATIVES = ("two-sided", "greater", "less")


class InferenceError(ValueError):
    """Input that the inference procedures cannot use (the message says why and the fix)."""


# ---------------------------------------------------------------------------------------------
# Arrays of a design, with the controls partialled out
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Arrays:
    y: np.ndarray
    d: np.ndarray | None
    z: np.ndarray
    x: np.ndarray
    clusters: np.ndarray  # codes 0..G-1
    n_clusters: int


def _arrays(design: Any, need_treatment: bool = True) -> _Arrays:
    """Validate a Design-like object (attributes y, d, z, x, clusters) and return flat arrays."""
    for name in ("y", "z", "x") + (("d",) if need_treatment else ()):
        if getattr(design, name, None) is None:
            raise InferenceError(
                f"The design has no attribute {name!r}. Fix: pass an estimate.Design (from "
                "estimate.prepare_design) or an object with arrays y, d, z, x and clusters."
            )
    y = np.asarray(design.y, dtype=float).reshape(-1)
    n = y.shape[0]
    z = np.asarray(design.z, dtype=float)
    if z.ndim == 2:
        if z.shape[1] != 1:
            raise InferenceError(
                f"The design has {z.shape[1]} instruments; these procedures need exactly one "
                "(the randomised access). Fix: prepare the design with instrument='access'."
            )
        z = z[:, 0]
    x = np.asarray(design.x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    d = getattr(design, "d", None)
    d = None if d is None else np.asarray(d, dtype=float).reshape(-1)
    clusters = getattr(design, "clusters", None)
    if clusters is None:
        codes = np.arange(n)
    else:
        _, codes = np.unique(np.asarray(clusters), return_inverse=True)
        codes = codes.reshape(-1)
    for name, arr in (("z", z), ("x", x), ("d", d), ("clusters", codes)):
        if arr is not None and arr.shape[0] != n:
            raise InferenceError(
                f"design.{name} has {arr.shape[0]} rows but design.y has {n}. Fix: build all "
                "arrays from the same rows (estimate.prepare_design does)."
            )
    finite = np.isfinite(y) & np.isfinite(z) & np.isfinite(x).all(axis=1)
    if d is not None:
        finite &= np.isfinite(d)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise InferenceError(
            f"The design has missing or infinite values in {bad.size} row(s) (first positions "
            f"{bad[:5].tolist()}). Fix: drop incomplete rows first (estimate.prepare_design "
            "does, and reports them)."
        )
    return _Arrays(y=y, d=d, z=z, x=x, clusters=codes, n_clusters=int(codes.max()) + 1)


def _orthonormal_basis(x: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column space of x (collinear columns, e.g. a grade dummy that
    is constant within a grade subgroup, are dropped automatically)."""
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return np.zeros((x.shape[0], 0))
    keep = s > s[0] * max(x.shape) * np.finfo(float).eps * 10
    return u[:, keep]


class _Partialled:
    """One (sub)sample with the controls partialled out, and its family-level sums.

    ``rows`` selects a subsample while keeping the cluster codes of the full design, so that
    several subgroups can share the same family-level draws.
    """

    def __init__(self, arrays: _Arrays, rows: np.ndarray | None = None):
        sel = slice(None) if rows is None else rows
        y, z, x = arrays.y[sel], arrays.z[sel], arrays.x[sel]
        d = None if arrays.d is None else arrays.d[sel]
        codes = arrays.clusters[sel]
        self.n = y.shape[0]
        self.n_clusters_total = arrays.n_clusters
        self.codes = codes
        self.q = _orthonormal_basis(x)
        self.k = self.q.shape[1] + 1  # regressors: instrument (or treatment) + controls
        present = np.bincount(codes, minlength=arrays.n_clusters) > 0
        self.present = present
        self.n_clusters = int(present.sum())
        if self.n_clusters < 2:
            raise InferenceError(
                f"The (sub)sample has {self.n_clusters} family/cluster; cluster-robust "
                "inference needs at least 2. Fix: use a larger subgroup."
            )
        if self.n <= self.k:
            raise InferenceError(
                f"The (sub)sample has {self.n} rows for {self.k} regressors. Fix: pool "
                "subgroups or use fewer controls."
            )
        self.ssc = self.n_clusters / (self.n_clusters - 1) * (self.n - 1) / (self.n - self.k)
        self.yt = self._resid(y)
        self.zt = self._resid(z)
        self.dt = None if d is None else self._resid(d)
        self.zz = float(self.zt @ self.zt)
        if self.zz <= 1e-12 * max(float(z @ z), 1e-300):
            raise InferenceError(
                "The instrument does not vary once the controls are partialled out (it is "
                "constant, or collinear with the controls, in this (sub)sample). Fix: use a "
                "subsample with both access arms, or drop the control that determines access."
            )
        self.z = z
        self.indicator = sparse.csr_array(
            (np.ones(self.n), (codes, np.arange(self.n))), shape=(arrays.n_clusters, self.n)
        )
        g = arrays.n_clusters
        self.sizes = np.bincount(codes, minlength=g).astype(float)
        self.sum_y = np.bincount(codes, weights=self.yt, minlength=g)
        self.q_sums = self.indicator @ self.q  # (G, r): family sums of the basis
        self.c = np.bincount(codes, weights=self.zt * self.zt, minlength=g)  # sum of zt^2
        self.a_y = np.bincount(codes, weights=self.zt * self.yt, minlength=g)  # sum of zt*yt
        self.a_d = (
            None if self.dt is None else np.bincount(codes, weights=self.zt * self.dt, minlength=g)
        )
        self.r_mat = self.indicator @ (self.zt[:, None] * self.q)  # (G, r): sums of zt*q
        self.ri_matrix = np.column_stack([self.sum_y, self.sizes, self.q_sums])

    def _resid(self, v: np.ndarray) -> np.ndarray:
        return v - self.q @ (self.q.T @ v)

    def cluster_sums(self, values: np.ndarray) -> np.ndarray:
        """Family sums of values (n,) or (n, m) → (G,) or (G, m)."""
        if values.ndim == 1:
            return np.bincount(self.codes, weights=values, minlength=self.n_clusters_total)
        return self.indicator @ values

    # -- observed estimates ---------------------------------------------------------------
    def itt(self) -> tuple[float, float]:
        """Coefficient of z in y ~ z + x and its CR1 standard error."""
        coef = float(self.a_y.sum() / self.zz)
        scores = self.a_y - coef * self.c
        return coef, math.sqrt(self.ssc * float(scores @ scores)) / self.zz

    def first_stage(self) -> tuple[float, float]:
        coef = float(self.a_d.sum() / self.zz)
        scores = self.a_d - coef * self.c
        return coef, math.sqrt(self.ssc * float(scores @ scores)) / self.zz

    def iv(self) -> tuple[float, float]:
        """Just-identified 2SLS coefficient of d and its CR1 standard error."""
        zd = float(self.a_d.sum())
        if abs(zd) < 1e-12 * math.sqrt(self.zz * float(self.dt @ self.dt) + 1e-300):
            return float("nan"), float("nan")
        coef = float(self.a_y.sum()) / zd
        scores = self.a_y - coef * self.a_d
        return coef, math.sqrt(self.ssc * float(scores @ scores)) / abs(zd)


def _cluster_assignment(part: _Partialled) -> np.ndarray:
    """The observed instrument per family; errors when it varies within a family."""
    g = part.n_clusters_total
    means = np.bincount(part.codes, weights=part.z, minlength=g) / np.maximum(part.sizes, 1)
    deviation = np.abs(part.z - means[part.codes])
    if deviation.max() > 1e-9:
        mixed = np.unique(part.codes[deviation > 1e-9])
        raise InferenceError(
            f"The instrument varies within {mixed.size} cluster(s) (e.g. codes "
            f"{mixed[:5].tolist()}), but randomisation inference re-draws it per cluster. "
            "Fix: cluster by the unit of randomisation (family_id), or check the access column."
        )
    return means


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise InferenceError(
            f"alternative={alternative!r} is not one of {_ALTERNATIVES}. Fix: pick one of them."
        )


def _chunks(n_draws: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    if chunk_size < 1:
        raise InferenceError(f"chunk_size={chunk_size} must be at least 1.")
    for start in range(0, n_draws, chunk_size):
        yield start, min(start + chunk_size, n_draws)


# ---------------------------------------------------------------------------------------------
# Randomisation inference
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomisationResult:
    """Fisher randomisation test of the sharp null that access changes no outcome.

    Attributes
    ----------
    statistic : str
        ``"coef"`` (ITT coefficient of access given the controls) or ``"t"`` (its CR1 t-ratio).
    observed : float
        The statistic for the actual assignment.
    pvalue : float
        ``(1 + #{draws at least as extreme}) / (1 + n_draws)``.
    n_draws : int
        Number of re-randomised assignments.
    null_draws : ndarray
        The statistic under each re-drawn assignment (its randomisation distribution).
    alternative : str
        ``"two-sided"`` (|T*| >= |T|), ``"greater"`` or ``"less"``.
    n_clusters, n_treated_clusters : int
        Families in the design and families with access.
    seed : int or None
        Seed of the draws (None when assignments were given explicitly).
    """

    statistic: str
    observed: float
    pvalue: float
    n_draws: int
    null_draws: np.ndarray = field(repr=False)
    alternative: str
    n_clusters: int
    n_treated_clusters: int
    seed: int | None

    @property
    def mc_se(self) -> float:
        """Monte Carlo standard error of the p-value (from the finite number of draws)."""
        return math.sqrt(self.pvalue * (1 - self.pvalue) / self.n_draws)

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "observed": self.observed,
            "pvalue": self.pvalue,
            "mc_se": self.mc_se,
            "n_draws": self.n_draws,
            "alternative": self.alternative,
            "n_clusters": self.n_clusters,
            "n_treated_clusters": self.n_treated_clusters,
            "seed": self.seed,
        }


def _strata_of_clusters(part: _Partialled, strata: Any) -> np.ndarray:
    """Cluster-level stratum codes (-1 for clusters absent from the design)."""
    g = part.n_clusters_total
    if strata is None:
        return np.where(part.present, 0, -1)
    values = np.asarray(strata).reshape(-1)
    if values.shape[0] != part.n:
        raise InferenceError(
            f"strata has {values.shape[0]} entries but the design has {part.n} rows. Fix: pass "
            "one stratum label per design row (e.g. data.loc[design.index, 'school'])."
        )
    _, codes = np.unique(values, return_inverse=True)
    first = np.full(g, -1)
    first[part.codes[::-1]] = codes[::-1]
    if np.any(first[part.codes] != codes):
        raise InferenceError(
            "strata vary within a family/cluster; families are randomised as a whole, so each "
            "family must lie in one stratum. Fix: stratify by a family-level variable."
        )
    return first


def _assignment_chunks(
    observed: np.ndarray,
    strata: np.ndarray,
    n_draws: int,
    rng: np.random.Generator,
    chunk_size: int,
) -> Iterator[np.ndarray]:
    """Complete randomisation of families within strata, keeping the observed number of
    families with access in each stratum; yields (m, G) arrays of 0/1 assignments."""
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata[strata >= 0])]
    base = np.zeros(observed.shape[0], dtype=np.int8)
    base[strata >= 0] = np.rint(observed[strata >= 0]).astype(np.int8)
    whole = len(groups) == 1 and groups[0].size == base.size  # one stratum, no gaps
    for start, stop in _chunks(n_draws, chunk_size):
        block = np.tile(base, (stop - start, 1))
        if whole:
            rng.permuted(block, axis=1, out=block)  # in place: no copies of the block
        else:
            for cols in groups:
                block[:, cols] = rng.permuted(block[:, cols], axis=1)
        yield block


def draw_assignments(
    design: Any, n_draws: int = 10_000, seed: int = DEFAULT_SEED, strata: Any = None
) -> np.ndarray:
    """The family-level access assignments that ``randomisation_inference`` uses.

    Families (clusters of the design) are completely randomised, within strata if given,
    keeping the observed number of families with access (per stratum).

    Returns
    -------
    ndarray (n_draws, n_clusters) of int8
        Row b is draw b: 1 if family (cluster code) j gets access.
    """
    part = _Partialled(_arrays(design, need_treatment=False))
    observed = _cluster_assignment(part)
    _check_binary(observed)
    rng = np.random.default_rng(seed)
    strata_codes = _strata_of_clusters(part, strata)
    return np.vstack(list(_assignment_chunks(observed, strata_codes, n_draws, rng, DEFAULT_CHUNK)))


def _check_binary(observed: np.ndarray) -> None:
    if not np.all(np.isin(observed, (0.0, 1.0))):
        raise InferenceError(
            "Randomisation inference re-draws a binary assignment, but the instrument takes "
            f"values {np.unique(observed)[:6].tolist()}. Fix: use the 0/1 access column."
        )


def _ri_statistics(part: _Partialled, block: np.ndarray, statistic: str) -> np.ndarray:
    """ITT statistic of y on a re-drawn 0/1 z (given x) for each row of block (m, G)."""
    f = block.astype(float)
    # one product gives z*'M_x y, z*'z* (= f @ sizes for 0/1 f) and Q'z*
    products = f @ part.ri_matrix
    num, size, proj = products[:, 0], products[:, 1], products[:, 2:]
    den = size - np.einsum("ij,ij->i", proj, proj)  # z*'M_x z*
    coef = num / den
    if statistic == "coef":
        return coef
    zt = f[:, part.codes] - proj @ part.q.T  # (m, n): M_x z* per draw
    resid = part.yt[None, :] - coef[:, None] * zt
    scores = part.indicator @ (zt * resid).T  # (G, m)
    se = np.sqrt(part.ssc * np.einsum("gm,gm->m", scores, scores)) / den
    return coef / se


def _ri_pvalue(observed: float, draws: np.ndarray, alternative: str) -> float:
    tol = 1e-10 * (1.0 + abs(observed))
    if alternative == "two-sided":
        extreme = np.abs(draws) >= abs(observed) - tol
    elif alternative == "greater":
        extreme = draws >= observed - tol
    else:
        extreme = draws <= observed + tol
    return float((1 + extreme.sum()) / (1 + draws.size))


def randomisation_inference(
    design: Any,
    n_draws: int = 10_000,
    seed: int = DEFAULT_SEED,
    assign: Callable[[np.random.Generator, int], np.ndarray] | np.ndarray | None = None,
    strata: Any = None,
    statistic: str = "coef",
    alternative: str = "two-sided",
    chunk_size: int = DEFAULT_CHUNK,
) -> RandomisationResult:
    """Fisher randomisation test of the sharp null that access changes nothing.

    The access assignment is re-drawn as the experiment drew it: whole families (the clusters
    of the design), completely randomised with the observed number of families with access
    (within ``strata`` if given). For a subgroup design this is the randomisation conditional
    on the number of its families with access, which is exactly valid because families were
    randomised as a whole. The statistic is the ITT: the coefficient of access after
    partialling out the controls (or, with ``statistic="t"``, its CR1 t-ratio). Under the
    sharp null with one-sided non-compliance the outcome does not depend on access, so
    re-drawing access and recomputing the ITT is valid. (The IV coefficient itself is not a
    valid statistic for this null, so none is offered.) The design is taken as given: if
    questionnaire response depended on access, the test is conditional on the respondents.

    Parameters
    ----------
    design : estimate.Design or object with arrays y, z, x, clusters
        The model; ``x`` includes the constant.
    n_draws : int
        Number of re-drawn assignments (ignored when ``assign`` is an array).
    seed : int
        Seed of the draws.
    assign : None, callable or ndarray
        None: complete randomisation of families as described. A callable
        ``assign(rng, m) -> (m, G)`` array of 0/1 family assignments (a custom design). An
        ndarray ``(n_draws, G)``: these assignments, e.g. from ``draw_assignments``.
    strata : array-like (n,), optional
        Stratum of each row (constant within families), e.g. the school.
    statistic : {"coef", "t"}
        ITT coefficient or its studentised version.
    alternative : {"two-sided", "greater", "less"}
    chunk_size : int
        Draws evaluated at once (memory ~ chunk_size x families floats, x rows for "t").

    Returns
    -------
    RandomisationResult
    """
    return randomisation_inference_many(
        {"design": design},
        n_draws=n_draws,
        seed=seed,
        assign=assign,
        strata={"design": strata},
        statistic=statistic,
        alternative=alternative,
        chunk_size=chunk_size,
    )["design"]


def randomisation_inference_many(
    designs: Mapping[str, Any],
    n_draws: int = 10_000,
    seed: int = DEFAULT_SEED,
    assign: Callable[[np.random.Generator, int], np.ndarray] | np.ndarray | None = None,
    strata: Mapping[str, Any] | None = None,
    statistic: str = "coef",
    alternative: str = "two-sided",
    chunk_size: int = DEFAULT_CHUNK,
    n_jobs: int = 2,
) -> dict[str, RandomisationResult]:
    """``randomisation_inference`` for several designs, e.g. the four Table 1 columns.

    Each design gets the draws that ``randomisation_inference(design, seed=seed)`` would give,
    so the results do not depend on which other designs are in the call.

    Parameters
    ----------
    designs : mapping of name → design
    strata : mapping of name → strata array, optional
    n_jobs : int
        Designs evaluated concurrently (threads; the results do not depend on it).
    Other parameters as in ``randomisation_inference``.

    Returns
    -------
    dict of name → RandomisationResult
    """
    if statistic not in ("coef", "t"):
        raise InferenceError(f"statistic={statistic!r}; use 'coef' or 't'.")
    _check_alternative(alternative)
    strata = strata or {}
    if isinstance(assign, np.ndarray):
        assign = _binary_block(assign)

    def run(name: str) -> RandomisationResult:
        return _randomisation_one(
            name,
            designs[name],
            n_draws,
            seed,
            assign,
            strata.get(name),
            statistic,
            alternative,
            chunk_size,
        )

    names = list(designs)
    workers = max(1, min(n_jobs, len(names)))
    if workers == 1:
        return {name: run(name) for name in names}
    # numpy's shuffles and BLAS release the GIL: threads use both cores without copying data
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(names, pool.map(run, names), strict=True))


def _randomisation_one(
    name: str,
    design: Any,
    n_draws: int,
    seed: int,
    assign: Callable | np.ndarray | None,
    strata: Any,
    statistic: str,
    alternative: str,
    chunk_size: int,
) -> RandomisationResult:
    part = _Partialled(_arrays(design, need_treatment=False))
    observed_assignment = _cluster_assignment(part)
    _check_binary(observed_assignment[part.present])
    observed = float(_ri_statistics(part, observed_assignment[None, :], statistic)[0])
    g = part.n_clusters_total
    if isinstance(assign, np.ndarray):
        if assign.ndim != 2 or assign.shape[1] != g:
            raise InferenceError(
                f"assign has shape {assign.shape}; design {name!r} has {g} clusters. Fix: "
                "pass an (n_draws, n_clusters) array, e.g. from draw_assignments(design)."
            )
        total = assign.shape[0]
        blocks: Iterator[np.ndarray] = (
            assign[a:b] for a, b in _chunks(assign.shape[0], chunk_size)
        )
        used_seed = None
    else:
        rng = np.random.default_rng(seed)
        total = n_draws
        used_seed = seed
        if assign is None:
            codes = _strata_of_clusters(part, strata)
            blocks = _assignment_chunks(observed_assignment, codes, n_draws, rng, chunk_size)
        else:
            blocks = (_custom_block(assign, rng, b - a, g) for a, b in _chunks(n_draws, chunk_size))
    draws = np.empty(total)
    position = 0
    for block in blocks:
        draws[position : position + block.shape[0]] = _ri_statistics(part, block, statistic)
        position += block.shape[0]
    return RandomisationResult(
        statistic=statistic,
        observed=observed,
        pvalue=_ri_pvalue(observed, draws, alternative),
        n_draws=total,
        null_draws=draws,
        alternative=alternative,
        n_clusters=part.n_clusters,
        n_treated_clusters=int(observed_assignment[part.present].sum()),
        seed=used_seed,
    )


def _custom_block(assign: Callable, rng: np.random.Generator, m: int, g: int) -> np.ndarray:
    block = np.asarray(assign(rng, m))
    if block.shape != (m, g):
        raise InferenceError(
            f"assign(rng, {m}) returned shape {block.shape}; expected ({m}, {g}) family "
            "assignments (one row per draw, one column per cluster code)."
        )
    return _binary_block(block)


def _binary_block(block: np.ndarray) -> np.ndarray:
    if not np.all((block == 0) | (block == 1)):
        raise InferenceError(
            "Re-drawn assignments must be 0/1 (access or not) per family. Fix: return 0/1 "
            "values from assign."
        )
    return block


# ---------------------------------------------------------------------------------------------
# Wild cluster bootstrap (WCR for the ITT, WRE for the IV coefficient)
# ---------------------------------------------------------------------------------------------


def _weight_chunks(
    weights: str | np.ndarray, g: int, n_draws: int, seed: int, chunk_size: int
) -> Iterator[np.ndarray]:
    """Yields (G, m) blocks of family-level bootstrap weights."""
    if isinstance(weights, np.ndarray):
        if weights.ndim != 2 or weights.shape[1] != g:
            raise InferenceError(
                f"weights array has shape {weights.shape}; expected (n_draws, {g}) (one column "
                "per family/cluster code)."
            )
        for a, b in _chunks(weights.shape[0], chunk_size):
            yield np.asarray(weights[a:b], dtype=float).T
        return
    table = {"rademacher": _RADEMACHER, "webb": _WEBB}.get(weights)
    if table is None:
        raise InferenceError(f"weights={weights!r}; use 'rademacher', 'webb' or an array.")
    rng = np.random.default_rng(seed)
    for a, b in _chunks(n_draws, chunk_size):
        yield table[rng.integers(0, table.size, size=(b - a, g))].T


class _WildSums:
    """Per-draw sums from which the restricted wild bootstrap t-statistic of the ITT (WCR) and
    of the IV coefficient (WRE) follow in closed form for any null value.

    For a family-level weight vector v and any residual vector w, the family score of the
    bootstrap regression is ``sum_{i in g} zt_i [M_x (w * v)]_i = a^w_g v_g - R_g' W^w v``,
    linear in w. With w in {yt, dt, zt} this gives three (G, m) matrices Y, D, Z per chunk;
    every bootstrap t-statistic is then a function of their pairwise family sums (and of
    their sums with c_g = sum zt^2) and of the linear forms a'v, which are kept per draw.
    """

    names = ("Y", "D", "Z", "C")

    def __init__(
        self,
        part: _Partialled,
        weights: str | np.ndarray,
        n_draws: int,
        seed: int,
        chunk_size: int,
        with_treatment: bool,
    ):
        self.part = part
        g = part.n_clusters_total
        wy = (part.indicator @ (part.yt[:, None] * part.q)).T  # (r, G)
        wz = part.r_mat.T
        bases = {"Y": (part.a_y, wy), "Z": (part.c, wz)}
        if with_treatment:
            wd = (part.indicator @ (part.dt[:, None] * part.q)).T
            bases["D"] = (part.a_d, wd)
        keys = [k for k in self.names if k in bases or k == "C"]
        self.quad: dict[tuple[str, str], list[np.ndarray]] = {}
        self.lin: dict[str, list[np.ndarray]] = {k: [] for k in bases}
        pairs = [(a, b) for i, a in enumerate(keys) for b in keys[i:]]
        for pair in pairs:
            self.quad[pair] = []
        count = 0
        for v in _weight_chunks(weights, g, n_draws, seed, chunk_size):
            count += v.shape[1]
            mats = {}
            for key, (a_vec, w_mat) in bases.items():
                mats[key] = a_vec[:, None] * v - part.r_mat @ (w_mat @ v)
                self.lin[key].append(a_vec @ v)
            mats["C"] = np.broadcast_to(part.c[:, None], v.shape)
            for a, b in pairs:
                self.quad[(a, b)].append(np.einsum("gm,gm->m", mats[a], mats[b]))
        self.n_draws = count
        self.lin_arr = {k: np.concatenate(v) for k, v in self.lin.items()}
        self.quad_arr = {k: np.concatenate(v) for k, v in self.quad.items()}

    def _q(self, a: str, b: str) -> np.ndarray:
        return self.quad_arr[(a, b)] if (a, b) in self.quad_arr else self.quad_arr[(b, a)]

    def _sum_sq(self, coefs: Mapping[str, Any]) -> np.ndarray:
        """sum_g (sum_k coef_k M_k)^2 per draw, for per-draw or scalar coefficients."""
        total = 0.0
        keys = list(coefs)
        for i, a in enumerate(keys):
            for b in keys[i:]:
                factor = 1.0 if a == b else 2.0
                total = total + factor * coefs[a] * coefs[b] * self._q(a, b)
        return total

    def itt_t(self, null: float) -> np.ndarray:
        """WCR t-statistics for H0: ITT = null (restricted residuals yt - null*zt)."""
        p = self.part
        # numerator: coef* - null = (a_y - null c)'v / zz
        delta = (self.lin_arr["Y"] - null * self.lin_arr["Z"]) / p.zz
        # scores: (Y - null Z) - delta * C
        sum_sq = self._sum_sq({"Y": 1.0, "Z": -null, "C": -delta})
        return delta * p.zz / np.sqrt(p.ssc * np.maximum(sum_sq, 0.0))

    def pi_restricted(self, null: float) -> float:
        """First-stage coefficient of z from d ~ z + x + u_restricted (the 'efficient' first
        stage of the WRE)."""
        p = self.part
        u = p.yt - null * p.dt
        zu, uu = float(p.zt @ u), float(u @ u)
        zd, ud = float(p.a_d.sum()), float(u @ p.dt)
        det = p.zz * uu - zu * zu
        if uu <= 1e-14 * max(float(p.yt @ p.yt), 1e-300) or det <= 1e-14 * p.zz * uu:
            return zd / p.zz
        return (uu * zd - zu * ud) / det

    def iv_t(self, null: float) -> np.ndarray:
        """WRE t-statistics for H0: IV coefficient = null."""
        p = self.part
        pi = self.pi_restricted(null)
        lin_u = self.lin_arr["Y"] - null * self.lin_arr["D"]  # a'v, a = a_y - null a_d
        zd_star = pi * p.zz + self.lin_arr["D"] - pi * self.lin_arr["Z"]  # zt'd*
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = lin_u / zd_star
            # scores: (Y - null D) - delta * (pi C + D - pi Z)
            sum_sq = self._sum_sq({"Y": 1.0, "D": -null - delta, "Z": delta * pi, "C": -delta * pi})
            t = delta * np.abs(zd_star) / np.sqrt(p.ssc * np.maximum(sum_sq, 0.0))
        return np.nan_to_num(t, nan=0.0, posinf=np.inf, neginf=-np.inf)


@dataclass(frozen=True)
class BootstrapResult:
    """Restricted wild cluster bootstrap test and test-inversion interval.

    Attributes
    ----------
    target : str
        ``"itt"`` (coefficient of access, WCR bootstrap) or ``"iv"`` (2SLS coefficient of app
        use, WRE bootstrap of Davidson & MacKinnon 2010).
    method : str
        Description of the bootstrap.
    estimate, se, tstat : float
        Point estimate, CR1 standard error and t-ratio for ``null``.
    null : float
        Null value tested.
    pvalue : float
        Share of bootstrap t-statistics at least as extreme as the observed one.
    ci_low, ci_high : float
        Bootstrap interval by test inversion (may be infinite for a weak instrument); NaN
        when not requested.
    level : float
    n_draws : int
    weights : str
    n_clusters : int
    t_draws : ndarray
        Bootstrap t-statistics under the null.
    """

    target: str
    method: str
    estimate: float
    se: float
    tstat: float
    null: float
    pvalue: float
    ci_low: float
    ci_high: float
    level: float
    n_draws: int
    weights: str
    n_clusters: int
    seed: int | None
    t_draws: np.ndarray = field(repr=False)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "target",
                "method",
                "estimate",
                "se",
                "tstat",
                "null",
                "pvalue",
                "ci_low",
                "ci_high",
                "level",
                "n_draws",
                "weights",
                "n_clusters",
                "seed",
            )
        }


def _boot_pvalue(t_obs: float, t_draws: np.ndarray, alternative: str) -> float:
    if alternative == "two-sided":
        return float(np.mean(np.abs(t_draws) >= abs(t_obs)))
    if alternative == "greater":
        return float(np.mean(t_draws >= t_obs))
    return float(np.mean(t_draws <= t_obs))


def _invert(
    pvalue_at: Callable[[float], float], estimate: float, se: float, alpha: float, tol: float = 1e-6
) -> tuple[float, float]:
    """Interval {b: p(b) > alpha} found outward from the estimate (bracketing, then bisection).
    A side is infinite when the p-value stays above alpha up to 2^30 standard errors."""
    scale = se if np.isfinite(se) and se > 0 else max(abs(estimate), 1.0)
    bounds = []
    for direction in (-1.0, 1.0):
        inside, step, outside = estimate, scale, None
        for _ in range(31):
            candidate = estimate + direction * step
            if pvalue_at(candidate) <= alpha:
                outside = candidate
                break
            inside, step = candidate, step * 2
        if outside is None:
            bounds.append(direction * math.inf)
            continue
        while abs(outside - inside) > tol * scale:
            middle = 0.5 * (inside + outside)
            if pvalue_at(middle) <= alpha:
                outside = middle
            else:
                inside = middle
        bounds.append(0.5 * (inside + outside))
    return bounds[0], bounds[1]


def wild_bootstrap(
    design: Any,
    target: str = "itt",
    null: float = 0.0,
    n_draws: int = 9_999,
    seed: int = DEFAULT_SEED,
    weights: str | np.ndarray = "rademacher",
    level: float = 0.95,
    ci: bool = True,
    alternative: str = "two-sided",
    chunk_size: int = DEFAULT_CHUNK,
) -> BootstrapResult:
    """Restricted wild cluster bootstrap (clusters = families) for the ITT or the IV estimate.

    ``target="itt"``: the WCR bootstrap (wild cluster restricted, CR1 t-statistic; Cameron,
    Gelbach & Miller 2008; Roodman et al. 2019 "WCR11") of the coefficient of access in
    ``y ~ access + controls``, the null imposed on the bootstrap data.

    ``target="iv"``: the WRE bootstrap of Davidson & MacKinnon (2010) for the 2SLS coefficient
    of app use: the structural residuals are restricted by the null, the first stage is
    re-estimated with the restricted residuals as an extra regressor (the "efficient" first
    stage), both equations' residuals get the same family weight, and the CR1 2SLS t-statistic
    is recomputed on each bootstrap sample.

    Both are evaluated in closed form from family-level sums (see ``_WildSums``): the cost per
    draw is O(families), and the p-value for any other null value costs O(draws), so the
    interval (inverting the test) is cheap.

    Parameters
    ----------
    design : estimate.Design or object with arrays y, d, z, x, clusters
    target : {"itt", "iv"}
    null : float
        Null value of the coefficient for ``pvalue``.
    n_draws : int
        Bootstrap draws (ignored when ``weights`` is an array).
    seed : int
    weights : {"rademacher", "webb"} or ndarray (n_draws, G)
        Family weights; Webb's six-point weights are better with few families.
    level : float
        Confidence level of the interval.
    ci : bool
        Compute the interval by test inversion.
    alternative : {"two-sided", "greater", "less"}
        Two-sided is the symmetric test ``|t*| >= |t|``.
    chunk_size : int

    Returns
    -------
    BootstrapResult
    """
    if target not in ("itt", "iv"):
        raise InferenceError(f"target={target!r}; use 'itt' or 'iv'.")
    _check_alternative(alternative)
    part = _Partialled(_arrays(design, need_treatment=target == "iv"))
    sums = _WildSums(part, weights, n_draws, seed, chunk_size, with_treatment=target == "iv")
    if target == "itt":
        estimate, se = part.itt()
        t_of = sums.itt_t
        method = "WCR wild cluster bootstrap (restricted, CR1 t) of the ITT coefficient"
    else:
        estimate, se = part.iv()
        t_of = sums.iv_t
        method = (
            "WRE wild restricted efficient cluster bootstrap (Davidson-MacKinnon 2010), CR1 2SLS t"
        )

    def pvalue_at(b0: float) -> float:
        return _boot_pvalue((estimate - b0) / se, t_of(b0), alternative)

    t_draws = t_of(null)
    pvalue = _boot_pvalue((estimate - null) / se, t_draws, alternative)
    ci_low = ci_high = float("nan")
    if ci:
        if alternative != "two-sided":
            raise InferenceError("The interval inverts the two-sided test; use ci=False.")
        ci_low, ci_high = _invert(pvalue_at, estimate, se, 1 - level)
    return BootstrapResult(
        target=target,
        method=method,
        estimate=estimate,
        se=se,
        tstat=(estimate - null) / se,
        null=null,
        pvalue=pvalue,
        ci_low=ci_low,
        ci_high=ci_high,
        level=level,
        n_draws=sums.n_draws,
        weights=weights if isinstance(weights, str) else "given",
        n_clusters=part.n_clusters,
        seed=seed if isinstance(weights, str) else None,
        t_draws=t_draws,
    )


# ---------------------------------------------------------------------------------------------
# Cluster-robust Anderson–Rubin confidence set
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AndersonRubinResult:
    """Cluster-robust Anderson–Rubin confidence set for the IV coefficient.

    The set is {b: the CR1 Wald test of access in ``y - b*d ~ access + controls`` does not
    reject}. With one instrument the statistic is a ratio of quadratics in b, so the set is
    one of: ``"interval"``, ``"union of two rays"`` (weak first stage: everything outside an
    interval), ``"whole line"`` (first stage too weak to say anything), ``"ray"`` (boundary
    case) or ``"empty"``.

    Attributes
    ----------
    shape : str
    intervals : tuple of (low, high)
        The set as disjoint closed intervals (infinite ends for rays).
    level : float
    critical_value : float
        Of the Wald statistic (chi2(1) or F(1, G-1) quantile).
    distribution : str
    first_stage_wald : float
        CR1 Wald statistic of the first stage; the set is bounded iff it exceeds the
        critical value.
    estimate : float
        2SLS estimate (where the AR statistic is zero).
    n_clusters : int
    """

    shape: str
    intervals: tuple[tuple[float, float], ...]
    level: float
    critical_value: float
    distribution: str
    first_stage_wald: float
    estimate: float
    n_clusters: int
    _parts: tuple[float, ...] = field(repr=False)

    @property
    def ci_low(self) -> float:
        return self.intervals[0][0] if self.intervals else float("nan")

    @property
    def ci_high(self) -> float:
        return self.intervals[-1][1] if self.intervals else float("nan")

    @property
    def bounded(self) -> bool:
        return self.shape in ("interval", "empty")

    def statistic(self, beta0: float | np.ndarray) -> float | np.ndarray:
        """The AR (CR1 Wald) statistic for H0: coefficient = beta0."""
        gy, gd, zz, ssc, syy, syd, sdd = self._parts
        b = np.asarray(beta0, dtype=float)
        value = (gy - b * gd) ** 2 * zz**2 / (ssc * (syy - 2 * b * syd + b * b * sdd))
        return float(value) if value.ndim == 0 else value

    def pvalue(self, beta0: float | np.ndarray = 0.0) -> float | np.ndarray:
        """AR p-value for H0: coefficient = beta0 (at 0: the test of no effect of app use)."""
        stat = self.statistic(beta0)
        if self.distribution == "chi2":
            return stats.chi2.sf(stat, 1)
        return stats.f.sf(stat, 1, self.n_clusters - 1)

    def contains(self, beta0: float) -> bool:
        return any(lo <= beta0 <= hi for lo, hi in self.intervals)

    def describe(self) -> str:
        parts = " ∪ ".join(f"[{lo:.3g}, {hi:.3g}]" for lo, hi in self.intervals) or "∅"
        return f"{self.shape}: {parts}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary; an infinite end of the set is written as None."""

        def finite(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {
            "shape": self.shape,
            "intervals": [[finite(lo), finite(hi)] for lo, hi in self.intervals],
            "ci_low": finite(self.ci_low),
            "ci_high": finite(self.ci_high),
            "level": self.level,
            "critical_value": self.critical_value,
            "distribution": self.distribution,
            "first_stage_wald": self.first_stage_wald,
            "estimate": self.estimate,
            "pvalue_zero": float(self.pvalue(0.0)),
        }


def anderson_rubin(
    design: Any, level: float = 0.95, distribution: str = "chi2"
) -> AndersonRubinResult:
    """Cluster-robust (CR1) Anderson–Rubin confidence set for the IV coefficient, exactly.

    For each b, regress ``y - b*d`` on access and the controls and test the access coefficient
    with a family-clustered Wald test; the set collects the b that are not rejected. With
    partialled-out reduced form ``gy`` and first stage ``gd`` and their family scores, the
    statistic is ``(gy - b gd)^2 zz^2 / (ssc * sum_g (s_y,g - b s_d,g)^2)``; the set solves the
    quadratic inequality ``A b^2 + B b + C <= 0``. Valid however weak the first stage is.

    Parameters
    ----------
    design : estimate.Design or object with arrays y, d, z, x, clusters
    level : float
    distribution : {"chi2", "f"}
        Reference distribution of the Wald statistic: chi2(1) (as the usual normal-based
        intervals) or F(1, G-1) (small number of families).

    Returns
    -------
    AndersonRubinResult
    """
    if distribution == "chi2":
        crit = float(stats.chi2.ppf(level, 1))
    elif distribution == "f":
        crit = None
    else:
        raise InferenceError(f"distribution={distribution!r}; use 'chi2' or 'f'.")
    part = _Partialled(_arrays(design))
    if crit is None:
        crit = float(stats.f.ppf(level, 1, part.n_clusters - 1))
    gy, gd = part.a_y.sum() / part.zz, part.a_d.sum() / part.zz
    sy = part.a_y - gy * part.c
    sd = part.a_d - gd * part.c
    syy, syd, sdd = float(sy @ sy), float(sy @ sd), float(sd @ sd)
    zz2, k = part.zz**2, crit * part.ssc
    a = gd * gd * zz2 - k * sdd
    b = -2 * gy * gd * zz2 + 2 * k * syd
    c = gy * gy * zz2 - k * syy
    scale = gd * gd * zz2 + k * sdd
    inf = math.inf
    if abs(a) <= 1e-12 * scale:
        if abs(b) <= 1e-12 * (abs(gy * gd) * zz2 + k * abs(syd) + 1e-300):
            shape, intervals = ("whole line", ((-inf, inf),)) if c <= 0 else ("empty", ())
        else:
            root = -c / b
            shape = "ray"
            intervals = ((-inf, root),) if b > 0 else ((root, inf),)
    else:
        disc = b * b - 4 * a * c
        if a > 0:
            if disc < 0:
                shape, intervals = "empty", ()
            else:
                r = math.sqrt(disc)
                lo, hi = sorted(((-b - r) / (2 * a), (-b + r) / (2 * a)))
                shape, intervals = "interval", ((lo, hi),)
        elif disc <= 0:
            shape, intervals = "whole line", ((-inf, inf),)
        else:
            r = math.sqrt(disc)
            lo, hi = sorted(((-b - r) / (2 * a), (-b + r) / (2 * a)))
            shape, intervals = "union of two rays", ((-inf, lo), (hi, inf))
    fs_wald = gd * gd * zz2 / (part.ssc * sdd) if sdd > 0 else inf
    estimate = gy / gd if gd != 0 else float("nan")
    return AndersonRubinResult(
        shape=shape,
        intervals=tuple((float(lo), float(hi)) for lo, hi in intervals),
        level=level,
        critical_value=crit,
        distribution=distribution,
        first_stage_wald=float(fs_wald),
        estimate=float(estimate),
        n_clusters=part.n_clusters,
        _parts=(float(gy), float(gd), part.zz, part.ssc, syy, syd, sdd),
    )


# ---------------------------------------------------------------------------------------------
# Multiple testing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MultipleTestingResult:
    """Adjusted p-values for a family of subgroup hypotheses "access has no effect (ITT = 0)".

    With one-sided non-compliance the ITT is zero iff the effect of app use is zero, and the
    CR1 t-test of the ITT is the Anderson–Rubin test of "app use has no effect", valid however
    weak the subgroup's first stage is.

    Attributes
    ----------
    names : tuple of str
    estimates, tstats : dict name → float
        ITT coefficient and CR1 t-ratio in each subgroup.
    pvalues : dict name → float
        Unadjusted resampling p-values (same draws).
    adjusted : dict name → float
        Romano–Wolf stepdown (or single-step max-t, Westfall–Young) adjusted p-values.
    qvalues : dict name → float
        Benjamini–Hochberg q-values of the unadjusted p-values.
    method, resampling : str
    n_draws : int
    """

    names: tuple[str, ...]
    estimates: dict[str, float]
    tstats: dict[str, float]
    pvalues: dict[str, float]
    adjusted: dict[str, float]
    qvalues: dict[str, float]
    method: str
    resampling: str
    n_draws: int
    seed: int | None

    def survivors(self, alpha: float = 0.05, by: str = "adjusted") -> list[str]:
        """Hypotheses rejected at alpha by the adjusted p-values (or ``by="qvalues"``)."""
        values = getattr(self, by)
        return [n for n in self.names if values[n] <= alpha]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(
            {
                "estimate": self.estimates,
                "tstat": self.tstats,
                "pvalue": self.pvalues,
                "adjusted": self.adjusted,
                "qvalue": self.qvalues,
            }
        ).loc[list(self.names)]


def benjamini_hochberg(pvalues: Sequence[float] | Mapping[str, float] | np.ndarray):
    """Benjamini–Hochberg q-values (step-up false discovery rate adjusted p-values).

    Returns an array in the input order, or a dict when given a mapping.
    """
    if isinstance(pvalues, Mapping):
        keys = list(pvalues)
        return dict(
            zip(keys, benjamini_hochberg(np.array([pvalues[k] for k in keys])), strict=True)
        )
    p = np.asarray(pvalues, dtype=float).reshape(-1)
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise InferenceError("p-values must lie in [0, 1] and be finite.")
    m = p.size
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    q = np.empty(m)
    q[order] = q_sorted
    return q


def _groups_rows(groups: Mapping[str, Any], n: int) -> dict[str, np.ndarray]:
    rows = {}
    for name, mask in groups.items():
        m = np.asarray(mask)
        if m.dtype == bool:
            if m.shape != (n,):
                raise InferenceError(
                    f"Subgroup {name!r}: mask has shape {m.shape}, the design has {n} rows. Fix: "
                    "build it from the design rows, e.g. (data.loc[design.index, 'grade'] == 1)."
                )
            m = np.flatnonzero(m)
        rows[name] = m
    if not rows:
        raise InferenceError("No subgroups given. Fix: pass {name: boolean mask, ...}.")
    return rows


def _stepdown(t_obs: np.ndarray, t_draws: np.ndarray, stepdown: bool, plus_one: bool) -> np.ndarray:
    """Max-|t| adjusted p-values; t_draws is (S, B)."""
    abs_obs, abs_draws = np.abs(t_obs), np.abs(t_draws)
    order = np.argsort(-abs_obs)
    adjusted = np.empty(t_obs.size)
    running = 0.0
    for position, h in enumerate(order):
        pool = order[position:] if stepdown else order
        maxima = abs_draws[pool].max(axis=0)
        count = np.sum(maxima >= abs_obs[h] * (1 - 1e-12))
        p = (1 + count) / (1 + maxima.size) if plus_one else count / maxima.size
        running = max(running, p)
        adjusted[h] = running if stepdown else p
    return adjusted


def romano_wolf(
    design: Any,
    groups: Mapping[str, Any],
    n_draws: int = 9_999,
    seed: int = DEFAULT_SEED,
    resampling: str = "wild",
    weights: str | np.ndarray = "rademacher",
    stepdown: bool = True,
    strata: Any = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> MultipleTestingResult:
    """Romano–Wolf stepdown adjusted p-values for "no effect of access" in each subgroup.

    Each subgroup's ITT is estimated within the subgroup (controls partialled out within it;
    controls constant there, such as grade dummies in a grade subgroup, drop out), and tested
    with its CR1 t-ratio. The draws are shared across subgroups at the family level, so the
    dependence between the tests (siblings in different subgroups, shared families) is kept.

    Parameters
    ----------
    design : estimate.Design or object with arrays y, z, x, clusters
        The full sample; subgroups are rows of it.
    groups : mapping name → boolean mask over the design rows (or row positions)
    resampling : {"wild", "randomisation"}
        ``"wild"``: restricted wild cluster bootstrap, each subgroup's null imposed in its own
        restricted model (WCR), one family weight shared by all subgroups.
        ``"randomisation"``: family-level re-randomisation of access in the whole design
        (complete randomisation with the observed number of families, within ``strata``),
        the statistic recomputed in every subgroup (a test of the sharp nulls).
    stepdown : bool
        Romano–Wolf stepdown (True) or single-step max-t (Westfall–Young single step).
    n_draws, seed, weights, strata, chunk_size
        As in ``wild_bootstrap`` / ``randomisation_inference``.

    Returns
    -------
    MultipleTestingResult
    """
    arrays = _arrays(design, need_treatment=False)
    rows = _groups_rows(groups, arrays.y.shape[0])
    parts = {}
    for name, r in rows.items():
        try:
            parts[name] = _Partialled(arrays, rows=r)
        except InferenceError as error:
            raise InferenceError(f"Subgroup {name!r}: {error}") from error
    names = tuple(parts)
    estimates, tstats = {}, {}
    for name, part in parts.items():
        coef, se = part.itt()
        estimates[name], tstats[name] = coef, coef / se
    t_obs = np.array([tstats[n] for n in names])
    if resampling == "wild":
        t_draws = np.vstack(
            [
                _WildSums(parts[n], weights, n_draws, seed, chunk_size, with_treatment=False).itt_t(
                    0.0
                )
                for n in names
            ]
        )
        plus_one = False
        used_seed = seed if isinstance(weights, str) else None
    elif resampling == "randomisation":
        full = _Partialled(arrays)
        observed = _cluster_assignment(full)
        _check_binary(observed[full.present])
        strata_codes = _strata_of_clusters(full, strata)
        rng = np.random.default_rng(seed)
        chunks = []
        for block in _assignment_chunks(observed, strata_codes, n_draws, rng, chunk_size):
            chunks.append(np.vstack([_ri_statistics(parts[n], block, "t") for n in names]))
        t_draws = np.hstack(chunks)
        plus_one = True
        used_seed = seed
    else:
        raise InferenceError(f"resampling={resampling!r}; use 'wild' or 'randomisation'.")
    abs_t = np.abs(t_obs)
    counts = (np.abs(t_draws) >= abs_t[:, None] * (1 - 1e-12)).sum(axis=1)
    b = t_draws.shape[1]
    unadjusted = (1 + counts) / (1 + b) if plus_one else counts / b
    adjusted = _stepdown(t_obs, t_draws, stepdown, plus_one)
    q = benjamini_hochberg(unadjusted)
    return MultipleTestingResult(
        names=names,
        estimates=estimates,
        tstats=tstats,
        pvalues=dict(zip(names, map(float, unadjusted), strict=True)),
        adjusted=dict(zip(names, map(float, adjusted), strict=True)),
        qvalues=dict(zip(names, map(float, q), strict=True)),
        method="Romano-Wolf stepdown (max |t|)" if stepdown else "single-step max |t|",
        resampling=resampling,
        n_draws=b,
        seed=used_seed,
    )


# ---------------------------------------------------------------------------------------------
# Attrition: response by access, Lee bounds
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseDifferenceResult:
    """Difference in questionnaire response rates, access minus no access.

    ``se`` is family-clustered (CR1) from the regression of the response dummy on access;
    ``pvalue`` is normal-based; ``ri_pvalue`` is the randomisation p-value (family-level
    re-draws) when requested.
    """

    rate_access: float
    rate_no_access: float
    difference: float
    se: float
    pvalue: float
    ci_low: float
    ci_high: float
    n: int
    n_clusters: int
    ri_pvalue: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def response_difference(
    responded: Any,
    assigned: Any,
    clusters: Any = None,
    level: float = 0.95,
    n_draws: int = 0,
    seed: int = DEFAULT_SEED,
) -> ResponseDifferenceResult:
    """Test whether questionnaire response differs by access (attrition check).

    Parameters
    ----------
    responded, assigned : array-like (n,) of 0/1
        Response dummy and access for all students (respondents and non-respondents), e.g.
        ``students["respondent"]`` and ``students["access"]``.
    clusters : array-like (n,), optional
        Family identifiers (default: each student its own cluster).
    level : float
    n_draws : int
        If positive, also a randomisation p-value with this many family-level re-draws.
    seed : int
    """
    r = np.asarray(responded, dtype=float).reshape(-1)
    z = np.asarray(assigned, dtype=float).reshape(-1)
    for name, v in (("responded", r), ("assigned", z)):
        if v.shape != r.shape or not np.all(np.isin(v, (0.0, 1.0))):
            raise InferenceError(
                f"{name} must be a 0/1 array with one entry per student ({r.size}); it has "
                f"{v.size} entries and values {np.unique(v)[:6].tolist()}."
            )
    cl = None if clusters is None else np.asarray(clusters).reshape(-1)
    if cl is not None and cl.shape != r.shape:
        raise InferenceError(f"clusters has {cl.size} entries; expected {r.size}.")
    design = _SimpleDesign(y=r, d=None, z=z, x=np.ones((r.size, 1)), clusters=cl)
    part = _Partialled(_arrays(design, need_treatment=False))
    diff, se = part.itt()
    zcrit = stats.norm.ppf(0.5 + level / 2)
    ri = None
    if n_draws > 0:
        ri = randomisation_inference(design, n_draws=n_draws, seed=seed).pvalue
    return ResponseDifferenceResult(
        rate_access=float(r[z == 1].mean()),
        rate_no_access=float(r[z == 0].mean()),
        difference=diff,
        se=se,
        pvalue=float(2 * stats.norm.sf(abs(diff / se))),
        ci_low=diff - zcrit * se,
        ci_high=diff + zcrit * se,
        n=int(r.size),
        n_clusters=part.n_clusters,
        ri_pvalue=ri,
    )


@dataclass(frozen=True)
class _SimpleDesign:
    y: np.ndarray
    d: np.ndarray | None
    z: np.ndarray
    x: np.ndarray
    clusters: np.ndarray | None


@dataclass(frozen=True)
class LeeBoundsResult:
    """Lee (2009) bounds on the ITT for students who would answer the questionnaire whatever
    their access ("always-responders"), assuming access affects response in one direction only
    (monotonicity).

    Attributes
    ----------
    lower, upper : float
        Bounds on the ITT (difference in mean outcome, access minus no access).
    trimmed_arm : str
        ``"access"`` or ``"no access"``: the arm with the higher response rate, trimmed.
    trim_share : float
        Share of that arm's respondents trimmed, ``(q_high - q_low) / q_high``.
    response_access, response_no_access : float
    compliance : float or None
        Share using the app among responding students with access (when a treatment is given).
    iv_lower, iv_upper : float or None
        The ITT bounds divided by ``compliance``: bounds on the effect of app use for
        always-responding users under the extra assumption that the compliance rate among
        always-responders equals that among responding students with access.
    ci_low, ci_high : float or None
        Family-bootstrap percentile interval covering the bounds (lower quantile of the lower
        bound, upper quantile of the upper bound) when ``n_boot > 0``.
    """

    lower: float
    upper: float
    trimmed_arm: str
    trim_share: float
    response_access: float
    response_no_access: float
    n_access: int
    n_no_access: int
    compliance: float | None
    iv_lower: float | None
    iv_upper: float | None
    ci_low: float | None
    ci_high: float | None
    n_boot: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _trimmed_mean(values: np.ndarray, share: float, drop: str) -> float:
    """Mean after removing ``share`` of the values from the top (drop="top") or bottom, with
    the boundary observation weighted fractionally (so the trimmed share is exact)."""
    v = np.sort(values)
    if drop == "top":
        v = v[::-1]
    n = v.size
    removed = share * n
    whole = int(math.floor(removed))
    frac = removed - whole
    kept = v[whole:]
    weights = np.ones(kept.size)
    if kept.size:
        weights[0] -= frac
    return float((weights * kept).sum() / (n - removed))


def _lee_point(y, r, z, d):
    q1, q0 = r[z == 1].mean(), r[z == 0].mean()
    y1, y0 = y[(z == 1) & (r == 1)], y[(z == 0) & (r == 1)]
    if y1.size == 0 or y0.size == 0:
        raise InferenceError("Lee bounds need respondents in both arms.")
    if q1 >= q0:
        share = (q1 - q0) / q1
        lower = _trimmed_mean(y1, share, "top") - y0.mean()
        upper = _trimmed_mean(y1, share, "bottom") - y0.mean()
        arm = "access"
    else:
        share = (q0 - q1) / q0
        lower = y1.mean() - _trimmed_mean(y0, share, "bottom")
        upper = y1.mean() - _trimmed_mean(y0, share, "top")
        arm = "no access"
    compliance = None if d is None else float(d[(z == 1) & (r == 1)].mean())
    return lower, upper, arm, share, q1, q0, compliance


def lee_bounds(
    outcome: Any,
    responded: Any,
    assigned: Any,
    treatment: Any = None,
    clusters: Any = None,
    n_boot: int = 0,
    level: float = 0.95,
    seed: int = DEFAULT_SEED,
) -> LeeBoundsResult:
    """Lee (2009) bounds for the ITT of access under differential questionnaire response.

    The arm with the higher response rate is trimmed by the share
    ``(q_high - q_low) / q_high`` of its respondents, from the top (lower bound) or from the
    bottom (upper bound) of its outcome distribution. No controls (as in Lee 2009).

    Parameters
    ----------
    outcome : array-like (n,)
        Outcome for all students; only respondents' values are used (others may be NaN).
    responded, assigned : array-like (n,) of 0/1
    treatment : array-like (n,) of 0/1, optional
        App use; gives the IV rescaling of the bounds (see ``LeeBoundsResult``).
    clusters : array-like (n,), optional
        Families, for the bootstrap (resampling whole families).
    n_boot : int
        Family bootstrap draws for the interval (0: none).
    level : float
    seed : int
    """
    y = np.asarray(outcome, dtype=float).reshape(-1)
    r = np.asarray(responded, dtype=float).reshape(-1)
    z = np.asarray(assigned, dtype=float).reshape(-1)
    d = None if treatment is None else np.asarray(treatment, dtype=float).reshape(-1)
    for name, v in (("responded", r), ("assigned", z)):
        if v.shape != y.shape or not np.all(np.isin(v, (0.0, 1.0))):
            raise InferenceError(f"{name} must be 0/1 with one entry per student ({y.size}).")
    if np.any(~np.isfinite(y[r == 1])):
        bad = np.flatnonzero((r == 1) & ~np.isfinite(y))
        raise InferenceError(
            f"outcome is missing for {bad.size} respondent(s) (positions {bad[:5].tolist()}). "
            "Fix: treat them as non-respondents or impute before bounding."
        )
    lower, upper, arm, share, q1, q0, compliance = _lee_point(y, r, z, d)
    ci_low = ci_high = None
    if n_boot > 0:
        codes = (
            np.arange(y.size)
            if clusters is None
            else np.unique(np.asarray(clusters), return_inverse=True)[1].reshape(-1)
        )
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(codes[order], np.arange(codes.max() + 1))
        sizes = np.bincount(codes)
        rng = np.random.default_rng(seed)
        lows, highs = np.empty(n_boot), np.empty(n_boot)
        g = sizes.size
        for b in range(n_boot):
            picked = rng.integers(0, g, size=g)
            idx = np.concatenate([order[starts[j] : starts[j] + sizes[j]] for j in picked])
            lo, hi, *_ = _lee_point(y[idx], r[idx], z[idx], None)
            lows[b], highs[b] = lo, hi
        alpha = 1 - level
        ci_low = float(np.quantile(lows, alpha / 2))
        ci_high = float(np.quantile(highs, 1 - alpha / 2))
    iv_lower = iv_upper = None
    if compliance:
        iv_lower, iv_upper = lower / compliance, upper / compliance
    return LeeBoundsResult(
        lower=float(lower),
        upper=float(upper),
        trimmed_arm=arm,
        trim_share=float(share),
        response_access=float(q1),
        response_no_access=float(q0),
        n_access=int(((z == 1) & (r == 1)).sum()),
        n_no_access=int(((z == 0) & (r == 1)).sum()),
        compliance=compliance,
        iv_lower=iv_lower,
        iv_upper=iv_upper,
        ci_low=ci_low,
        ci_high=ci_high,
        n_boot=n_boot,
    )


# ---------------------------------------------------------------------------------------------
# Replication probability
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicationResult:
    """Share of simulated replications in which each claim holds (its power).

    Attributes
    ----------
    probability : dict claim_id → float
    mc_se : dict claim_id → float
        Monte Carlo standard error, sqrt(p (1 - p) / n_reps).
    n_reps : int
    seed : int
    holds : dict claim_id → ndarray of bool
        The outcome per replication.
    """

    probability: dict[str, float]
    mc_se: dict[str, float]
    n_reps: int
    seed: int
    holds: dict[str, np.ndarray] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "probability": self.probability,
            "mc_se": self.mc_se,
            "n_reps": self.n_reps,
            "seed": self.seed,
        }


def replication_probability(
    simulate_fn: Callable[[int], Any],
    evaluate_fn: Callable[[Any], Mapping[str, bool]],
    n_reps: int = 200,
    seed: int = DEFAULT_SEED,
) -> ReplicationResult:
    """Share of replications of the whole study in which each claim would hold.

    Parameters
    ----------
    simulate_fn : callable seed → data set
        Simulates one replication (e.g. the synthetic generator at the published effects).
    evaluate_fn : callable data → {claim_id: bool}
        Runs the analysis on one data set and says which claims hold; every replication must
        return the same claim ids.
    n_reps : int
    seed : int
        Replication r uses the r-th seed spawned from ``seed`` (numpy SeedSequence), so the
        replications are independent and reproducible.
    """
    if n_reps < 1:
        raise InferenceError(f"n_reps={n_reps}; need at least 1 replication.")
    seeds = np.random.SeedSequence(seed).generate_state(n_reps, dtype=np.uint32)
    outcomes: dict[str, list[bool]] = {}
    for rep, rep_seed in enumerate(seeds):
        verdicts = dict(evaluate_fn(simulate_fn(int(rep_seed))))
        if rep == 0:
            outcomes = {k: [] for k in verdicts}
        elif set(verdicts) != set(outcomes):
            raise InferenceError(
                f"Replication {rep} returned claims {sorted(verdicts)}, the first returned "
                f"{sorted(outcomes)}. Fix: evaluate_fn must return the same claim ids each time."
            )
        for k, v in verdicts.items():
            outcomes[k].append(bool(v))
    holds = {k: np.array(v, dtype=bool) for k, v in outcomes.items()}
    probability = {k: float(v.mean()) for k, v in holds.items()}
    mc_se = {k: math.sqrt(p * (1 - p) / n_reps) for k, p in probability.items()}
    return ReplicationResult(
        probability=probability, mc_se=mc_se, n_reps=n_reps, seed=seed, holds=holds
    )
