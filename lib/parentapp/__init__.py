"""parentapp: re-analysis of a randomised field experiment on parental involvement via a school app.

Modules, one concern each: ``schema`` (data dictionary, validation), ``io`` (reading files),
``simulate`` (calibrated synthetic trial), ``sample`` (analysis sample, attrition flow),
``estimate`` (ITT / first stage / 2SLS), ``inference`` (design-based and robust inference),
``paper`` (published figures as data), ``claims`` (replication scorecard), ``tables``,
``figures``, ``privacy`` (disclosure control), ``build`` (report pipeline), ``cli``.
"""

__version__ = "0.1.0"
