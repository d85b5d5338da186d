"""parentapp.figures: figures are drawn from the tables and leave out cells under 10 students."""

from __future__ import annotations

import numpy as np
import pandas as pd

from parentapp import figures


def _effects():
    return pd.DataFrame({"coef": [1.0, 2.0, np.nan, 4.0], "ci_low": [0.0, 1.0, np.nan, 3.0],
                         "ci_high": [2.0, 3.0, np.nan, 5.0], "nobs": [50, 5, 0, 80]},
                        index=["a", "small", "not estimated", "d"])


def test_coefficient_plot_drops_small_and_missing_cells():
    fig = figures.coefficient_plot(_effects(), reference={"a": 1.5})
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["a", "d"]


def test_flow_diagram_shows_every_count():
    flow = pd.DataFrame({"stage": ["all", "respondents"], "n": [100, 60], "dropped": [0, 40],
                         "reason": ["", "no questionnaire"], "access": [50, 31],
                         "no_access": [50, 29]})
    fig = figures.flow_diagram(flow)
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    for number in ("100", "60", "40", "31", "29"):
        assert number in text


def test_practice_histogram_hides_bars_under_ten():
    data = pd.DataFrame({"practice_min_total": [0.0] * 30 + [100.0] * 3, "grade": 1})
    fig = figures.practice_histogram(data, bins=2)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [30, 0]


def test_alignment_plot_blanks_small_cells():
    table = pd.DataFrame({"grade": [1, 2], "student_item": ["s", "s"], "parent_item": ["p", "p"],
                          "n": [50, 5], "rho": [0.5, 0.9]}).set_index(
        ["grade", "student_item", "parent_item"])
    fig = figures.alignment_plot(table)
    annotations = [t.get_text() for t in fig.axes[0].texts]
    assert annotations == ["0.50"]
