"""Tests of parentapp.inference against independent computations and known truths.

The slow path is linearmodels (a refit per draw), wildboottest (an established wild cluster
bootstrap) and statsmodels; the truths are exact enumerations, closed-form power and rejection
rates under a true null.
"""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from linearmodels.iv import IV2SLS
from scipy import stats
from statsmodels.stats.multitest import multipletests
from wildboottest.wildboottest import WildboottestCL

from parentapp import inference as inf


def toy_trial(seed=0, n_families=300, effect=0.0, take_up=0.4, grades=True, strata=False):
    """Families of 1-3 siblings, access randomised per family (half of them), one-sided
    non-compliance (app use only with access), outcome with a family effect."""
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 4, n_families)
    family = np.repeat(np.arange(n_families), size)
    n = family.size
    school = rng.integers(0, 2, n_families)
    access_f = np.zeros(n_families)
    if strata:
        for s in (0, 1):
            members = np.flatnonzero(school == s)
            access_f[rng.choice(members, members.size // 2, replace=False)] = 1
    else:
        access_f[rng.choice(n_families, n_families // 2, replace=False)] = 1
    z = access_f[family]
    x1 = rng.normal(size=n)
    grade = rng.integers(1, 4, n)
    u = rng.normal(size=n_families)[family] + rng.normal(size=n)
    # take-up correlated with the error: app use is endogenous
    d = ((rng.uniform(size=n) < take_up + 0.2 * (u > 0)) & (z == 1)).astype(float)
    y = 1.0 + effect * d + 0.5 * x1 + 0.3 * grade + u
    columns = [np.ones(n), x1]
    if grades:
        columns += [(grade == 2).astype(float), (grade == 3).astype(float)]
    return SimpleNamespace(
        y=y,
        d=d,
        z=z[:, None],
        x=np.column_stack(columns),
        clusters=family,
        grade=grade,
        school=school[family],
    )


def fit_itt(y, z, x, clusters):
    """linearmodels OLS of y on [z, x] with CR1 (debiased) clustered errors."""
    res = IV2SLS(y, np.column_stack([z, x]), None, None).fit(
        cov_type="clustered", clusters=clusters, debiased=True
    )
    return float(res.params.iloc[0]), float(res.tstats.iloc[0])


def fit_iv(y, d, z, x, clusters):
    res = IV2SLS(y, x, d, z).fit(cov_type="clustered", clusters=clusters, debiased=True)
    return float(res.params.iloc[-1]), float(res.std_errors.iloc[-1])


@pytest.fixture(scope="module")
def trial():
    return toy_trial(seed=11)


# --- point estimates and CR1 standard errors -------------------------------------------------


def test_itt_iv_and_first_stage_match_linearmodels(trial):
    boot_itt = inf.wild_bootstrap(trial, "itt", n_draws=99, ci=False)
    boot_iv = inf.wild_bootstrap(trial, "iv", n_draws=99, ci=False)
    coef, t = fit_itt(trial.y, trial.z[:, 0], trial.x, trial.clusters)
    assert boot_itt.estimate == pytest.approx(coef, abs=1e-10)
    assert boot_itt.tstat == pytest.approx(t, abs=1e-8)
    iv_coef, iv_se = fit_iv(trial.y, trial.d, trial.z, trial.x, trial.clusters)
    assert boot_iv.estimate == pytest.approx(iv_coef, abs=1e-10)
    assert boot_iv.se == pytest.approx(iv_se, abs=1e-10)
    assert boot_iv.n_clusters == 300


# --- randomisation inference -----------------------------------------------------------------


@pytest.mark.parametrize("statistic", ["coef", "t"])
def test_randomisation_matches_linearmodels_refit_loop(trial, statistic):
    draws = inf.draw_assignments(trial, n_draws=200, seed=5)
    result = inf.randomisation_inference(trial, n_draws=200, seed=5, statistic=statistic)
    loop = np.empty(200)
    for b, assignment in enumerate(draws):
        coef, t = fit_itt(
            trial.y, assignment[trial.clusters].astype(float), trial.x, trial.clusters
        )
        loop[b] = coef if statistic == "coef" else t
    observed = fit_itt(trial.y, trial.z[:, 0], trial.x, trial.clusters)
    observed = observed[0] if statistic == "coef" else observed[1]
    np.testing.assert_allclose(result.null_draws, loop, rtol=0, atol=1e-8)
    assert result.observed == pytest.approx(observed, abs=1e-8)
    loop_p = (1 + np.sum(np.abs(loop) >= abs(observed) - 1e-10)) / 201
    assert result.pvalue == loop_p


def test_assignment_draws_are_complete_randomisation_of_families(trial):
    draws = inf.draw_assignments(trial, n_draws=4000, seed=3)
    n_treated = int(trial.z[:, 0][np.unique(trial.clusters, return_index=True)[1]].sum())
    assert draws.shape == (4000, 300)
    assert np.all(draws.sum(axis=1) == n_treated)
    # each family has access with probability n_treated / n_families
    share = draws.mean(axis=0)
    assert np.all(np.abs(share - n_treated / 300) < 5 * math.sqrt(0.25 / 4000))


def test_stratified_draws_keep_counts_per_stratum():
    data = toy_trial(seed=2, n_families=120, strata=True)
    draws = inf.draw_assignments(data, n_draws=500, seed=1, strata=data.school)
    first = np.unique(data.clusters, return_index=True)[1]
    school_f, access_f = data.school[first], data.z[first, 0]
    for s in (0, 1):
        assert np.all(draws[:, school_f == s].sum(axis=1) == access_f[school_f == s].sum())


def test_randomisation_pvalue_matches_exact_enumeration():
    # 10 families, 5 with access: 252 possible assignments, enumerated exactly.
    rng = np.random.default_rng(4)
    family = np.repeat(np.arange(10), 2)
    access_f = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1, 0], dtype=float)
    x = np.column_stack([np.ones(20), rng.normal(size=20)])
    y = rng.normal(size=20) + 0.8 * access_f[family]
    design = SimpleNamespace(y=y, z=access_f[family], x=x, clusters=family, d=None)
    observed = fit_itt(y, access_f[family], x, family)[0]
    exact = []
    for treated in itertools.combinations(range(10), 5):
        a = np.zeros(10)
        a[list(treated)] = 1
        exact.append(fit_itt(y, a[family], x, family)[0])
    exact_p = np.mean(np.abs(exact) >= abs(observed) - 1e-10)
    result = inf.randomisation_inference(design, n_draws=20_000, seed=8)
    assert abs(result.pvalue - exact_p) < 4 * math.sqrt(exact_p * (1 - exact_p) / 20_000)


def test_randomisation_many_gives_each_design_its_single_result(trial):
    grade1 = SimpleNamespace(
        y=trial.y[trial.grade == 1],
        z=trial.z[trial.grade == 1],
        x=trial.x[trial.grade == 1],
        clusters=trial.clusters[trial.grade == 1],
        d=None,
    )
    many = inf.randomisation_inference_many({"all": trial, "grade1": grade1}, n_draws=300, seed=2)
    single = inf.randomisation_inference(grade1, n_draws=300, seed=2)
    np.testing.assert_array_equal(many["grade1"].null_draws, single.null_draws)
    assert many["all"].n_clusters == 300
    # inside grade 1 the grade dummies are constant: the partialling must drop them
    coef, _ = fit_itt(grade1.y, grade1.z[:, 0], grade1.x[:, :2], grade1.clusters)
    assert many["grade1"].observed == pytest.approx(coef, abs=1e-10)


def test_randomisation_rejects_instrument_varying_within_family(trial):
    z = trial.z.copy()
    first_sibling = np.flatnonzero(np.bincount(trial.clusters)[trial.clusters] > 1)[0]
    z[first_sibling] = 1 - z[first_sibling]
    bad = SimpleNamespace(y=trial.y, d=trial.d, z=z, x=trial.x, clusters=trial.clusters)
    with pytest.raises(inf.InferenceError, match="varies within 1 cluster"):
        inf.randomisation_inference(bad, n_draws=10)


def test_two_instruments_are_refused(trial):
    two = SimpleNamespace(
        y=trial.y,
        d=trial.d,
        z=np.column_stack([trial.z, trial.z]),
        x=trial.x,
        clusters=trial.clusters,
    )
    with pytest.raises(inf.InferenceError, match="exactly one"):
        inf.anderson_rubin(two)


# --- wild cluster bootstrap ------------------------------------------------------------------


def _wildboottest_t(data, weights_matrix=None, n_draws=999, seed=1):
    """t statistics and p-value from the wildboottest package (WCR, CR1 '11')."""
    exog = np.column_stack([data.z[:, 0], data.x])
    r = np.zeros(exog.shape[1])
    r[0] = 1
    boot = WildboottestCL(
        X=exog, Y=data.y, cluster=data.clusters, R=r, B=n_draws, seed=seed, parallel=False
    )
    boot.get_scores(bootstrap_type="11", impose_null=True)
    if weights_matrix is None:
        boot.get_weights(weights_type="rademacher")
    else:
        boot.get_weights(weights_type=lambda n, rng: weights_matrix.T.ravel())
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue(pval_type="two-tailed")
    return np.asarray(boot.t_boot).ravel(), float(np.asarray(boot.pvalue))


@pytest.fixture(scope="module")
def small_trial():
    # wildboottest loops over pairs of clusters in Python: keep the families few
    return toy_trial(seed=21, n_families=60, effect=0.0)


def test_wcr_bootstrap_equals_wildboottest_on_the_same_weights(small_trial):
    rng = np.random.default_rng(0)
    weights = rng.choice([-1.0, 1.0], size=(400, 60))
    ours = inf.wild_bootstrap(small_trial, "itt", weights=weights, ci=False)
    theirs, _ = _wildboottest_t(small_trial, weights, n_draws=400)
    np.testing.assert_allclose(ours.t_draws, theirs, rtol=1e-8, atol=1e-8)


def test_wcr_bootstrap_pvalue_agrees_with_wildboottest_within_simulation_error(small_trial):
    shifted = SimpleNamespace(
        **{**small_trial.__dict__, "y": small_trial.y + 0.8 * small_trial.z[:, 0]}
    )
    ours = inf.wild_bootstrap(shifted, "itt", n_draws=9999, seed=4, ci=False)
    _, theirs = _wildboottest_t(shifted, n_draws=9999, seed=7)
    se = math.sqrt(2 * ours.pvalue * (1 - ours.pvalue) / 9999)
    assert 0.005 < ours.pvalue < 0.5  # an informative comparison, not two zeros
    assert abs(ours.pvalue - theirs) < 4 * se + 1e-3


def _wre_by_refitting(data, null, weights):
    """The WRE bootstrap built literally: restricted structural fit, efficient first stage,
    bootstrap samples built row by row, each refitted by linearmodels IV2SLS (CR1)."""
    y, d, z, x, cl = data.y, data.d, data.z[:, 0], data.x, data.clusters
    gamma = np.linalg.lstsq(x, y - null * d, rcond=None)[0]
    u = y - null * d - x @ gamma
    fs = np.linalg.lstsq(np.column_stack([z, x, u]), d, rcond=None)[0]
    fitted_d = np.column_stack([z, x]) @ fs[:-1]
    v = d - fitted_d
    t = []
    for w in weights:
        d_star = fitted_d + v * w[cl]
        y_star = null * d_star + x @ gamma + u * w[cl]
        coef, se = fit_iv(y_star, d_star, z[:, None], x, cl)
        t.append((coef - null) / se)
    return np.array(t)


@pytest.mark.parametrize("null", [0.0, 0.7])
def test_wre_bootstrap_equals_refitting_each_bootstrap_sample(trial, null):
    weights = np.random.default_rng(1).choice(inf._WEBB, size=(40, 300))
    ours = inf.wild_bootstrap(trial, "iv", null=null, weights=weights, ci=False)
    np.testing.assert_allclose(
        ours.t_draws, _wre_by_refitting(trial, null, weights), rtol=1e-8, atol=1e-8
    )


@pytest.mark.parametrize("target", ["itt", "iv"])
def test_bootstrap_interval_is_the_inverted_test(trial, target):
    res = inf.wild_bootstrap(trial, target, n_draws=1999, seed=3, level=0.9)
    assert res.ci_low < res.estimate < res.ci_high
    # just inside the bounds the test does not reject at 10 %, just outside it does
    width = res.ci_high - res.ci_low
    for bound, inward in ((res.ci_low, 1), (res.ci_high, -1)):
        inside = inf.wild_bootstrap(
            trial, target, null=bound + inward * 1e-3 * width, n_draws=1999, seed=3, ci=False
        )
        outside = inf.wild_bootstrap(
            trial, target, null=bound - inward * 1e-3 * width, n_draws=1999, seed=3, ci=False
        )
        assert inside.pvalue > 0.1 >= outside.pvalue
    # with 300 families the bootstrap interval is close to the CR1 Wald interval
    wald = (res.estimate - 1.645 * res.se, res.estimate + 1.645 * res.se)
    assert abs(res.ci_low - wald[0]) < 0.15 * width
    assert abs(res.ci_high - wald[1]) < 0.15 * width


# --- Anderson-Rubin --------------------------------------------------------------------------


def _ar_by_grid(data, grid, level=0.95):
    crit = stats.chi2.ppf(level, 1)
    inside = []
    for b in grid:
        _, t = fit_itt(data.y - b * data.d, data.z[:, 0], data.x, data.clusters)
        inside.append(t * t <= crit)
    return np.array(inside)


@pytest.mark.parametrize(
    "take_up, expected_shapes",
    [(0.4, {"interval"}), (0.01, {"union of two rays", "whole line"})],
)
def test_anderson_rubin_set_matches_a_grid_of_linearmodels_tests(take_up, expected_shapes):
    data = toy_trial(seed=5, n_families=150, take_up=take_up)
    if take_up < 0.1:
        # an irrelevant instrument: use does not depend on access at all
        data.d = (np.random.default_rng(0).uniform(size=data.y.size) < 0.2).astype(float)
    ar = inf.anderson_rubin(data)
    assert ar.shape in expected_shapes
    finite = [v for iv in ar.intervals for v in iv if np.isfinite(v)]
    centre = ar.estimate if np.isfinite(ar.estimate) else 0.0
    span = max([abs(v - centre) for v in finite] + [1.0])
    grid = np.linspace(centre - 3 * span, centre + 3 * span, 121)
    grid_inside = _ar_by_grid(data, grid)
    closed_inside = np.array([ar.contains(b) for b in grid])
    near_edge = np.array([min([abs(b - v) for v in finite] + [np.inf]) < 1e-6 * span for b in grid])
    assert np.array_equal(grid_inside[~near_edge], closed_inside[~near_edge])
    assert grid_inside.any() and (ar.shape == "whole line" or not grid_inside.all())
    # the statistic equals the squared linearmodels t-ratio
    _, t = fit_itt(data.y - 0.5 * data.d, data.z[:, 0], data.x, data.clusters)
    assert ar.statistic(0.5) == pytest.approx(t * t, rel=1e-8)


def test_anderson_rubin_with_a_strong_instrument_is_close_to_the_wald_interval():
    data = toy_trial(seed=6, n_families=1500, take_up=0.7, effect=2.0)
    ar = inf.anderson_rubin(data)
    coef, se = fit_iv(data.y, data.d, data.z, data.x, data.clusters)
    assert ar.shape == "interval"
    assert ar.first_stage_wald > 100
    assert ar.ci_low == pytest.approx(coef - 1.96 * se, abs=0.1 * se)
    assert ar.ci_high == pytest.approx(coef + 1.96 * se, abs=0.1 * se)
    assert ar.estimate == pytest.approx(coef, abs=1e-10)


def test_anderson_rubin_f_reference_is_wider_than_chi2(trial):
    chi2 = inf.anderson_rubin(trial)
    f = inf.anderson_rubin(trial, distribution="f")
    assert f.ci_low < chi2.ci_low and f.ci_high > chi2.ci_high
    assert f.pvalue(0.0) > chi2.pvalue(0.0)


# --- multiple testing ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=30))
def test_benjamini_hochberg_matches_statsmodels(pvalues):
    expected = multipletests(pvalues, method="fdr_bh")[1]
    np.testing.assert_allclose(inf.benjamini_hochberg(pvalues), expected, atol=1e-12)


def test_benjamini_hochberg_keeps_names():
    q = inf.benjamini_hochberg({"a": 0.01, "b": 0.04, "c": 0.5})
    assert q == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.5})


def test_romano_wolf_single_and_duplicated_hypotheses(trial):
    upper = trial.grade >= 2
    weights = np.random.default_rng(0).choice([-1.0, 1.0], size=(999, 300))
    single = inf.romano_wolf(trial, {"g23": upper}, weights=weights)
    present = np.unique(trial.clusters[upper])  # the subset design's clusters, in code order
    boot = inf.wild_bootstrap(
        SimpleNamespace(
            y=trial.y[upper],
            z=trial.z[upper],
            x=trial.x[upper],
            clusters=trial.clusters[upper],
            d=None,
        ),
        "itt",
        weights=weights[:, present],
        ci=False,
    )
    coef, t = fit_itt(
        trial.y[upper], trial.z[upper, 0], trial.x[upper][:, [0, 1, 3]], trial.clusters[upper]
    )
    assert single.estimates["g23"] == pytest.approx(coef, abs=1e-10)
    assert single.tstats["g23"] == pytest.approx(t, abs=1e-8)
    assert single.adjusted["g23"] == single.pvalues["g23"] == pytest.approx(boot.pvalue)
    # a hypothesis listed twice is perfectly dependent: no adjustment needed
    twice = inf.romano_wolf(trial, {"a": upper, "b": upper}, weights=weights)
    assert twice.adjusted["a"] == pytest.approx(twice.pvalues["a"])


def test_romano_wolf_independent_hypotheses_follow_sidak():
    # five disjoint sets of families: independent tests, so the single-step max-|t|
    # adjustment is 1 - (1 - p)^5 (Sidak) up to simulation error, and stepdown is not larger
    data = toy_trial(seed=9, n_families=500, grades=False)
    family_group = np.arange(500) % 5
    groups = {f"g{k}": family_group[data.clusters] == k for k in range(5)}
    single = inf.romano_wolf(data, groups, n_draws=2999, seed=2, stepdown=False)
    stepdown = inf.romano_wolf(data, groups, n_draws=2999, seed=2)
    for name in groups:
        p = single.pvalues[name]
        sidak = 1 - (1 - p) ** 5
        assert abs(single.adjusted[name] - sidak) < 0.04
        assert stepdown.adjusted[name] <= single.adjusted[name] + 1e-12
        assert stepdown.adjusted[name] >= stepdown.pvalues[name] - 1e-12


def test_romano_wolf_by_randomisation(trial):
    groups = {f"grade{g}": trial.grade == g for g in (1, 2, 3)}
    res = inf.romano_wolf(trial, groups, n_draws=999, seed=3, resampling="randomisation")
    assert res.resampling == "randomisation"
    for name, mask in groups.items():
        # inside a grade the grade dummies are collinear with the constant and drop out
        coef, t = fit_itt(
            trial.y[mask], trial.z[mask, 0], trial.x[mask][:, :2], trial.clusters[mask]
        )
        assert res.tstats[name] == pytest.approx(t, abs=1e-8)
        assert res.adjusted[name] >= res.pvalues[name]
    frame = res.to_frame()
    assert list(frame.index) == list(groups)


# --- attrition -------------------------------------------------------------------------------


def test_response_difference_matches_clustered_regression(trial):
    rng = np.random.default_rng(3)
    responded = (rng.uniform(size=trial.y.size) < 0.6 + 0.1 * trial.z[:, 0]).astype(float)
    res = inf.response_difference(responded, trial.z[:, 0], trial.clusters, n_draws=999)
    coef, t = fit_itt(responded, trial.z[:, 0], np.ones((trial.y.size, 1)), trial.clusters)
    assert res.difference == pytest.approx(coef, abs=1e-12)
    assert res.difference / res.se == pytest.approx(t, abs=1e-8)
    z = trial.z[:, 0] == 1
    assert res.rate_access - res.rate_no_access == pytest.approx(coef, abs=1e-12)
    assert res.rate_access == pytest.approx(responded[z].mean())
    assert 0 < res.ri_pvalue <= 1


def test_lee_bounds_collapse_without_differential_response():
    y = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    r = np.array([1, 1, 1, 0, 1, 1, 1, 0])
    z = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    res = inf.lee_bounds(y, r, z)
    assert res.trim_share == 0
    assert res.lower == res.upper == pytest.approx(np.mean([1, 2, 3]) - np.mean([5, 6, 7]))


def test_lee_bounds_equal_brute_force_trimming():
    rng = np.random.default_rng(0)
    n = 400
    z = np.repeat([1, 0], n // 2)
    y = rng.normal(size=n)
    # 100 of 200 respond with access, 80 of 200 without: trim 20 % (20 of 100) exactly
    r = np.zeros(n)
    r[rng.choice(200, 100, replace=False)] = 1
    r[200 + rng.choice(200, 80, replace=False)] = 1
    res = inf.lee_bounds(y, r, z)
    treated = np.sort(y[(z == 1) & (r == 1)])
    control_mean = y[(z == 0) & (r == 1)].mean()
    assert res.trimmed_arm == "access" and res.trim_share == pytest.approx(0.2)
    assert res.lower == pytest.approx(treated[:80].mean() - control_mean, abs=1e-12)
    assert res.upper == pytest.approx(treated[20:].mean() - control_mean, abs=1e-12)


def test_lee_bounds_contain_the_always_responder_effect():
    # access makes extra (marginal) students respond; the effect for always-responders is 1.0
    rng = np.random.default_rng(1)
    n = 20_000
    z = rng.integers(0, 2, n)
    y0 = rng.normal(size=n)
    latent = rng.uniform(size=n)
    always = latent < 0.6
    marginal = (latent >= 0.6) & (latent < 0.75)
    r = (always | (marginal & (z == 1))).astype(float)
    y = y0 + 1.0 * z + 2.0 * marginal * z  # marginal responders differ
    d = ((rng.uniform(size=n) < 0.5) & (z == 1)).astype(float)
    res = inf.lee_bounds(
        np.where(r == 1, y, np.nan), r, z, treatment=d, n_boot=50, clusters=np.arange(n) // 2
    )
    assert res.lower < 1.0 < res.upper
    assert res.trim_share == pytest.approx(0.15 / 0.75, abs=0.02)
    assert res.ci_low <= res.lower and res.ci_high >= res.upper
    assert res.iv_lower == pytest.approx(res.lower / res.compliance)


def test_lee_bounds_name_missing_outcomes():
    with pytest.raises(inf.InferenceError, match="missing for 1 respondent"):
        inf.lee_bounds([1.0, np.nan, 2, 3], [1, 1, 1, 1], [1, 1, 0, 0])


# --- replication probability -----------------------------------------------------------------


def test_replication_probability_recovers_analytic_power():
    n, delta, reps = 50, 0.4, 2000

    def simulate(seed):
        return np.random.default_rng(seed).normal(delta, 1.0, size=n)

    def evaluate(sample):
        z = sample.mean() / (1.0 / math.sqrt(n))  # known variance: a z-test
        return {"significant": abs(z) > 1.96, "positive": z > 0}

    res = inf.replication_probability(simulate, evaluate, n_reps=reps, seed=3)
    shift = delta * math.sqrt(n)
    power = stats.norm.sf(1.96 - shift) + stats.norm.cdf(-1.96 - shift)
    assert abs(res.probability["significant"] - power) < 4 * res.mc_se["significant"]
    assert abs(res.probability["positive"] - stats.norm.cdf(shift)) < 0.01
    again = inf.replication_probability(simulate, evaluate, n_reps=reps, seed=3)
    assert again.probability == res.probability


def test_replication_probability_requires_the_same_claims():
    with pytest.raises(inf.InferenceError, match="same claim ids"):
        inf.replication_probability(lambda s: s, lambda s: {f"c{s % 2}": True}, n_reps=20)


# --- validity: rejection rates under a true null ---------------------------------------------


@pytest.mark.slow
def test_tests_reject_at_about_the_nominal_rate_under_a_true_null():
    reps, alpha = 300, 0.10
    rejections = {"ri": 0, "wcr_itt": 0, "wre_iv": 0, "ar": 0, "rw_fwer": 0}
    for rep in range(reps):
        data = toy_trial(seed=1000 + rep, n_families=120, effect=0.0)
        rejections["ri"] += inf.randomisation_inference(data, n_draws=199, seed=rep).pvalue <= alpha
        rejections["wcr_itt"] += (
            inf.wild_bootstrap(data, "itt", n_draws=199, seed=rep, ci=False).pvalue <= alpha
        )
        rejections["wre_iv"] += (
            inf.wild_bootstrap(data, "iv", n_draws=199, seed=rep, ci=False).pvalue <= alpha
        )
        rejections["ar"] += inf.anderson_rubin(data).pvalue(0.0) <= alpha
        groups = {f"grade{g}": data.grade == g for g in (1, 2, 3)}
        rw = inf.romano_wolf(data, groups, n_draws=199, seed=rep)
        rejections["rw_fwer"] += min(rw.adjusted.values()) <= alpha
    band = 3 * math.sqrt(alpha * (1 - alpha) / reps)  # 3 binomial standard errors
    for name, count in rejections.items():
        assert abs(count / reps - alpha) < band + 0.02, (name, count / reps)
    # and the same tests do detect a real effect (so the rates above are not vacuous)
    power = {"ri": 0, "wcr_itt": 0, "wre_iv": 0, "ar": 0}
    for rep in range(40):
        data = toy_trial(seed=5000 + rep, n_families=120, effect=2.5, take_up=0.6)
        power["ri"] += inf.randomisation_inference(data, n_draws=199, seed=rep).pvalue <= alpha
        power["wcr_itt"] += (
            inf.wild_bootstrap(data, "itt", n_draws=199, seed=rep, ci=False).pvalue <= alpha
        )
        power["wre_iv"] += (
            inf.wild_bootstrap(data, "iv", n_draws=199, seed=rep, ci=False).pvalue <= alpha
        )
        power["ar"] += inf.anderson_rubin(data).pvalue(0.0) <= alpha
    assert all(count >= 30 for count in power.values()), power


# --- on the study's own designs (estimate.prepare_design, embedded synthetic trial) ----------


@pytest.fixture(scope="module")
def study_data():
    from parentapp import io, paths, sample

    return sample.build(io.load(paths.DEFAULT_DATA)).data


def test_works_on_the_table1_designs_of_the_estimate_module(study_data):
    from parentapp import estimate

    fits = estimate.table1(study_data)
    designs = {
        key: (
            estimate.prepare_design(study_data, **estimate.STUDY_SPEC)
            if key == "all"
            else estimate.prepare_design(
                study_data, subset=study_data["grade"] == int(key[-1]), **estimate.STUDY_SPEC
            )
        )
        for key in fits
    }
    ri = inf.randomisation_inference_many(designs, n_draws=499, seed=1)
    for key, design in designs.items():
        fit = fits[key]
        boot = inf.wild_bootstrap(design, "iv", n_draws=499, seed=1)
        ar = inf.anderson_rubin(design)
        # the same 2SLS estimate and CR1 standard error as the estimation module
        assert boot.estimate == pytest.approx(fit.coef, abs=1e-8)
        assert boot.se == pytest.approx(fit.se, rel=1e-8)
        assert ar.contains(fit.coef)
        assert ri[key].observed == pytest.approx(fit.itt.coef, abs=1e-8)
        assert ri[key].n_clusters == fit.nclusters


def test_anderson_rubin_summary_is_json_safe_for_unbounded_sets():
    import json

    data = toy_trial(seed=5, n_families=150)
    data.d = (np.random.default_rng(0).uniform(size=data.y.size) < 0.2).astype(float)
    summary = inf.anderson_rubin(data).to_dict()
    assert summary["shape"] in ("union of two rays", "whole line")
    json.loads(json.dumps(summary, allow_nan=False))
