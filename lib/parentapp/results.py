"""Recorded results: the JSON file every notebook run writes and the report reads.

Notebooks call ``record(key, value, path=results_path)``; the build collects each run's file
into ``report/results.json``. The files are deterministic: the same values give the same
bytes (sorted keys, floats rounded to ``SIGNIFICANT_DIGITS`` significant digits, NaN and
infinities as ``null``, no timestamps), so a rebuild on the same inputs is byte-identical.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

# 10 significant digits: far beyond what the report shows, but enough to drop the last-bit
# noise of floating point (summation order, BLAS threads) that would break byte-identity.
SIGNIFICANT_DIGITS = 10


class MissingResultError(KeyError):
    """A result the report needs was not recorded by any notebook run."""

    def __str__(self) -> str:  # KeyError would otherwise print the message in quotes
        return str(self.args[0]) if self.args else "missing result"


def round_significant(x: float, digits: int = SIGNIFICANT_DIGITS) -> float | None:
    """Round ``x`` to ``digits`` significant digits; NaN and +-inf become ``None``.

    Examples
    --------
    >>> round_significant(3.14159265358979, 4)
    3.142
    >>> round_significant(float("nan")) is None
    True
    """
    x = float(x)
    if not math.isfinite(x):
        return None
    if x == 0.0:
        return 0.0  # also turns -0.0 into 0.0, so the sign of zero never changes the bytes
    # repr with the 'g' format gives the shortest decimal with that many significant digits
    rounded = float(f"{x:.{digits}g}")
    if not math.isfinite(rounded):  # rounding up next to the largest double overflows:
        exact = Decimal(x)  # truncate towards zero instead
        step = Decimal(1).scaleb(exact.adjusted() - digits + 1)
        rounded = float(exact.quantize(step, rounding=ROUND_DOWN))
    return rounded


def normalise(value: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """Turn ``value`` into plain JSON-safe data, deterministically.

    Handles dicts (keys become ``str``), lists/tuples/sets (sets are sorted), numpy scalars
    and arrays, pandas Series (-> dict by index) and DataFrames (-> ``{column: {row: value}}``),
    dataclasses, objects with a ``to_dict()`` method, ``pathlib.Path`` (-> str) and floats
    (rounded; NaN/inf -> ``None``).

    Raises
    ------
    TypeError
        For values with no JSON meaning, naming the type.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return round_significant(value, digits)
    # numpy / pandas without importing them unless the value comes from them
    module = type(value).__module__
    if module.startswith("numpy"):
        import numpy as np

        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return round_significant(float(value), digits)
        if isinstance(value, np.ndarray):
            return [normalise(v, digits) for v in value.tolist()]
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return normalise(value.to_dict(orient="dict"), digits)
        if isinstance(value, pd.Series):
            return normalise(value.to_dict(), digits)
        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): normalise(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v, digits) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(normalise(v, digits) for v in value)
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return normalise(dataclasses.asdict(value), digits)
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return normalise(value.to_dict(), digits)
    raise TypeError(
        f"cannot record a value of type {type(value).__name__!r}: record numbers, strings, "
        "booleans, lists, dicts, numpy/pandas objects or objects with a to_dict() method"
    )


def dumps(data: Mapping[str, Any]) -> str:
    """The canonical JSON text of ``data`` (normalised, sorted keys, 2-space indent, newline)."""
    return json.dumps(normalise(data), sort_keys=True, indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def write(data: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``data`` canonically to ``path`` atomically (temp file in the same dir, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results file.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a JSON object, naming the file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); delete it and rerun") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, expected an object")
    return data


def record(key: str, value: Any, path: str | os.PathLike | None) -> Any:
    """Merge ``{key: value}`` into the results file at ``path`` and return the stored value.

    An existing ``key`` is replaced (so rerunning a notebook cell is harmless); other keys
    are kept. With ``path=None`` (a notebook opened interactively, not run by the build)
    nothing is written and the normalised value is returned, so the same notebook code
    works in both situations.

    Parameters
    ----------
    key
        Top-level name, e.g. ``"table1"`` or ``"claims"`` (see shared/design.md).
    value
        Anything :func:`normalise` accepts.
    path
        The run's ``results_path`` papermill parameter.

    Examples
    --------
    >>> record("answer", 42.0, None)
    42.0
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"result key must be a non-empty string, got {key!r}")
    stored = normalise(value)
    if path is None:
        return stored
    path = Path(path)
    data = load(path) if path.exists() else {}
    data[key] = stored
    write(data, path)
    return stored


def require(data: Mapping[str, Any], dotted_key: str, source: str = "results.json") -> Any:
    """Look up ``"a.b.c"`` in nested ``data``, failing loudly with the missing part named.

    Raises
    ------
    MissingResultError
        Naming the full key, the part that is missing and the keys that do exist there.
    """
    node: Any = data
    walked: list[str] = []
    for part in dotted_key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            where = ".".join(walked) or "the top level"
            have = sorted(node) if isinstance(node, Mapping) else type(node).__name__
            raise MissingResultError(
                f"{source} has no '{dotted_key}' (no '{part}' under {where}; found: {have}). "
                "A notebook in the manifest must record it with "
                f"parentapp.results.record({dotted_key.split('.')[0]!r}, ..., results_path)."
            )
        node = node[part]
        walked.append(part)
    return node
