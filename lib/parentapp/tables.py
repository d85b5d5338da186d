"""Presentation tables: estimates rendered as strings, with the paper's star convention.

Stars come from :func:`parentapp.paper.stars_for` only (``*`` p < 0.10, ``**`` p < 0.05), so the
convention lives in one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from parentapp import paper

__all__ = ["format_number", "regression_table"]

ROWS = ("Coefficient", "(SE)", "95 % CI", "Constant", "N", "Clusters", "First-stage F")
PUBLISHED_ROWS = ("Published coefficient", "Published constant", "Published N")


def format_number(value: float | None, digits: int = 1) -> str:
    """A number with ``digits`` decimals; blank for missing values; never ``-0.0``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # no "-0.0"
    return text


def _column(result: Any, digits: int) -> dict[str, str]:
    level = getattr(result, "level", 0.95)
    ci = f"[{format_number(result.ci_low, digits)}, {format_number(result.ci_high, digits)}]"
    nclusters = result.nclusters
    return {
        "Coefficient": format_number(result.coef, digits) + paper.stars_for(result.pvalue),
        "(SE)": f"({format_number(result.se, digits)})",
        "95 % CI" if math.isclose(level, 0.95) else f"{level:.0%} CI": ci,
        "Constant": format_number(result.intercept, digits),
        "N": f"{result.nobs:d}",
        "Clusters": "" if nclusters is None else f"{nclusters:d}",
        "First-stage F": format_number(result.first_stage_f, digits),
    }


def regression_table(
    results: Mapping[str, Any],
    published: Mapping[str, paper.PublishedEstimate] | None = None,
    digits: int = 1,
) -> pd.DataFrame:
    """Render IV results as a regression table of strings.

    Parameters
    ----------
    results : mapping of column key to :class:`parentapp.estimate.IVResult`
        E.g. the dict returned by :func:`parentapp.estimate.table1`.
    published : mapping of column key to :class:`parentapp.paper.PublishedEstimate`, optional
        E.g. :data:`parentapp.paper.TABLE1`; adds the paper's coefficient (with its printed
        stars), constant and N beside ours. Keys without a published figure stay blank.
    digits : int
        Decimals of coefficients, standard errors, intervals and F.

    Returns
    -------
    DataFrame
        One column per key of ``results``; rows: coefficient with stars (``*`` p < 0.10,
        ``**`` p < 0.05), (SE), confidence interval, constant, N, clusters, first-stage F
        and, with ``published``, the published rows.
    """
    if not results:
        raise ValueError("regression_table needs at least one result, e.g. estimate.table1(df).")
    columns = {key: _column(result, digits) for key, result in results.items()}
    table = pd.DataFrame(columns)
    if published is not None:
        rows = {}
        for key in results:
            pub = published.get(key)
            rows[key] = {
                "Published coefficient": ""
                if pub is None
                else format_number(pub.coef, digits) + pub.stars,
                "Published constant": "" if pub is None else format_number(pub.constant, digits),
                "Published N": "" if pub is None else f"{pub.nobs:d}",
            }
        table = pd.concat([table, pd.DataFrame(rows)])
    table.index.name = ""
    treatment = getattr(getattr(next(iter(results.values())), "design", None), "treatment", "")
    if treatment:
        table.columns.name = f"2SLS effect of {treatment}"
    return table
