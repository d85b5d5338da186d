"""Seaborn/matplotlib figures for the notebooks.

Every function takes tables the package computed (never raw student rows to plot point by
point) and returns a ``matplotlib.figure.Figure``. Points resting on fewer than
``privacy.MIN_CELL`` students are left out, as the tables hide them.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from parentapp import privacy  # noqa: E402

__all__ = [
    "alignment_plot",
    "balance_plot",
    "coefficient_plot",
    "flow_diagram",
    "practice_histogram",
    "takeup_plot",
]

sns.set_theme(style="whitegrid", context="notebook")


def flow_diagram(flow: pd.DataFrame) -> plt.Figure:
    """CONSORT-style diagram of ``AnalysisSample.flow``: one box per stage with its count and
    the split by access arm, an arrow with the number dropped and why between stages."""
    n_steps = len(flow)
    fig, ax = plt.subplots(figsize=(8, 2.1 * n_steps))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, n_steps)
    for i, row in enumerate(flow.itertuples()):
        y = n_steps - i - 0.5
        text = (f"{row.stage}\nN = {row.n}  (access {row.access}, no access {row.no_access})")
        ax.text(0.35, y, text, ha="center", va="center", fontsize=10,
                bbox={"boxstyle": "round,pad=0.6", "facecolor": "#e8f0fa", "edgecolor": "#3a6ea5"})
        if i + 1 < n_steps:
            nxt = flow.iloc[i + 1]
            ax.annotate("", xy=(0.35, y - 0.62), xytext=(0.35, y - 0.38),
                        arrowprops={"arrowstyle": "->", "color": "#3a6ea5"})
            reason = str(nxt["reason"])
            if len(reason) > 60:
                reason = reason[:57] + "..."
            ax.text(0.62, y - 0.5, f"excluded: {nxt['dropped']}\n{reason}", ha="left",
                    va="center", fontsize=8, color="#444444")
    fig.tight_layout()
    return fig


def balance_plot(table: pd.DataFrame, threshold: float = 0.1) -> plt.Figure:
    """Standardised differences by covariate (a "love plot"), with +-``threshold`` lines."""
    data = table.reset_index().rename(columns={table.index.name or "index": "covariate"})
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(data) + 1.2))
    sns.scatterplot(data=data, x="std_diff", y="covariate", ax=ax, s=50, color="#3a6ea5")
    for x in (-threshold, 0.0, threshold):
        ax.axvline(x, color="grey", lw=0.8, ls="--" if x else "-")
    ax.set_xlabel("standardised difference (access - no access)")
    ax.set_ylabel("")
    fig.tight_layout()
    return fig


def coefficient_plot(frame: pd.DataFrame, title: str = "",
                     reference: Mapping[str, float] | None = None,
                     xlabel: str = "effect of app use (minutes per week)") -> plt.Figure:
    """Point estimates with their confidence intervals, one row per row of ``frame``
    (an ``analysis.effects_frame``). Rows with ``nobs`` < 10 or no estimate are left out.
    ``reference`` adds published values as diamonds (keys = row labels)."""
    shown = frame[(frame["nobs"] >= privacy.MIN_CELL) & frame["coef"].notna()]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * max(len(shown), 1) + 1.3))
    y = np.arange(len(shown))[::-1]
    ax.errorbar(shown["coef"], y, xerr=[shown["coef"] - shown["ci_low"],
                                        shown["ci_high"] - shown["coef"]],
                fmt="o", color="#3a6ea5", ecolor="#7fa6cf", capsize=3, label="estimate, 95 % CI")
    if reference:
        ref = [(reference[label], yy) for label, yy in zip(shown.index, y, strict=True)
               if label in reference]
        if ref:
            ax.scatter([r[0] for r in ref], [r[1] for r in ref], marker="D", color="#c0392b",
                       zorder=3, label="published")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [str(i) for i in shown.index])
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def practice_histogram(data: pd.DataFrame, column: str = "practice_min_total",
                       by: str = "grade", bins: int = 30) -> plt.Figure:
    """Histogram of practice minutes per week, one panel per level of ``by`` (the zeros are
    the bar at 0). Bars of fewer than 10 students are removed."""
    levels = [lv for lv in pd.unique(data[by].dropna())]
    levels = sorted(levels)
    fig, axes = plt.subplots(1, len(levels), figsize=(4 * len(levels), 3.2), sharey=True,
                             squeeze=False)
    edges = np.histogram_bin_edges(data[column].dropna(), bins=bins)
    for ax, level in zip(axes[0], levels, strict=True):
        counts, _ = np.histogram(data.loc[data[by] == level, column].dropna(), bins=edges)
        counts = np.where(counts < privacy.MIN_CELL, 0, counts)
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#3a6ea5",
               edgecolor="white")
        ax.set_title(f"{by} {level}")
        ax.set_xlabel("minutes per week")
    axes[0][0].set_ylabel("students")
    fig.tight_layout()
    return fig


def takeup_plot(table: pd.DataFrame, title: str = "") -> plt.Figure:
    """Share of students with access whose parent used the app, per group (an
    ``analysis.takeup_by_group`` table); groups with < 10 students with access are left out."""
    shown = table[table["n_access"] >= privacy.MIN_CELL]
    labels = [", ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in shown.index]
    fig, ax = plt.subplots(figsize=(6, 0.4 * max(len(shown), 1) + 1.2))
    sns.barplot(x=shown["takeup_access"].to_numpy(), y=labels, ax=ax, color="#3a6ea5")
    ax.set_xlabel("share of students with access whose parent used the app")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def alignment_plot(table: pd.DataFrame) -> plt.Figure:
    """Heat map of student-parent Spearman correlations: pairs by grade (an
    ``analysis.alignment`` table); cells on fewer than 10 pairs stay empty."""
    frame = table.reset_index()
    frame["pair"] = frame["student_item"] + "\n~ " + frame["parent_item"]
    frame.loc[frame["n"] < privacy.MIN_CELL, "rho"] = np.nan
    grid = frame.pivot(index="pair", columns=frame.columns[0], values="rho")
    fig, ax = plt.subplots(figsize=(6, 0.7 * len(grid) + 1.5))
    sns.heatmap(grid, annot=True, fmt=".2f", cmap="vlag", center=0, vmin=-1, vmax=1, ax=ax,
                cbar_kws={"label": "Spearman correlation"})
    ax.set_ylabel("")
    fig.tight_layout()
    return fig
