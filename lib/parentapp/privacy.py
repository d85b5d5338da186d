"""Disclosure control: the one gate every table and figure of the report passes through.

Rules (shared/design.md, "Conventions"): no student-level rows, no IDs, and no cell that
describes fewer than ``MIN_CELL`` students.

- :func:`suppress` hides every cell whose underlying count of students is below the
  threshold (*primary* suppression) and then hides further cells (*secondary*
  suppression) so that no hidden cell can be worked out from a row or column total: in
  every row and every column, the number of hidden cells is never exactly one.
- :func:`scan_html` looks for identifiers from the input data in output files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where used: the report build imports this module
    import pandas as pd  # on every rebuild, and most rebuilds need no table at all

MIN_CELL = 10
MARKER = "<10"
PRIMARY = "primary"
SECONDARY = "secondary"


def _counts_frame(table: pd.DataFrame, counts) -> pd.DataFrame:
    """The student counts behind ``table``, as a frame of the same shape."""
    import pandas as pd

    if counts is None:
        frame = table
    elif isinstance(counts, str):
        if counts not in table.columns:
            raise ValueError(
                f"counts column {counts!r} is not in the table (columns: {list(table.columns)})"
            )
        frame = pd.DataFrame({c: table[counts] for c in table.columns}, index=table.index)
    elif isinstance(counts, pd.Series):
        if not counts.index.equals(table.index):
            raise ValueError(
                "the counts Series must have the table's row index "
                f"(table rows: {list(table.index)}, counts rows: {list(counts.index)})"
            )
        frame = pd.DataFrame({c: counts for c in table.columns}, index=table.index)
    elif isinstance(counts, pd.DataFrame):
        if counts.shape != table.shape or not (
            counts.index.equals(table.index) and counts.columns.equals(table.columns)
        ):
            raise ValueError(
                "the counts frame must have the same rows and columns as the table "
                f"(table {table.shape}, counts {counts.shape}); give one count per cell, "
                "a Series of counts per row, or the name of a counts column"
            )
        frame = counts
    else:
        raise TypeError(
            "counts must be None (the table is itself counts), a column name, a Series of "
            f"counts per row or a DataFrame of counts per cell, not {type(counts).__name__}"
        )
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    bad = [(r, c) for c in frame.columns for r in frame.index if pd.isna(numeric.at[r, c])]
    if bad:
        raise ValueError(
            f"student counts must be numbers; missing or non-numeric at (row, column) {bad[:10]}"
            + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        )
    negative = [(r, c) for c in frame.columns for r in frame.index if numeric.at[r, c] < 0]
    if negative:
        raise ValueError(f"student counts cannot be negative; negative at {negative[:10]}")
    return numeric


def suppression_mask(
    counts: pd.DataFrame,
    min_cell: int = MIN_CELL,
    *,
    margins: Iterable = (),
    secondary: str | None = "both",
    zero_is_safe: bool = True,
) -> pd.DataFrame:
    """Which cells :func:`suppress` hides, and why: ``"primary"``, ``"secondary"`` or ``""``.

    See :func:`suppress` for the parameters. Exposed so that figures can drop the same
    points a table hides.
    """
    import pandas as pd

    if secondary not in ("both", "rows", "columns", None):
        raise ValueError(f"secondary must be 'both', 'rows', 'columns' or None, not {secondary!r}")
    margins = set(margins)
    values = counts.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    primary = (values < min_cell) & ~((values == 0) & zero_is_safe)
    mask = [[PRIMARY if primary[i, j] else "" for j in range(n_cols)] for i in range(n_rows)]
    row_is_margin = [label in margins for label in counts.index]
    col_is_margin = [label in margins for label in counts.columns]

    lines: list[list[tuple[int, int]]] = []
    if secondary in ("both", "rows"):
        lines += [[(i, j) for j in range(n_cols)] for i in range(n_rows)]
    if secondary in ("both", "columns"):
        lines += [[(i, j) for i in range(n_rows)] for j in range(n_cols)]
    lines = [line for line in lines if len(line) > 1]

    # A line (row or column, its total cell included when the table shows one) with exactly
    # one hidden cell gives that cell away: total minus the others. Hide the smallest other
    # cell as well (the least information lost), preferring inner cells to totals and
    # non-zero cells to zeros; repeat until no line has exactly one hidden cell. Each pass
    # hides at least one more cell, so this ends.
    changed = True
    while changed:
        changed = False
        for line in lines:
            hidden = [cell for cell in line if mask[cell[0]][cell[1]]]
            if len(hidden) != 1:
                continue
            candidates = [cell for cell in line if not mask[cell[0]][cell[1]]]
            if not candidates:
                continue
            chosen = min(
                candidates,
                key=lambda cell: (
                    row_is_margin[cell[0]] or col_is_margin[cell[1]],
                    values[cell] == 0,
                    values[cell],
                    cell,
                ),
            )
            mask[chosen[0]][chosen[1]] = SECONDARY
            changed = True
    return pd.DataFrame(mask, index=counts.index, columns=counts.columns)


def suppress(
    table: pd.DataFrame | pd.Series,
    counts: pd.DataFrame | pd.Series | str | None = None,
    min_cell: int = MIN_CELL,
    *,
    marker: str = MARKER,
    margins: Sequence = (),
    secondary: str | None = "both",
    zero_is_safe: bool = True,
) -> pd.DataFrame:
    """Hide every cell that describes fewer than ``min_cell`` students, and what gives it away.

    Parameters
    ----------
    table
        The statistics to show (counts, means, coefficients, ... one cell per number).
    counts
        The number of students behind each cell: a DataFrame shaped like ``table``; a
        Series with one count per row (e.g. ``nobs`` of each regression); the name of a
        column of ``table`` holding the count; or ``None`` when ``table`` is itself a table
        of counts.
    min_cell
        Smallest number of students a shown cell may describe (default 10).
    marker
        What a hidden cell shows (default ``"<10"``).
    margins
        Row/column labels that are totals (e.g. ``"Total"`` or ``"all"``). They take part
        in the row/column checks but are the last choice for secondary suppression.
    secondary
        Which lines are checked for a single hidden cell that totals would reveal:
        ``"both"`` (default), ``"rows"``, ``"columns"`` or ``None`` (primary only). A
        total need not be shown in the table to count: it is often published elsewhere.
    zero_is_safe
        Cells with a count of exactly 0 describe no student and stay visible.

    Returns
    -------
    pandas.DataFrame
        ``table`` with hidden cells replaced by ``marker`` (object dtype), and in
        ``.attrs["suppression"]`` the mask of ``"primary"`` / ``"secondary"`` / ``""``.

    Examples
    --------
    One small cell (grade 2, low SES: 4 students) and the three more it takes to protect it:

    >>> import pandas as pd
    >>> counts = pd.DataFrame({"low": [30, 4, 50], "mid": [25, 40, 60], "high": [33, 41, 45]},
    ...                       index=["g1", "g2", "g3"])
    >>> suppress(counts)
        low  mid high
    g1  <10  <10   33
    g2  <10  <10   41
    g3   50   60   45
    """
    import pandas as pd

    frame = table.to_frame() if isinstance(table, pd.Series) else table
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame or Series, not {type(table).__name__}")
    if not (frame.index.is_unique and frame.columns.is_unique):
        raise ValueError("suppress needs unique row and column labels to address cells")
    count_frame = _counts_frame(frame, counts)
    mask = suppression_mask(count_frame, min_cell, margins=margins, secondary=secondary,
                            zero_is_safe=zero_is_safe)
    out = frame.astype(object).where(mask == "", marker)
    out.attrs["suppression"] = mask
    return out


@dataclass(frozen=True)
class Leak:
    """One identifier found in an output file."""

    file: Path
    identifier: str
    context: str

    def __str__(self) -> str:
        return f"{self.file}: identifier {self.identifier!r} in ...{self.context}..."


_WORD = re.compile(r"[A-Za-z0-9]+")


def scan_html(
    path: str | os.PathLike,
    ids: Iterable,
    patterns: Sequence[str] = ("*.html",),
) -> list[Leak]:
    """Find identifiers from the input data in output files.

    Parameters
    ----------
    path
        A file, or a directory searched recursively for files matching ``patterns``.
    ids
        The identifiers of the input data (student and family IDs). Matched as whole
        tokens: ``"S12"`` is found in ``"id S12,"`` but not inside ``"S123"``.
    patterns
        Glob patterns of the files to read in a directory (default ``*.html``; the build
        also passes ``*.ipynb`` and ``*.json``).

    Returns
    -------
    list of Leak
        Empty when no identifier appears anywhere.
    """
    path = Path(path)
    files = [path] if path.is_file() else sorted(
        {f for pattern in patterns for f in path.rglob(pattern) if f.is_file()}
    )
    identifiers = {str(i).strip() for i in ids if i is not None and str(i).strip()}
    # Alphanumeric IDs: a set lookup over the file's tokens (fast on megabytes of base64).
    # IDs with separators ("F-0012"): one regex, bounded so a longer token does not match.
    plain = {i for i in identifiers if _WORD.fullmatch(i)}
    other = sorted(identifiers - plain, key=len, reverse=True)
    other_re = (
        re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, other)) + r")(?![A-Za-z0-9])")
        if other else None
    )
    leaks: list[Leak] = []
    for file in files:
        text = file.read_text(encoding="utf-8", errors="replace")
        found: dict[str, int] = {}
        for match in _WORD.finditer(text):
            if match.group() in plain and match.group() not in found:
                found[match.group()] = match.start()
        if other_re is not None:
            for match in other_re.finditer(text):
                found.setdefault(match.group(), match.start())
        for identifier, start in sorted(found.items(), key=lambda kv: kv[1]):
            context = text[max(0, start - 30): start + len(identifier) + 30].replace("\n", " ")
            leaks.append(Leak(file, identifier, context))
    return leaks
