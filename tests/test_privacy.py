"""parentapp.privacy: small-cell suppression (primary + secondary) and the identifier scan.

The expected answers are worked out by hand in each test's comment.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parentapp.privacy import MARKER, scan_html, suppress, suppression_mask


def hidden_cells(table: pd.DataFrame) -> set[tuple]:
    return {(r, c) for r in table.index for c in table.columns if table.at[r, c] == MARKER}


def test_nothing_hidden_when_every_cell_has_ten_or_more():
    counts = pd.DataFrame({"boy": [10, 12], "girl": [30, 11]}, index=["g1", "g2"])
    shown = suppress(counts)
    assert shown.equals(counts.astype(object))
    assert hidden_cells(shown) == set()


def test_one_small_cell_in_a_3x3_needs_three_more_hidden():
    # g2/low = 4 (primary). Row g2 then has one hidden cell: hide its smallest other cell,
    # g2/mid = 40 (< g2/high = 41). Column low: hide the smallest other, g1/low = 30.
    # Column mid now has g2/mid only: hide g1/mid = 25. Row g1 has two hidden: done.
    counts = pd.DataFrame({"low": [30, 4, 50], "mid": [25, 40, 60], "high": [33, 41, 45]},
                          index=["g1", "g2", "g3"])
    shown = suppress(counts)
    assert hidden_cells(shown) == {("g2", "low"), ("g2", "mid"), ("g1", "low"), ("g1", "mid")}
    mask = shown.attrs["suppression"]
    assert mask.at["g2", "low"] == "primary"
    assert {mask.at["g2", "mid"], mask.at["g1", "low"], mask.at["g1", "mid"]} == {"secondary"}
    assert shown.at["g3", "high"] == 45


def test_two_small_cells_in_one_row_and_column_pattern_needs_no_secondary():
    # g1/low = 3 and g2/mid = 2 and g1/mid = 5 and g2/low = 6: the four small cells form a
    # rectangle; every row and column holds two hidden cells, nothing else is hidden.
    counts = pd.DataFrame({"low": [3, 6, 50], "mid": [5, 2, 60], "high": [33, 41, 45]},
                          index=["g1", "g2", "g3"])
    assert hidden_cells(suppress(counts)) == {("g1", "low"), ("g1", "mid"),
                                              ("g2", "low"), ("g2", "mid")}


def test_margins_are_kept_when_an_inner_cell_can_protect():
    # havo/boy = 4. Row havo: hide girl (40), not the total (44). Column boy: hide vwo/boy
    # (30 < vmbo 50). Column girl: hide vwo/girl (25). Totals stay visible.
    counts = pd.DataFrame({"boy": [30, 4, 50], "girl": [25, 40, 60], "total": [55, 44, 110]},
                          index=["vwo", "havo", "vmbo"])
    shown = suppress(counts, margins=["total"])
    assert hidden_cells(shown) == {("havo", "boy"), ("havo", "girl"), ("vwo", "boy"),
                                   ("vwo", "girl")}
    assert list(shown["total"]) == [55, 44, 110]


def test_a_margin_is_hidden_when_it_is_the_only_cell_left():
    # single column of counts with its total: g1 = 8 is primary; the smallest other inner
    # cell, g3 = 15, hides it; the total stays.
    counts = pd.DataFrame({"n": [8, 20, 15, 43]}, index=["g1", "g2", "g3", "all"])
    assert hidden_cells(suppress(counts, margins=["all"])) == {("g1", "n"), ("g3", "n")}
    # only two inner cells: g1 = 8 hidden, g2 must go too (total - g2 = g1), total stays
    counts = pd.DataFrame({"n": [8, 20, 28]}, index=["g1", "g2", "all"])
    assert hidden_cells(suppress(counts, margins=["all"])) == {("g1", "n"), ("g2", "n")}


def test_statistics_with_one_count_per_row():
    # a regression table: one row per subgroup, the count is the subgroup's nobs. The grade-3
    # row (7 students) is hidden entirely; column-wise, grade 2 (smaller than grade 1) goes too,
    # because the pooled coefficient and N would give grade 3 away.
    table = pd.DataFrame({"coef": [3.3, 10.9, 13.3, -17.3], "se": [2.1, 6.0, 6.1, 8.0],
                          "nobs": [527, 300, 220, 7]}, index=["all", "g1", "g2", "g3"])
    shown = suppress(table, counts="nobs", margins=["all"])
    assert hidden_cells(shown) == {(g, c) for g in ("g2", "g3") for c in table.columns}
    assert list(shown.loc["all"]) == [3.3, 2.1, 527]
    assert list(shown.loc["g1"]) == [10.9, 6.0, 300]


def test_zero_cells_stay_visible_and_are_not_used_as_complements():
    # boy/vmbo = 0 describes nobody; girl/vmbo = 3 is primary. Row vmbo: the only other cell
    # is the zero, which protects nothing (a known 0), but it is still the only candidate.
    counts = pd.DataFrame({"boy": [20, 0], "girl": [30, 3]}, index=["vwo", "vmbo"])
    assert suppression_mask(counts, secondary=None).at["vmbo", "boy"] == ""
    assert suppression_mask(counts, secondary=None).at["vmbo", "girl"] == "primary"
    # with zeros unsafe, the zero is primary too
    assert suppression_mask(counts, secondary=None, zero_is_safe=False).at["vmbo", "boy"] == \
        "primary"


def test_bad_counts_are_named():
    table = pd.DataFrame({"a": [1.0, 2.0]}, index=["x", "y"])
    with pytest.raises(ValueError, match=r"\('y', 'a'\)"):
        suppress(table, pd.DataFrame({"a": [12, None]}, index=["x", "y"]))
    with pytest.raises(ValueError, match="same rows and columns"):
        suppress(table, pd.DataFrame({"b": [12, 13]}, index=["x", "y"]))
    with pytest.raises(ValueError, match="not in the table"):
        suppress(table, "n")
    with pytest.raises(ValueError, match="negative"):
        suppress(table, pd.DataFrame({"a": [12, -1]}, index=["x", "y"]))


def _recoverable(hidden: np.ndarray, values: np.ndarray) -> bool:
    """True when some hidden cell is the only hidden cell of its row or column (so row or
    column total minus the shown cells reveals it)."""
    return bool(((hidden.sum(axis=1) == 1) & (hidden.shape[1] > 1)).any()
                or ((hidden.sum(axis=0) == 1) & (hidden.shape[0] > 1)).any())


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.data())
def test_property_no_small_cell_shown_and_none_recoverable_from_totals(n_rows, n_cols, data):
    values = np.array(data.draw(st.lists(st.integers(1, 60), min_size=n_rows * n_cols,
                                         max_size=n_rows * n_cols))).reshape(n_rows, n_cols)
    counts = pd.DataFrame(values, index=[f"r{i}" for i in range(n_rows)],
                          columns=[f"c{j}" for j in range(n_cols)])
    shown = suppress(counts)
    hidden = (shown == MARKER).to_numpy()
    assert hidden[values < 10].all()  # every small cell hidden
    assert not _recoverable(hidden, values)
    assert (shown.to_numpy()[~hidden] == values[~hidden]).all()  # the rest shown unchanged


def test_property_check_itself_detects_an_unprotected_cell():
    # the helper above must flag the single-hidden-cell pattern it guards against
    assert _recoverable(np.array([[True, False], [False, False]]), np.ones((2, 2)))
    assert not _recoverable(np.array([[True, True], [True, True]]), np.ones((2, 2)))


def test_scan_finds_ids_as_whole_tokens_only(tmp_path):
    (tmp_path / "a.html").write_text("<td>S12</td><td>S123</td> xS12 F-0012!")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.html").write_text("<p>nothing here: S1234, F-00123</p>")
    (tmp_path / "c.txt").write_text("S12")  # not an HTML file: not scanned by default
    leaks = scan_html(tmp_path, ["S12", "F-0012", "S999"])
    assert [(leak.file.name, leak.identifier) for leak in leaks] == [("a.html", "S12"),
                                                                     ("a.html", "F-0012")]
    assert "<td>S12</td>" in leaks[0].context
    assert scan_html(tmp_path / "sub" / "b.html", ["S12", "F-0012"]) == []
    assert [leak.file.name for leak in scan_html(tmp_path, ["S12"], patterns=("*.txt",))] == \
        ["c.txt"]


def test_scan_finds_ids_in_a_large_base64_page_quickly(tmp_path):
    rng = np.random.default_rng(1)
    ids = [f"LL{i:06d}" for i in range(5000)]
    blob = "".join(rng.choice(list("ABCDEFabcdef0123456789+/"), size=2_000_000))
    page = f'<img src="data:image/png;base64,{blob}"><td>{ids[4321]}</td>'
    (tmp_path / "p.html").write_text(page)
    assert [leak.identifier for leak in scan_html(tmp_path, ids)] == [ids[4321]]


@pytest.mark.parametrize("n_rows,n_cols", list(itertools.product([2, 3], [2, 4])))
def test_secondary_is_minimal_for_a_single_small_cell(n_rows, n_cols):
    # one small cell in an otherwise large table: exactly 4 cells hidden (a rectangle)
    values = np.full((n_rows, n_cols), 50)
    values[1, 1] = 5
    counts = pd.DataFrame(values)
    assert (suppress(counts) == MARKER).to_numpy().sum() == 4
