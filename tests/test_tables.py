"""parentapp.tables.regression_table: stars by the paper's convention, published figures beside."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from parentapp import estimate, paper, tables


def grade_trial(seed: int = 5, n_families: int = 400) -> pd.DataFrame:
    """Effects of different strength by grade, so the table shows '', '*' and '**'."""
    rng = np.random.default_rng(seed)
    family = np.repeat(np.arange(n_families), rng.choice([1, 2], n_families))
    n = family.size
    access = rng.integers(0, 2, n_families)[family]
    used = access * (rng.random(n) < 0.5)
    grade = rng.choice([1, 2, 3], n)
    effect = np.choose(grade - 1, [0.0, 2.0, -20.0])
    y = 10 + effect * used + rng.normal(0, 10, n)
    return pd.DataFrame(
        {"practice": y, "used": used, "access": access, "grade": grade, "family_id": family}
    )


@pytest.fixture(scope="module")
def results():
    df = grade_trial()
    spec = {"outcome": "practice", "treatment": "used", "instrument": "access"}
    out = {"all": estimate.iv(df, **spec)}
    out.update({f"grade{g}": r for g, r in estimate.by_group(df, "grade", **spec).items()})
    return out


def test_rows_columns_and_numbers(results):
    table = tables.regression_table(results, digits=2)
    assert list(table.columns) == ["all", "grade1", "grade2", "grade3"]
    assert list(table.index) == list(tables.ROWS)
    for key, res in results.items():
        stars = paper.stars_for(res.pvalue)
        assert table.loc["Coefficient", key] == f"{res.coef:.2f}{stars}"
        assert table.loc["(SE)", key] == f"({res.se:.2f})"
        assert table.loc["95 % CI", key] == f"[{res.ci_low:.2f}, {res.ci_high:.2f}]"
        assert table.loc["N", key] == str(res.nobs)
        assert table.loc["Clusters", key] == str(res.nclusters)
        assert table.loc["First-stage F", key] == f"{res.first_stage_f:.2f}"


def test_stars_follow_the_paper_convention(results):
    table = tables.regression_table(results)
    for key, res in results.items():
        cell = table.loc["Coefficient", key]
        expected = "**" if res.pvalue < 0.05 else "*" if res.pvalue < 0.10 else ""
        assert cell.endswith(expected) and not cell.endswith("*" + expected)
    # The fixture's grade 3 effect (-20) is strongly significant.
    assert table.loc["Coefficient", "grade3"].endswith("**")


def test_stars_for_thresholds():
    assert paper.stars_for(0.049) == "**"
    assert paper.stars_for(0.05) == "*"
    assert paper.stars_for(0.099) == "*"
    assert paper.stars_for(0.10) == ""


def test_published_figures_beside_ours(results):
    table = tables.regression_table(results, published=paper.TABLE1)
    for key, pub in paper.TABLE1.items():
        assert table.loc["Published coefficient", key] == f"{pub.coef:.1f}{pub.stars}"
        assert table.loc["Published N", key] == str(pub.nobs)
    assert table.loc["Published coefficient", "grade1"] == "10.9*"
    assert table.loc["Published constant", "grade3"] == "142.6"
    partial = tables.regression_table(
        {"grade3": results["grade3"], "extra": results["all"]}, published=paper.TABLE1
    )
    assert partial.loc["Published coefficient", "extra"] == ""


def test_format_number():
    assert tables.format_number(-0.04, 1) == "0.0"
    assert tables.format_number(float("nan")) == ""
    assert tables.format_number(None) == ""
    assert tables.format_number(-17.26, 1) == "-17.3"


def test_empty_results_are_refused():
    with pytest.raises(ValueError, match="at least one result"):
        tables.regression_table({})
