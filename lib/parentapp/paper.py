"""The published figures, as data: the one place a number from the article is typed.

Source: "Het effect van ouderbetrokkenheid via een app" (Dutch practitioner article; see
``shared/study.md``). Everything else in the compendium computes; this module only records
what the paper printed, so that our estimates can be shown *beside* it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Significance stars by the paper's convention: * at 10 %, ** at 5 % (two-sided).
STARS: tuple[tuple[float, str], ...] = ((0.05, "**"), (0.10, "*"))


@dataclass(frozen=True)
class PublishedEstimate:
    """One column of the paper's Table 1 (effect of app use on practice minutes per week)."""

    coef: float
    constant: float
    nobs: int
    stars: str  # "", "*" or "**" as printed

    @property
    def significant_at(self) -> float | None:
        """The smallest printed significance level (0.05, 0.10) or None."""
        return {"**": 0.05, "*": 0.10}.get(self.stars)


# Table 1: 2SLS effect of app use on practice time (minutes/week), all controls included.
TABLE1: dict[str, PublishedEstimate] = {
    "all": PublishedEstimate(coef=3.3, constant=6.9, nobs=1585, stars=""),
    "grade1": PublishedEstimate(coef=10.9, constant=-21.9, nobs=560, stars="*"),
    "grade2": PublishedEstimate(coef=13.3, constant=-32.3, nobs=581, stars="**"),
    "grade3": PublishedEstimate(coef=-17.3, constant=142.6, nobs=444, stars="**"),
}

TABLE1_LABELS: dict[str, str] = {
    "all": "All students",
    "grade1": "Grade 1",
    "grade2": "Grade 2",
    "grade3": "Grade 3",
}

# Sample and compliance figures printed in the article.
SAMPLE = {
    "students_total_min": 2450,  # "ruim 2450": just over 2450 students in grades 1-3
    "schools": 2,
    "grades": (1, 2, 3),
    "questionnaire_response_rate": 0.66,
    "respondents": 1619,
    "respondents_practised": 1403,
    "respondents_never_practised": 216,
    "mean_practice_minutes_per_week": 16.0,  # among the 1403 who practised
    "parents_downloaded": 309,
    "downloaders_with_access_share_min": 0.5,  # "ruim de helft": just over half
    "app_users": 181,
    "app_uses_per_week": 1.0,  # "a little more than once a week"
    "postcode_areas": 65,
    "table1_nobs": 1585,
    "table1_nobs_by_grade": {1: 560, 2: 581, 3: 444},
    "practice_minutes_requested_per_week": 60,  # 30 maths + 30 language
}

# Controls of the published specification (study.md, "Method").
CONTROLS_DESCRIPTION = (
    "Cito score, gender, age, home situation (both parents at home or not), SES, "
    "grade and track/level, school"
)


def stars_for(pvalue: float) -> str:
    """Stars by the paper's convention (``**`` p < 0.05, ``*`` p < 0.10)."""
    for level, mark in STARS:
        if pvalue < level:
            return mark
    return ""


def significance_phrase(pvalue: float | None) -> str:
    """How the paper's convention reads a p-value: 5 %, 10 % (not 5 %) or not at 10 %."""
    if pvalue is None or not math.isfinite(pvalue):
        return "not tested (no p-value)"
    if pvalue < 0.05:
        return "significant at 5 %"
    if pvalue < 0.10:
        return "significant at 10 % but not at 5 %"
    return "not significant at 10 %"


def se_bounds(key: str) -> tuple[float, float]:
    """The standard-error range implied by a Table 1 coefficient and its printed stars.

    Two-sided normal critical values: ``**`` means |coef|/se > 1.96, ``*`` means
    1.645 < |coef|/se <= 1.96, no star means |coef|/se <= 1.645.
    """
    est = TABLE1[key]
    b = abs(est.coef)
    if est.stars == "**":
        return (0.0, b / 1.96)
    if est.stars == "*":
        return (b / 1.96, b / 1.645)
    return (b / 1.645, float("inf"))
