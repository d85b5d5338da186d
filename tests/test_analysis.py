"""parentapp.analysis against independent computations and simulations with a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from parentapp import analysis, estimate


def _trial(n=1200, seed=3, effect=5.0):
    """Family-randomised access, compliers known, covariates, practice minutes with a known
    effect of use for compliers."""
    rng = np.random.default_rng(seed)
    fam = rng.integers(0, int(n * 0.8), n)
    access = (rng.random(int(n * 0.8)) < 0.5).astype(int)[fam]
    cito = rng.normal(535, 8, n)
    complier = (rng.random(n) < 1 / (1 + np.exp(-(cito - 540) / 5))).astype(int)
    used = complier * access
    frame = pd.DataFrame({
        "family_id": [f"F{f}" for f in fam], "access": access, "app_used": used,
        "downloaded": np.maximum(used, (rng.random(n) < 0.1).astype(int)),
        "cito": cito, "female": (rng.random(n) < 0.5).astype(int),
        "track": rng.choice(["vmbo", "havo", "vwo"], n), "grade": rng.integers(1, 4, n),
        "practice_min_total": np.clip(10 + effect * used + rng.normal(0, 5, n), 0, None),
    })
    return frame, complier


def test_balance_matches_closed_form_and_statsmodels():
    frame, _ = _trial()
    result = analysis.balance(frame, ["cito", "female", "track"])
    a, b = frame.loc[frame.access == 1, "cito"], frame.loc[frame.access == 0, "cito"]
    expected = (a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
    assert result.table.loc["cito", "std_diff"] == pytest.approx(expected)
    assert result.table.loc["track = havo", "mean_access"] == pytest.approx(
        (frame.loc[frame.access == 1, "track"] == "havo").mean())
    # joint test: statsmodels OLS with CR1 cluster covariance, F with G-1 df
    x = pd.get_dummies(frame[["cito", "female", "track"]], columns=["track"], drop_first=True,
                       dtype=float)
    fit = sm.OLS(frame["access"].astype(float), sm.add_constant(x)).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["family_id"])[0]})
    slopes = fit.params.iloc[1:].to_numpy()
    wald = slopes @ np.linalg.solve(fit.cov_params().iloc[1:, 1:].to_numpy(), slopes) / len(slopes)
    assert result.joint_f == pytest.approx(wald, rel=1e-8)
    g = frame["family_id"].nunique()
    assert result.joint_pvalue == pytest.approx(stats.f.sf(wald, len(slopes), g - 1))


def test_balance_detects_imbalance_and_accepts_randomisation():
    frame, _ = _trial(n=3000, seed=5)
    assert analysis.balance(frame, ["cito", "female"]).joint_pvalue > 0.001
    skewed = frame.assign(cito=frame["cito"] + 6 * frame["access"])
    result = analysis.balance(skewed, ["cito", "female"])
    assert result.joint_pvalue < 1e-6
    assert "imbalance" in analysis.describe_balance(result)


def test_complier_means_recover_known_compliers():
    frame, complier = _trial(n=20000, seed=11)
    table = analysis.complier_means(frame, ["cito", "female"])
    truth = frame.loc[complier == 1, "cito"].mean()
    assert table.loc["cito", "compliers"] == pytest.approx(truth, abs=0.3)
    # in-sample identity: users with access are the compliers with access
    inside = frame[(frame.access == 1) & (complier == 1)]
    assert table.loc["cito", "compliers"] == pytest.approx(inside["cito"].mean())
    assert table.loc["cito", "n_compliers"] == len(inside)


def test_complier_means_refuse_two_sided_noncompliance():
    frame, _ = _trial()
    frame.loc[frame.index[frame.access == 0][:3], "app_used"] = 1
    with pytest.raises(ValueError, match="3 students have access = 0"):
        analysis.complier_means(frame, ["cito"])


def test_compliance_funnel_counts():
    frame, _ = _trial()
    table = analysis.compliance_funnel(frame)
    assert table.loc["students", "all"] == len(frame)
    assert table.loc["parent used the app", "no access"] == 0
    assert table.loc["parent used the app", "access"] == frame["app_used"].sum()
    assert table.loc["parent downloaded the app", "access"] == int(
        ((frame.downloaded == 1) & (frame.access == 1)).sum())


def test_practice_distribution_against_numpy():
    values = pd.Series([0, 0, 0, 5, 10, 20, 40, 120.0])
    table = analysis.practice_distribution(pd.DataFrame({"practice_min_total": values}))
    row = table.loc["all"]
    assert row["share_zero"] == pytest.approx(3 / 8)
    assert row["mean_if_positive"] == pytest.approx(np.mean([5, 10, 20, 40, 120]))
    assert row["p90"] == pytest.approx(np.quantile(values, 0.9))
    assert row["skewness"] == pytest.approx(stats.skew(values))


def test_alignment_sign_follows_a_known_correlation():
    rng = np.random.default_rng(2)
    n = 600
    latent = rng.normal(size=n)
    grade = np.repeat([1, 2, 3], n // 3)
    sign = np.where(grade == 3, -1.0, 1.0)
    frame = pd.DataFrame({
        "grade": grade,
        "st_a": np.digitize(sign * latent + rng.normal(0, 0.5, n), [-1, 0, 1]) + 1.0,
        "pa_b": np.digitize(latent + rng.normal(0, 0.5, n), [-1, 0, 1]) + 1.0,
    })
    frame.loc[:9, "pa_b"] = np.nan
    table = analysis.alignment(frame, pairs=[("st_a", "pa_b")])
    g1 = frame[frame.grade == 1].dropna()
    assert table.loc[(1, "st_a", "pa_b"), "rho"] == pytest.approx(
        stats.spearmanr(g1.st_a, g1.pa_b)[0])
    assert table.loc[(1, "st_a", "pa_b"), "n"] == len(g1)
    assert table.loc[(3, "st_a", "pa_b"), "rho"] < -0.3
    sentences = analysis.describe_alignment(table)
    assert "positively" in sentences[0] and "negatively" in sentences[2]


@pytest.mark.parametrize("pvalue, phrase", [
    (0.01, "significant at 5 %"), (0.07, "significant at 10 % but not at 5 %"),
    (0.10, "not significant at 10 %"), (0.5, "not significant at 10 %"),
])
def test_significance_phrase_boundaries(pvalue, phrase):
    assert analysis.significance_phrase(pvalue) == phrase


def test_describe_effect_never_claims_significance_the_numbers_do_not_show():
    frame, _ = _trial(n=1500, seed=9, effect=0.0)
    result = estimate.iv(frame, "practice_min_total", "app_used", controls=["cito"])
    text = analysis.describe_effect(result, "everyone")
    assert analysis.significance_phrase(result.pvalue) in text
    if result.pvalue >= 0.10:
        assert "not significant" in text
    strong, _ = _trial(n=3000, seed=9, effect=8.0)
    text = analysis.describe_effect(estimate.iv(strong, "practice_min_total", "app_used"),
                                    "everyone")
    assert text.endswith("significant at 5 %.")


def test_describe_estimators_itt_over_first_stage_is_2sls():
    frame, _ = _trial(n=2000, seed=4)
    result = estimate.iv(frame, "practice_min_total", "app_used", controls=["cito"])
    assert result.itt.coef / result.first_stage.coef == pytest.approx(result.coef, rel=1e-8)
    text = analysis.describe_estimators(result)
    assert f"{result.first_stage.coef:.3f}" in text


def test_safe_by_group_reports_inestimable_cells_and_effects_frame():
    frame, _ = _trial(n=1500, seed=6)
    frame.loc[frame.grade == 3, "app_used"] = 0  # no take-up at all in grade 3
    out = analysis.safe_by_group(frame, "grade", outcome="practice_min_total",
                                 treatment="app_used", controls=["cito"])
    assert isinstance(out[3], str) and out[3].startswith("not estimable")
    table = analysis.effects_frame(out)
    assert table.loc["3", "nobs"] == 0 and np.isnan(table.loc["3", "coef"])
    direct = estimate.iv(frame, "practice_min_total", "app_used", controls=["cito"],
                         subset=frame["grade"] == 1)
    assert table.loc["1", "coef"] == pytest.approx(direct.coef)


def test_specification_switches_and_bad_values():
    assert analysis.specification(controls="none")["controls"] == ()
    income = analysis.specification(ses_measure="income")
    assert "income_avg" in income["controls"] and "ses_score" not in income["controls"]
    with pytest.raises(ValueError, match="controls='some'"):
        analysis.specification(controls="some")


def test_table1_record_has_the_contract_fields():
    frame, _ = _trial(n=1500)
    results = {"all": estimate.iv(frame, "practice_min_total", "app_used")}
    record = analysis.table1_record(results)
    assert set(record["all"]) == {"coef", "se", "pvalue", "ci_low", "ci_high", "nobs",
                                  "first_stage_f"}
    assert record["all"]["nobs"] == len(frame)
