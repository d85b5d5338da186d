"""Invariance properties of parentapp.estimate.iv (hypothesis): row order, outcome shifts and
outcome scaling act on the estimates exactly as the algebra of 2SLS says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parentapp import estimate

SETTINGS = settings(max_examples=25, deadline=None)
COVS = st.sampled_from(["clustered", "robust", "unadjusted"])


def small_trial(seed: int, n_families: int = 80) -> pd.DataFrame:
    """Family-randomised instrument, one-sided take-up, a numeric and a categorical control."""
    rng = np.random.default_rng(seed)
    family = np.repeat(np.arange(n_families), rng.choice([1, 2], n_families))
    n = family.size
    access = rng.integers(0, 2, n_families)[family]
    access[:2] = [0, 1]  # both arms present whatever the seed
    used = access * (rng.random(n) < 0.5)
    used[1] = 1
    grade = rng.choice([1, 2, 3], n)
    x = rng.normal(size=n)
    y = 5 + 2 * used + x + grade + rng.normal(0, 2, n) + rng.normal(0, 1, n_families)[family]
    return pd.DataFrame(
        {"y": y, "d": used, "z": access, "x": x, "grade": grade, "family": family},
        index=pd.Index(rng.permutation(n) + 100, name="row"),
    )


def fit(df: pd.DataFrame, cov: str) -> estimate.IVResult:
    return estimate.iv(
        df, "y", "d", "z", controls=["x"], categorical=["grade"], cluster="family", cov=cov
    )


@SETTINGS
@given(seed=st.integers(0, 10_000), order_seed=st.integers(0, 10_000), cov=COVS)
def test_invariant_to_row_order(seed, order_seed, cov):
    df = small_trial(seed)
    shuffled = df.sample(frac=1.0, random_state=order_seed)
    a, b = fit(df, cov), fit(shuffled, cov)
    assert b.coef == pytest.approx(a.coef, rel=1e-9, abs=1e-9)
    assert b.se == pytest.approx(a.se, rel=1e-9)
    assert b.pvalue == pytest.approx(a.pvalue, rel=1e-7, abs=1e-12)
    assert b.first_stage_f == pytest.approx(a.first_stage_f, rel=1e-9)
    assert b.itt.coef == pytest.approx(a.itt.coef, rel=1e-9, abs=1e-9)
    assert b.nclusters == a.nclusters
    assert set(b.design.index) == set(a.design.index)


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    shift=st.floats(-1e3, 1e3, allow_nan=False).filter(lambda v: abs(v) > 1e-3),
    cov=COVS,
)
def test_adding_a_constant_to_the_outcome_shifts_only_the_intercept(seed, shift, cov):
    df = small_trial(seed)
    a, b = fit(df, cov), fit(df.assign(y=df["y"] + shift), cov)
    tol = {"rel": 1e-7, "abs": 1e-7 * (1 + abs(shift))}
    assert b.intercept == pytest.approx(a.intercept + shift, **tol)
    assert b.coef == pytest.approx(a.coef, **tol)
    assert b.se == pytest.approx(a.se, **tol)
    slopes_a = a.params.drop("const")
    slopes_b = b.params.drop("const")
    assert np.allclose(slopes_b, slopes_a, rtol=1e-7, atol=1e-7 * (1 + abs(shift)))
    assert b.itt.coef == pytest.approx(a.itt.coef, **tol)
    assert b.first_stage.coef == pytest.approx(a.first_stage.coef, rel=1e-12, abs=1e-12)


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    scale=st.floats(-100, 100, allow_nan=False).filter(lambda v: abs(v) > 1e-2),
    cov=COVS,
)
def test_scaling_the_outcome_scales_coefficient_and_se(seed, scale, cov):
    df = small_trial(seed)
    a, b = fit(df, cov), fit(df.assign(y=df["y"] * scale), cov)
    assert b.coef == pytest.approx(a.coef * scale, rel=1e-8, abs=1e-9)
    assert b.se == pytest.approx(a.se * abs(scale), rel=1e-8)
    assert b.tstat == pytest.approx(a.tstat * np.sign(scale), rel=1e-7)
    assert b.pvalue == pytest.approx(a.pvalue, rel=1e-6, abs=1e-12)
    assert b.first_stage_f == pytest.approx(a.first_stage_f, rel=1e-9)
    lo, hi = sorted([a.ci_low * scale, a.ci_high * scale])
    assert b.ci_low == pytest.approx(lo, rel=1e-8, abs=1e-9)
    assert b.ci_high == pytest.approx(hi, rel=1e-8, abs=1e-9)
