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


# --------------------------------------------------------------------------- presentation


@pytest.mark.parametrize("p, text", [(0.0, "<0.001"), (0.0004, "<0.001"), (0.0005, "0.001"),
                                     (0.0123, "0.012"), (0.05, "0.050"), (1.0, "1.000"),
                                     (float("nan"), ""), (None, "")])
def test_format_pvalue(p, text):
    assert analysis.format_pvalue(p) == text


def test_format_pvalue_refuses_impossible_values():
    with pytest.raises(ValueError, match="outside"):
        analysis.format_pvalue(1.2)


def test_format_value_kinds():
    assert analysis.format_value(12.345, "coef") == "12.3"
    assert analysis.format_value(-0.04, "coef") == "0.0"  # never "-0.0"
    assert analysis.format_value(1.234, "se") == "1.23"
    assert analysis.format_value(0.2268, "share") == "22.7 %"
    assert analysis.format_value(1585.0, "count") == "1585"
    assert analysis.format_value("<10", "coef") == "<10"  # a suppression marker stays
    assert analysis.format_interval(-np.inf, 2.0) == "[-inf, 2.0]"


def test_present_suppresses_before_formatting_and_labels_rows():
    frame = pd.DataFrame({"coef": [21.7, 5.0, -3.0], "se": [7.78, 1.0, 2.0],
                          "pvalue": [0.0002, 0.5, 0.04], "ci_low": [6.4, 3.0, -7.0],
                          "ci_high": [37.1, 7.0, 1.0], "nobs": [196, 8, 50]},
                         index=["1, low", "1, middle", "3, high"])
    shown = analysis.present(frame, "nobs", index=["grade", "ses_group"])
    assert list(shown.index) == ["Grade 1, low SES", "Grade 1, middle SES", "Grade 3, high SES"]
    assert list(shown.columns) == ["Effect", "SE", "p-value", "95 % CI", "N"]
    assert shown.iloc[0].tolist() == ["21.7", "7.78", "<0.001", "[6.4, 37.1]", "196"]
    # the cell on 8 students is hidden in every column, the interval included
    assert set(shown.iloc[1]) == {"<10"}
    assert (shown.attrs["suppression"].iloc[1] == "primary").all()


def test_human_labels():
    assert analysis.human_label("grade2") == "Grade 2"
    assert analysis.human_label("track = vmbo") == "track vmbo"
    assert analysis.human_label(0.0, "both_parents_home") == "not both parents at home"
    assert analysis.human_label("grade_band grades 1-2") == "Grades 1-2"
    assert analysis.covariate_kind("female") == "share"
    assert analysis.covariate_kind("cito") == "stat"


# --------------------------------------------------------------------------- robust inference


def _known_trial(seed=3, effect=0.0, n_families=600):
    """Families of 1-2 students, access by family, one-sided take-up 40 %, outcome with a
    family effect; the effect of use is ``effect`` minutes."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 3, n_families)
    family = np.repeat(np.arange(n_families), sizes)
    z = np.repeat(rng.integers(0, 2, n_families), sizes)
    d = (z == 1) & (rng.random(family.size) < 0.4)
    y = 10 + effect * d + np.repeat(rng.normal(0, 3, n_families), sizes) + rng.normal(
        0, 5, family.size)
    return pd.DataFrame({"practice_min_total": y, "app_used": d.astype(float),
                         "access": z.astype(float), "family_id": family,
                         "cito": rng.normal(535, 10, family.size)})


def test_robust_inference_frame_wild_bootstrap_agrees_with_wildboottest():
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    data = _known_trial(effect=4.0)
    spec = dict(treatment="app_used", instrument="access", controls=("cito",),
                cluster="family_id")
    fit = {"all": estimate.iv(data, "practice_min_total", **spec)}
    frame = analysis.robust_inference_frame(fit, n_draws=999, seed=1)
    row = frame.loc["all"]
    # the ITT wild bootstrap p-value against an independent implementation (WCR, Rademacher)
    x = sm.add_constant(data[["access", "cito"]])
    reference = wildboottest(sm.OLS(data["practice_min_total"], x), param="access",
                             cluster=data["family_id"], B=999, seed=1, show=False)
    ref_p = float(np.asarray(reference["p-value"]).ravel()[0])
    assert row["wb_itt_pvalue"] == pytest.approx(ref_p, abs=0.03)
    # intervals cover their estimates, and the IV one the (known) effect here
    assert row["wb_iv_ci_low"] < row["coef"] < row["wb_iv_ci_high"]
    assert row["wb_itt_ci_low"] < row["itt"] < row["wb_itt_ci_high"]
    assert row["wb_iv_pvalue"] < 0.05  # a 4-minute effect on ~900 students is found


def test_describe_robust_inference_says_when_methods_disagree():
    frame = pd.DataFrame({"pvalue": [0.08, 0.3], "wb_iv_pvalue": [0.12, 0.4],
                          "ri_pvalue": [0.09, 0.5], "ar_pvalue": [0.07, 0.6]},
                         index=["grade1", "grade2"])
    lines = analysis.describe_robust_inference(frame).splitlines()
    assert lines[0].startswith("- Grade 1") and "disagree" in lines[0]
    assert "wild bootstrap" not in lines[0].split("significant by")[1]
    assert "all 4 agree: not significant at 10 %" in lines[1]


# --------------------------------------------------------------------------- attrition bounds


def test_attrition_bounds_bracket_the_effect_with_selective_response():
    """Access raises response among low practisers only: the naive respondent ITT is biased
    down; Lee bounds (trimming the access arm) bracket the true ITT of always-responders."""
    rng = np.random.default_rng(7)
    n = 20_000
    z = rng.integers(0, 2, n)
    y0 = rng.normal(20, 6, n)
    itt = 2.0
    y = y0 + itt * z
    always = rng.random(n) < 0.6
    marginal = (~always) & (y0 < 16) & (rng.random(n) < 0.5)  # answer only with access
    responded = always | (marginal & (z == 1))
    students = pd.DataFrame({"practice_min_total": y, "respondent": responded,
                             "access": z, "app_used": z * (rng.random(n) < 0.5),
                             "family_id": np.arange(n)})
    bounds = analysis.attrition_bounds(students, n_boot=0)
    assert bounds.trimmed_arm == "access"
    assert bounds.lower <= itt <= bounds.upper
    naive = y[responded & (z == 1)].mean() - y[responded & (z == 0)].mean()
    assert naive < itt - 0.2  # the naive respondent comparison is biased down ...
    assert bounds.lower <= naive <= bounds.upper  # ... and the bounds contain it too
    text = analysis.describe_attrition_bounds(bounds)
    assert "'access' arm" in text and ("excludes zero" in text) == (bounds.lower > 0)
    table = analysis.attrition_bounds_frame(bounds)
    assert table.loc["effect of app use (ITT / take-up)", "lower"] == pytest.approx(
        bounds.lower / bounds.compliance)


# --------------------------------------------------------------------------- multiple testing


def test_claims_after_adjustment_reads_direction_and_levels():
    frame = pd.DataFrame({
        "estimate": [5.0, 4.0, -3.0, 2.0, -1.0],
        "pvalue": [0.001, 0.04, 0.02, 0.5, 0.01],
        "adjusted": [0.01, 0.3, 0.08, 0.9, 0.05],
        "qvalue": [0.005, 0.07, 0.05, 0.5, 0.03]},
        index=["Grade 1, low SES", "Grade 2, low SES", "Grade 3, high SES",
               "Grade 1, boys", "Grade 2, boys"])
    verdicts = analysis.claims_after_adjustment(frame)
    assert verdicts["Grade 1, low SES"]["romano_wolf"] is True
    assert verdicts["Grade 2, low SES"]["unadjusted"] is True
    assert verdicts["Grade 2, low SES"]["romano_wolf"] is False
    assert verdicts["Grade 2, low SES"]["benjamini_hochberg"] is True
    assert verdicts["Grade 3, high SES"]["romano_wolf"] is True  # negative, as reported
    assert verdicts["Grade 2, boys"]["unadjusted"] is False  # significant, wrong sign
    assert verdicts["Grade 1, not both parents at home"]["tested"] is False
    text = analysis.describe_multiple_testing(frame.assign(family="x"))
    assert "Claim 6" in text and "None of these is significant" in text.split("Claim 6")[1]


def test_multiple_testing_family_qvalues_are_benjamini_hochberg():
    from statsmodels.stats.multitest import multipletests

    data = _known_trial(effect=0.0, n_families=900)
    rng = np.random.default_rng(0)
    data["grade"] = rng.integers(1, 4, len(data))
    data["gender"] = np.where(rng.random(len(data)) < 0.5, "boy", "girl")
    frame = analysis.multiple_testing(data, n_draws=199, seed=2, groups=["gender"],
                                      treatment="app_used", instrument="access",
                                      controls=("cito",), cluster="family_id")
    assert list(frame.index) == [f"Grade {g}, {s}" for g in (1, 2, 3) for s in ("boys",
                                                                                "girls")]
    expected = multipletests(frame["pvalue"], method="fdr_bh")[1]
    np.testing.assert_allclose(frame["qvalue"], expected)
    assert (frame["adjusted"] >= frame["pvalue"] - 1e-12).all()
    assert (frame["nobs"] >= 10).all()


def test_replication_sentences_round_to_tenths():
    table = pd.DataFrame({"claim": ["a", "b"], "probability": [0.84, 0.06],
                          "mc_se": [0.05, 0.03]}, index=pd.Index([1, 2], name="id"))
    table.attrs["n_reps"] = 50
    lines = analysis.replication_sentences(table)
    assert lines[0].startswith("- Claim 1 would hold in about 8 of 10 replications")
    assert "about 1 of 10" in lines[1]
    assert "50 simulated replications" in lines[-1]


def test_present_writes_differences_of_shares_in_percentage_points():
    table = pd.DataFrame({"mean_access": [0.52, 535.2], "difference": [0.031, -1.25]},
                         index=["female", "cito"])
    shown = analysis.present(table, counts=pd.Series([400, 400], index=table.index),
                             row_kinds=analysis.covariate_kind)
    assert shown["Difference"].tolist() == ["3.1 pp", "-1.25"]
    assert shown["Mean, access"].tolist() == ["52.0 %", "535.20"]
