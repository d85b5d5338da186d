"""parentapp.estimate against the truth: closed forms, an independent numpy 2SLS, statsmodels,
and a coverage simulation with a known complier effect."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from parentapp import estimate
from parentapp.estimate import (
    EstimationError,
    NoInstrumentVariationError,
    SubgroupTooSmallError,
    UnknownColumnError,
    ZeroTakeUpError,
)

STUDY_EFFECTS = {1: 10.0, 2: 13.0, 3: -17.0}


def make_trial(seed: int = 0, n_families: int = 500, missing: bool = True) -> pd.DataFrame:
    """A small trial with the study's column names: family-level randomised access,
    one-sided non-compliance that is endogenous (compliers have a higher outcome shock),
    grade-specific effects of app use, and a few missing controls."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3], n_families, p=[0.6, 0.3, 0.1])
    family = np.repeat(np.arange(n_families), sizes)
    n = family.size
    access = rng.integers(0, 2, n_families)[family]
    grade = rng.choice([1, 2, 3], n)
    gender = rng.choice(["boy", "girl"], n)
    track = rng.choice(["vmbo", "havo", "vwo"], n, p=[0.4, 0.3, 0.3])
    school = rng.choice(["A", "B"], n)
    cito = rng.normal(535, 6, n).round()
    age = 11.5 + grade + rng.normal(0, 0.4, n)
    ses = rng.normal(0, 1, n)
    both = (rng.random(n) < 0.8).astype(float)
    shock = rng.normal(size=n)
    complier = rng.random(n) < 0.35 + 0.15 * (shock > 0)
    used = access * complier
    effect = np.vectorize(STUDY_EFFECTS.get)(grade)
    family_effect = rng.normal(0, 5, n_families)[family]
    y = (
        20
        + 0.3 * (cito - 535)
        + 2 * ses
        + 3 * (gender == "girl")
        + 4 * (track == "vwo")
        + effect * used
        + 6 * shock
        + family_effect
        + rng.normal(0, 8, n)
    )
    df = pd.DataFrame(
        {
            "family_id": [f"F{f:04d}" for f in family],
            "school": school,
            "grade": grade,
            "track": track,
            "gender": gender,
            "age": age,
            "cito": cito,
            "both_parents_home": both,
            "ses_score": ses,
            "access": access,
            "app_used": used.astype(int),
            "practice_min_total": y,
        },
        index=pd.RangeIndex(1000, 1000 + n),
    )
    if missing:
        df.loc[df.sample(8, random_state=seed).index, "cito"] = np.nan
        df.loc[df.sample(5, random_state=seed + 1).index, "ses_score"] = np.nan
    return df


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    return make_trial()


# --------------------------------------------------------------------------- reference numpy


def numpy_design(df, outcome, treatment, instruments, controls=(), categorical=(), cluster=None):
    """Listwise deletion and dummies by plain pandas (independent of prepare_design)."""
    columns = [outcome, treatment, *instruments, *controls, *categorical]
    if cluster:
        columns.append(cluster)
    df = df.dropna(subset=columns)
    parts = [np.ones((len(df), 1)), df[list(controls)].to_numpy(float)]
    if categorical:
        dummies = pd.get_dummies(df[list(categorical)].astype(str), drop_first=True, dtype=float)
        dummies = dummies.loc[:, dummies.std() > 0]
        parts.append(dummies.to_numpy())
    x = np.column_stack(parts)
    groups = pd.factorize(df[cluster])[0] if cluster else None
    return (
        df[outcome].to_numpy(float),
        df[treatment].to_numpy(float),
        df[list(instruments)].to_numpy(float),
        x,
        groups,
    )


def numpy_2sls(y, endog, z, x, groups=None, kind="CR1"):
    """Textbook 2SLS with CR1 / HC1 / classical covariance; returns (beta, V) with the
    endogenous regressors last."""
    endog = endog.reshape(len(y), -1)
    regressors = np.column_stack([x, endog])
    instruments = np.column_stack([x, z])
    fitted = instruments @ np.linalg.lstsq(instruments, regressors, rcond=None)[0]
    beta = np.linalg.solve(fitted.T @ regressors, fitted.T @ y)
    resid = y - regressors @ beta
    bread = np.linalg.inv(fitted.T @ fitted)
    n, k = regressors.shape
    if kind == "CR1":
        g = int(groups.max()) + 1
        scores = np.zeros((g, k))
        np.add.at(scores, groups, fitted * resid[:, None])
        meat = scores.T @ scores
        v = (g / (g - 1)) * ((n - 1) / (n - k)) * bread @ meat @ bread
    elif kind == "HC1":
        meat = (fitted * resid[:, None] ** 2).T @ fitted
        v = n / (n - k) * bread @ meat @ bread
    else:
        v = resid @ resid / (n - k) * bread
    return beta, v


# --------------------------------------------------------------------------- closed forms


def test_2sls_equals_wald_ratio_without_controls(trial):
    res = estimate.iv(trial, "practice_min_total", "app_used", "access", cluster="family_id")
    z, d, y = trial["access"], trial["app_used"], trial["practice_min_total"]
    wald = (y[z == 1].mean() - y[z == 0].mean()) / (d[z == 1].mean() - d[z == 0].mean())
    assert res.coef == pytest.approx(wald, abs=1e-10)
    assert res.compliance_rate == pytest.approx(d[z == 1].mean() - d[z == 0].mean(), abs=1e-12)
    assert res.first_stage.coef == pytest.approx(res.compliance_rate, abs=1e-10)
    assert res.itt.coef == pytest.approx(y[z == 1].mean() - y[z == 0].mean(), abs=1e-10)
    assert res.nobs == len(trial)
    assert res.nclusters == trial["family_id"].nunique()


SPECS = [
    pytest.param({}, None, "CR1", id="no-controls"),
    pytest.param(
        {"controls": ["cito", "age", "ses_score"], "categorical": ["grade", "track"]},
        None,
        "CR1",
        id="controls+categorical",
    ),
    pytest.param({**estimate.STUDY_SPEC}, None, "CR1", id="study-spec"),
    pytest.param({**estimate.STUDY_SPEC}, "grade == 2", "CR1", id="study-spec-grade2"),
    pytest.param(
        {"controls": ["cito"], "categorical": ["gender", "school"]},
        "track != 'vwo'",
        "CR1",
        id="subset-track",
    ),
    pytest.param({**estimate.STUDY_SPEC}, None, "HC1", id="study-spec-HC1"),
    pytest.param({"categorical": ["grade"]}, "school == 'B'", "HC1", id="subset-HC1"),
    pytest.param({"controls": ["cito", "age"]}, None, "classical", id="unadjusted"),
]
COV_OF_KIND = {"CR1": "clustered", "HC1": "robust", "classical": "unadjusted"}


@pytest.mark.parametrize(("spec", "subset", "kind"), SPECS)
def test_coef_and_se_equal_independent_numpy_2sls(trial, spec, subset, kind):
    spec = {
        "outcome": "practice_min_total",
        "treatment": "app_used",
        "instrument": "access",
        "cluster": "family_id",
        **spec,
    }
    res = estimate.iv(trial, subset=subset, cov=COV_OF_KIND[kind], **spec)
    frame = trial.query(subset) if subset else trial
    y, d, z, x, groups = numpy_design(
        frame,
        spec["outcome"],
        spec["treatment"],
        [spec["instrument"]],
        spec.get("controls", ()),
        spec.get("categorical", ()),
        spec["cluster"],
    )
    beta, v = numpy_2sls(y, d, z, x, groups, kind)
    assert res.nobs == len(y)
    assert res.coef == pytest.approx(beta[-1], rel=1e-8, abs=1e-8)
    assert res.se == pytest.approx(np.sqrt(v[-1, -1]), rel=1e-8)
    # p-values and intervals: t with G-1 df when clustered, N-K otherwise (Stata `small`).
    df = int(groups.max()) if kind == "CR1" else len(y) - x.shape[1] - 1
    assert res.df == df
    t = beta[-1] / np.sqrt(v[-1, -1])
    assert res.pvalue == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-7)
    half = stats.t.ppf(0.975, df) * np.sqrt(v[-1, -1])
    assert res.ci_low == pytest.approx(beta[-1] - half, rel=1e-8, abs=1e-8)
    assert res.ci_high == pytest.approx(beta[-1] + half, rel=1e-8, abs=1e-8)
    # The constant (the paper prints it) is the first exogenous coefficient in both.
    assert res.intercept == pytest.approx(beta[0], rel=1e-8, abs=1e-8)


def test_linearmodels_default_cluster_se_is_smaller_than_cr1(trial):
    """Guards the reason for debiased=True: linearmodels' default omits the CR1 factor."""
    from linearmodels.iv import IV2SLS

    res = estimate.study(trial)
    d = res.design
    exog = pd.DataFrame(d.x, columns=list(d.x_names))
    plain = IV2SLS(
        d.y, exog, pd.DataFrame({"app_used": d.d}), pd.DataFrame({"access": d.z[:, 0]})
    ).fit(cov_type="clustered", clusters=d.clusters)
    n, k, g = d.nobs, d.x.shape[1] + 1, d.nclusters
    factor = g / (g - 1) * (n - 1) / (n - k)
    assert res.se == pytest.approx(plain.std_errors["app_used"] * np.sqrt(factor), rel=1e-10)
    assert res.se > plain.std_errors["app_used"]


# --------------------------------------------------------------------------- ITT, first stage, OLS


def statsmodels_cluster(y, exog, groups):
    """statsmodels OLS with CR1 (its default cluster correction) and t(G-1) inference."""
    return sm.OLS(y, exog).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)


@pytest.mark.parametrize("subset", [None, "grade == 3"])
def test_itt_first_stage_and_ols_equal_statsmodels(trial, subset):
    res = estimate.study(trial, subset=subset)
    frame = trial.query(subset) if subset else trial
    spec = estimate.STUDY_SPEC
    y, d, z, x, groups = numpy_design(
        frame,
        spec["outcome"],
        spec["treatment"],
        [spec["instrument"]],
        spec["controls"],
        spec["categorical"],
        spec["cluster"],
    )
    itt = statsmodels_cluster(y, np.column_stack([x, z]), groups)
    assert res.itt.coef == pytest.approx(itt.params[-1], rel=1e-8)
    assert res.itt.se == pytest.approx(itt.bse[-1], rel=1e-8)
    assert res.itt.pvalue == pytest.approx(itt.pvalues[-1], rel=1e-6)
    assert res.itt.ci_low == pytest.approx(itt.conf_int()[-1, 0], rel=1e-8)

    first = statsmodels_cluster(d, np.column_stack([x, z]), groups)
    assert res.first_stage.coef == pytest.approx(first.params[-1], rel=1e-8)
    assert res.first_stage.se == pytest.approx(first.bse[-1], rel=1e-8)
    # One instrument: the cluster-robust (effective) F is the squared cluster-robust t.
    assert res.first_stage_f == pytest.approx(first.tvalues[-1] ** 2, rel=1e-8)
    assert res.to_dict()["first_stage_f"] == pytest.approx(first.tvalues[-1] ** 2, rel=1e-8)
    zz = z[:, 0]
    assert res.compliance_rate == pytest.approx(d[zz == 1].mean() - d[zz == 0].mean(), abs=1e-12)

    ols = statsmodels_cluster(y, np.column_stack([x, d]), groups)
    assert res.ols.coef == pytest.approx(ols.params[-1], rel=1e-8)
    assert res.ols.se == pytest.approx(ols.bse[-1], rel=1e-8)


def test_first_stage_f_with_two_instruments_is_cluster_robust_wald_over_k(trial):
    df = trial.assign(access_x_girl=trial["access"] * (trial["gender"] == "girl"))
    res = estimate.iv(
        df,
        "practice_min_total",
        "app_used",
        ["access", "access_x_girl"],
        controls=["cito"],
        categorical=["gender"],
    )
    y, d, z, x, groups = numpy_design(
        df,
        "practice_min_total",
        "app_used",
        ["access", "access_x_girl"],
        ["cito"],
        ["gender"],
        "family_id",
    )
    first = statsmodels_cluster(d, np.column_stack([x, z]), groups)
    pi = first.params[-2:]
    v = first.cov_params()[-2:, -2:]
    assert res.first_stage.fstat == pytest.approx(pi @ np.linalg.solve(v, pi) / 2, rel=1e-8)
    assert res.first_stage.n_instruments == 2
    assert np.isnan(res.compliance_rate)  # defined for one binary instrument only
    beta, cov = numpy_2sls(y, d, z, x, groups, "CR1")
    assert res.coef == pytest.approx(beta[-1], rel=1e-8)
    assert res.se == pytest.approx(np.sqrt(cov[-1, -1]), rel=1e-8)


# --------------------------------------------------------------------------- simulation


@pytest.mark.slow
def test_coverage_and_bias_over_seeds():
    """Known complier effect 2: intervals cover 92-98 %, mean estimate within MC error."""
    true_effect, n_families, reps = 2.0, 150, 300
    estimates, covered = [], []
    for seed in range(reps):
        rng = np.random.default_rng(10_000 + seed)
        family = np.repeat(np.arange(n_families), 2)
        access = rng.integers(0, 2, n_families)[family]
        shock = rng.normal(size=family.size)
        complier = rng.random(family.size) < 0.3 + 0.4 * (shock > 0)  # endogenous take-up
        used = access * complier
        effect = true_effect + rng.normal(0, 1, family.size)  # heterogeneous, mean 2
        x = rng.normal(size=family.size)
        y = (
            1
            + x
            + effect * used
            + 2 * shock
            + rng.normal(0, 1, n_families)[family]
            + rng.normal(size=family.size)
        )
        frame = pd.DataFrame({"y": y, "d": used, "z": access, "x": x, "f": family})
        res = estimate.iv(frame, "y", "d", "z", controls=["x"], cluster="f")
        estimates.append(res.coef)
        covered.append(res.ci_low <= true_effect <= res.ci_high)
    estimates = np.asarray(estimates)
    coverage = np.mean(covered)
    assert 0.92 <= coverage <= 0.98, coverage
    mc_error = estimates.std(ddof=1) / np.sqrt(reps)
    assert abs(estimates.mean() - true_effect) < 3 * mc_error
    # The naive OLS is biased here (compliers have higher shocks), which is the point of IV.


# --------------------------------------------------------------------------- design handling


def test_missing_values_dropped_listwise_and_counted_per_reason():
    df = make_trial(seed=3, missing=False)
    df.loc[df.index[[0, 1, 2]], "practice_min_total"] = np.nan
    df.loc[df.index[[2, 3]], "cito"] = np.nan  # row 2 already counted under the outcome
    df.loc[df.index[[4]], "family_id"] = None
    df.loc[df.index[[5]], "track"] = np.nan
    res = estimate.study(df)
    assert res.dropped == {
        "missing practice_min_total": 3,
        "missing cito": 1,
        "missing track": 1,
        "missing family_id": 1,
    }
    assert res.nobs == len(df) - 6
    design = res.design
    assert list(design.index) == list(df.index[6:])
    # The cluster codes align with the rows used.
    expected = pd.factorize(df.loc[design.index, "family_id"], sort=True)[0]
    assert np.array_equal(design.clusters, expected)
    assert np.array_equal(design.y, df.loc[design.index, "practice_min_total"].to_numpy())


def test_subset_forms_agree_and_exclusions_are_not_dropped(trial):
    spec = {**estimate.STUDY_SPEC}
    by_query = estimate.iv(trial, subset="school == 'A'", **spec)
    by_series = estimate.iv(trial, subset=trial["school"] == "A", **spec)
    by_array = estimate.iv(trial, subset=(trial["school"] == "A").to_numpy(), **spec)
    assert by_query.coef == by_series.coef == by_array.coef
    assert by_query.nobs < len(trial)
    assert by_query.design.n_outside_subset == int((trial["school"] != "A").sum())
    assert sum(by_query.dropped.values()) + by_query.nobs == int((trial["school"] == "A").sum())


def test_grade_dummies_dropped_with_a_note_in_a_grade_subgroup(trial):
    res = estimate.study(trial, subset="grade == 1")
    assert not any(name.startswith("grade[") for name in res.design.x_names)
    assert any("grade" in note for note in res.notes)


def test_constant_and_collinear_controls_dropped_with_a_note(trial):
    df = trial.assign(constant_five=5.0, cito_twice=2 * trial["cito"])
    with_extra = estimate.iv(
        df, "practice_min_total", "app_used", controls=["cito", "constant_five", "cito_twice"]
    )
    plain = estimate.iv(df, "practice_min_total", "app_used", controls=["cito"])
    assert set(with_extra.design.dropped_controls) == {"constant_five", "cito_twice"}
    assert len(with_extra.notes) == 2
    assert with_extra.coef == pytest.approx(plain.coef, rel=1e-10)
    assert with_extra.se == pytest.approx(plain.se, rel=1e-10)


def test_categorical_dummies_drop_the_first_level_in_category_order(trial):
    df = trial.assign(track=pd.Categorical(trial["track"], ["vwo", "havo", "vmbo"]))
    res = estimate.iv(df, "practice_min_total", "app_used", categorical=["track"])
    assert res.design.x_names == ("const", "track[havo]", "track[vmbo]")


# --------------------------------------------------------------------------- results API


def test_summary_and_to_dict(trial):
    res = estimate.study(trial)
    table = res.summary()
    assert list(table.index) == ["2SLS", "first stage", "ITT", "OLS"]
    assert list(table.columns) == ["coef", "se", "t", "pvalue", "ci_low", "ci_high", "nobs"]
    assert table.loc["2SLS", "coef"] == res.coef
    assert table.loc["ITT", "se"] == res.itt.se
    payload = res.to_dict()
    json.dumps(payload, allow_nan=False)  # JSON-safe
    for key in ("coef", "se", "pvalue", "ci_low", "ci_high", "nobs", "nclusters", "first_stage_f"):
        assert key in payload
    assert payload["dropped"] == res.dropped
    text = repr(res)
    assert "app_used" in text and "practice_min_total" in text and "clusters" in text


def test_robust_and_unadjusted_do_not_need_clusters(trial):
    res = estimate.iv(trial, "practice_min_total", "app_used", cluster=None, cov="robust")
    assert res.nclusters is None
    assert res.df == res.nobs - 2
    with pytest.raises(EstimationError, match="cluster"):
        estimate.iv(trial, "practice_min_total", "app_used", cluster=None, cov="clustered")


def test_table1_and_by_group(trial):
    table = estimate.table1(trial)
    assert list(table) == ["all", "grade1", "grade2", "grade3"]
    assert sum(table[f"grade{g}"].nobs for g in (1, 2, 3)) == table["all"].nobs
    # The fixture's true effects by grade are recovered within a few standard errors.
    for g, truth in STUDY_EFFECTS.items():
        res = table[f"grade{g}"]
        assert abs(res.coef - truth) < 4 * res.se
    by_gender = estimate.by_group(trial, "gender", **estimate.STUDY_SPEC)
    assert list(by_gender) == ["boy", "girl"]
    by_two = estimate.by_group(trial, ["grade", "school"], **estimate.STUDY_SPEC)
    assert list(by_two)[0] == (1, "A") and len(by_two) == 6
    manual = estimate.study(trial, subset=(trial["grade"] == 1) & (trial["school"] == "A"))
    assert by_two[(1, "A")].coef == pytest.approx(manual.coef, rel=1e-12)


# --------------------------------------------------------------------------- interactions


def test_interaction_without_controls_equals_difference_of_subgroup_estimates(trial):
    spec = {"outcome": "practice_min_total", "treatment": "app_used", "cluster": "family_id"}
    inter = estimate.interaction(trial, "grade", **spec)
    separate = estimate.by_group(trial, "grade", **spec)
    assert inter.reference == 1 and inter.levels == (1, 2, 3)
    for g in (2, 3):
        diff = separate[g].coef - separate[1].coef
        assert inter.differences.loc[g, "coef"] == pytest.approx(diff, rel=1e-8)
    for g in (1, 2, 3):
        assert inter.effects.loc[g, "coef"] == pytest.approx(separate[g].coef, rel=1e-8)


def test_interaction_wald_test_equals_numpy(trial):
    spec = {**estimate.STUDY_SPEC}
    inter = estimate.interaction(trial, "grade", reference=3, **spec)
    y, d, z, x, groups = numpy_design(
        trial,
        spec["outcome"],
        spec["treatment"],
        [spec["instrument"]],
        spec["controls"],
        spec["categorical"],
        spec["cluster"],
    )
    grade = trial.dropna(subset=["cito", "ses_score"])["grade"].to_numpy()
    ind = np.column_stack([(grade == 1), (grade == 2)]).astype(float)
    endog = np.column_stack([d, d[:, None] * ind])
    instruments = np.column_stack([z, z * ind])
    beta, v = numpy_2sls(y, endog, instruments, x, groups, "CR1")
    b, vb = beta[-2:], v[-2:, -2:]
    assert inter.differences["coef"].to_numpy() == pytest.approx(b, rel=1e-8)
    assert inter.differences["se"].to_numpy() == pytest.approx(np.sqrt(np.diag(vb)), rel=1e-8)
    wald = b @ np.linalg.solve(vb, b) / 2
    g = int(groups.max()) + 1
    assert inter.wald_f == pytest.approx(wald, rel=1e-8)
    assert inter.wald_pvalue == pytest.approx(stats.f.sf(wald, 2, g - 1), rel=1e-6)


def test_interaction_two_levels_from_a_series(trial):
    grade3 = trial["grade"].eq(3).map({True: "grade 3", False: "grades 1-2"}).rename("grade3")
    inter = estimate.interaction(trial, grade3, reference="grades 1-2", **estimate.STUDY_SPEC)
    assert inter.levels == ("grade 3", "grades 1-2")
    # With two levels the Wald test is the t-test of the difference.
    t = inter.difference / inter.se
    assert inter.pvalue == pytest.approx(2 * stats.t.sf(abs(t), inter.wald_df[1]), rel=1e-8)
    assert inter.difference < 0  # grade 3 effect -17 against +10/+13
    json.dumps(inter.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------- bad calls


def test_unknown_column_is_named(trial):
    with pytest.raises(UnknownColumnError, match="'cito_score'.*control"):
        estimate.iv(trial, "practice_min_total", "app_used", controls=["cito_score"])
    with pytest.raises(ValueError, match="'praktijk'"):
        estimate.iv(trial, "praktijk", "app_used")


def test_instrument_without_variation_in_subgroup(trial):
    df = trial.copy()
    df.loc[df["school"] == "B", "access"] = 1
    df.loc[df["school"] == "B", "app_used"] = df.loc[df["school"] == "B", "grade"] % 2
    with pytest.raises(NoInstrumentVariationError, match="'access'.*school = B"):
        estimate.by_group(df, "school", **estimate.STUDY_SPEC)
    # Access given by school: it varies overall but not within the school dummies.
    df["access"] = (df["school"] == "B").astype(int)
    with pytest.raises(NoInstrumentVariationError, match="collinear"):
        estimate.iv(df, "practice_min_total", "app_used", categorical=["school"])


def test_subgroup_too_small(trial):
    small = trial.index[:12]
    with pytest.raises(SubgroupTooSmallError, match="12 complete rows"):
        estimate.study(trial, subset=trial.index.isin(small), label="twelve students")
    with pytest.raises(SubgroupTooSmallError, match="1 cluster"):
        estimate.iv(
            trial, "practice_min_total", "app_used", cluster="school", subset="school == 'A'"
        )


def test_zero_take_up(trial):
    df = trial.assign(app_used=0)
    with pytest.raises(ZeroTakeUpError, match="'app_used'"):
        estimate.study(df)
    df = trial.copy()
    df.loc[df["grade"] == 2, "app_used"] = 0
    with pytest.raises(ZeroTakeUpError, match="grade = 2"):
        estimate.by_group(df, "grade", **estimate.STUDY_SPEC)
    # Take-up identical with and without the instrument: the first stage is exactly zero.
    df = trial.assign(app_used=(trial["grade"] == 1).astype(int))
    with pytest.raises(ZeroTakeUpError, match="does not respond"):
        estimate.iv(df, "practice_min_total", "app_used", categorical=["grade"])


def test_errors_are_value_errors(trial):
    for error in (
        UnknownColumnError,
        NoInstrumentVariationError,
        SubgroupTooSmallError,
        ZeroTakeUpError,
    ):
        assert issubclass(error, ValueError)
    with pytest.raises(ValueError, match="cov="):
        estimate.study(trial, cov="hc3")


def test_a_column_in_two_roles_is_refused(trial):
    with pytest.raises(EstimationError, match="'app_used' as treatment and control"):
        estimate.iv(trial, "practice_min_total", "app_used", controls=["app_used"])
    with pytest.raises(EstimationError, match="'access' as instrument and categorical"):
        estimate.iv(trial, "practice_min_total", "app_used", categorical=["access"])


def test_table1_on_the_analysis_sample_of_the_pipeline():
    """Raw records in the schema -> parentapp.sample.build -> table1 (categorical dtypes)."""
    from parentapp import paper, sample, schema, tables

    analysis = sample.build(schema.example(n_students=600, seed=1)).data
    result = estimate.table1(analysis)
    assert list(result) == ["all", "grade1", "grade2", "grade3"]
    spec = estimate.STUDY_SPEC
    y, d, z, x, groups = numpy_design(
        analysis,
        spec["outcome"],
        spec["treatment"],
        [spec["instrument"]],
        spec["controls"],
        spec["categorical"],
        spec["cluster"],
    )
    beta, v = numpy_2sls(y, d, z, x, groups, "CR1")
    assert result["all"].coef == pytest.approx(beta[-1], rel=1e-8)
    assert result["all"].se == pytest.approx(np.sqrt(v[-1, -1]), rel=1e-8)
    table = tables.regression_table(result, published=paper.TABLE1)
    assert table.loc["N", "all"] == str(len(y))


def test_table1_on_the_default_synthetic_data():
    """The embedded default data (data/synthetic/trial.csv) through parentapp.io and
    parentapp.sample: the paper's N per column, and estimates near the simulator's true
    in-sample complier effects (trial.truth.json)."""
    from parentapp import io, paper, paths, sample

    analysis = sample.build(io.load(paths.DEFAULT_DATA)).data
    truth = json.loads(paths.DEFAULT_TRUTH.read_text())["table1"]
    result = estimate.table1(analysis)
    assert list(result) == list(paper.TABLE1)
    for key, res in result.items():
        assert res.nobs == paper.TABLE1[key].nobs
        assert res.dropped == {}
        assert abs(res.coef - truth[key]) < 3 * res.se, (key, res.coef, truth[key], res.se)
        assert res.first_stage_f > 10
