"""The data dictionary: every variable the pipeline reads, in one place.

``COLUMNS`` is the single source of truth for names, types, units and allowed values; the
validator (pandera), the simulator and ``data/README.md`` all follow it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # "str", "int", "float", "category"
    description: str
    unit: str = ""
    allowed: tuple | None = None  # allowed values (categorical/binary)
    min: float | None = None
    max: float | None = None
    nullable: bool = False  # missing values allowed (e.g. questionnaire items of non-respondents)
    required: bool = True
    source: str = ""  # where it comes from in the study


_BIN = (0, 1)
_LIKERT = (1, 2, 3, 4, 5)

COLUMNS: dict[str, Column] = {
    c.name: c
    for c in [
        Column("student_id", "str", "Student identifier (unique per row).", source="school records"),
        Column("family_id", "str", "Family identifier; siblings share it. Unit of parental randomisation.",
               source="school records"),
        Column("school", "category", "School.", allowed=("A", "B"), source="two schools in Limburg"),
        Column("grade", "int", "Grade of lower secondary (1 = brugklas, international grade 7).",
               allowed=(1, 2, 3), source="school records"),
        Column("track", "category", "Track / level.", allowed=("vmbo", "havo", "vwo"),
               source="school records"),
        Column("gender", "category", "Gender.", allowed=("boy", "girl"), source="school records"),
        Column("age", "float", "Age on 1 September 2014.", unit="years", min=10, max=18,
               nullable=True, source="school records"),
        Column("cito", "float", "Cito score (national primary-school leaving test).", unit="points",
               min=501, max=550, nullable=True, source="school records"),
        Column("both_parents_home", "int", "Home situation: 1 if both parents live at home.",
               allowed=_BIN, nullable=True, source="student questionnaire / school records"),
        Column("postcode", "int", "4-digit postcode area of the home address.", min=1000, max=9999,
               source="school records"),
        Column("ses_score", "float", "SCP 2009 status score of the postcode area (higher = higher SES).",
               unit="SCP score", min=-10, max=10, nullable=True, source="SCP statusscores 2009"),
        Column("income_avg", "float", "Average income per inhabitant in the postcode area.",
               unit="thousand EUR/year", min=5, max=100, nullable=True, source="CBS, postcode statistics"),
        Column("module_arm", "category", "Student randomisation: which half of the modules in term 1.",
               allowed=("A", "B"), source="randomisation 1 (students)"),
        Column("access", "int", "Parental randomisation: 1 if the family was given access to the app.",
               allowed=_BIN, source="randomisation 2 (families)"),
        Column("downloaded", "int", "1 if a parent downloaded the app.", allowed=_BIN,
               source="app logs"),
        Column("app_used", "int", "1 if a parent used the app (logged in with access).", allowed=_BIN,
               source="app logs"),
        Column("app_logins_per_week", "float", "Intensity of use: parental logins per week.",
               unit="logins/week", min=0, max=50, source="app logs"),
        Column("responded_student", "int", "1 if the student answered the end-of-study questionnaire.",
               allowed=_BIN, source="questionnaire"),
        Column("responded_parent", "int", "1 if a parent answered the end-of-study questionnaire.",
               allowed=_BIN, source="questionnaire"),
        Column("st_wants_more_help", "float", "Student: 'I would like my parents to help me more.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="student questionnaire"),
        Column("st_parents_interfere_less", "float",
               "Student: 'My parents should interfere less with my schoolwork.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="student questionnaire"),
        Column("st_talks_with_parents", "float", "Student: 'I talk with my parents about school.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="student questionnaire"),
        Column("pa_child_needs_help", "float", "Parent: 'My child needs a lot of help with schoolwork.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="parent questionnaire"),
        Column("pa_could_use_more_help", "float", "Parent: 'My child could use more help from us.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="parent questionnaire"),
        Column("pa_talks_with_child", "float", "Parent: 'I talk with my child about school.'",
               unit="Likert 1-5", allowed=_LIKERT, nullable=True, source="parent questionnaire"),
        Column("practice_min_math", "float", "Minutes per week practised at home, maths (Sep-Jan).",
               unit="min/week", min=0, max=600, source="homework-tool logs"),
        Column("practice_min_language", "float", "Minutes per week practised at home, language.",
               unit="min/week", min=0, max=600, source="homework-tool logs"),
        Column("practice_min_total", "float", "Minutes per week practised, maths + language.",
               unit="min/week", min=0, max=1200, source="homework-tool logs"),
        Column("score_math_sep", "float", "Maths placement test, September 2014.", unit="0-100",
               min=0, max=100, nullable=True, source="homework tool"),
        Column("score_math_jan", "float", "Maths test, January 2015.", unit="0-100", min=0, max=100,
               nullable=True, source="homework tool"),
        Column("score_lang_sep", "float", "Language placement test, September 2014.", unit="0-100",
               min=0, max=100, nullable=True, source="homework tool"),
        Column("score_lang_jan", "float", "Language test, January 2015.", unit="0-100", min=0,
               max=100, nullable=True, source="homework tool"),
    ]
}

ID_COLUMNS = ("student_id", "family_id")
STUDENT_ITEMS = ("st_wants_more_help", "st_parents_interfere_less", "st_talks_with_parents")
PARENT_ITEMS = ("pa_child_needs_help", "pa_could_use_more_help", "pa_talks_with_child")
