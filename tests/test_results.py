"""parentapp.results: deterministic, atomic recording of notebook results."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parentapp import results


def test_record_merges_keys_and_replaces_a_rerun_key(tmp_path):
    path = tmp_path / "r.json"
    results.record("b", 1, path)
    results.record("a", {"y": 2, "x": 1}, path)
    results.record("b", 3, path)  # rerunning a cell replaces, not duplicates
    assert json.loads(path.read_text()) == {"a": {"x": 1, "y": 2}, "b": 3}
    # sorted keys at every level, two-space indent, final newline
    assert path.read_text() == '{\n  "a": {\n    "x": 1,\n    "y": 2\n  },\n  "b": 3\n}\n'


def test_floats_are_rounded_to_ten_significant_digits_and_nan_becomes_null(tmp_path):
    path = tmp_path / "r.json"
    results.record("v", [math.pi, -1 / 3, 123456789012.345, 1e-12 / 3, float("nan"),
                         float("inf"), -0.0], path)
    assert results.load(path)["v"] == [3.141592654, -0.3333333333, 123456789000.0,
                                        3.333333333e-13, None, None, 0.0]


def test_numpy_pandas_and_dataclass_values_become_plain_json(tmp_path):
    @dataclass
    class Estimate:
        coef: float
        nobs: int

    value = {
        "int": np.int64(5), "float": np.float32(0.5), "bool": np.bool_(True),
        "array": np.array([1.0, np.nan]), "series": pd.Series([1, 2], index=["a", "b"]),
        "frame": pd.DataFrame({"c": [1.5]}, index=["r"]), "est": Estimate(2.0, 10),
        "tuple": (1, 2), 3: "int key",
    }
    stored = results.record("x", value, tmp_path / "r.json")
    assert stored == {
        "int": 5, "float": 0.5, "bool": True, "array": [1.0, None], "series": {"a": 1, "b": 2},
        "frame": {"c": {"r": 1.5}}, "est": {"coef": 2.0, "nobs": 10}, "tuple": [1, 2],
        "3": "int key",
    }
    assert results.load(tmp_path / "r.json")["x"] == stored


def test_unrecordable_value_names_its_type(tmp_path):
    with pytest.raises(TypeError, match="'object'"):
        results.record("x", object(), tmp_path / "r.json")


def test_record_without_a_path_writes_nothing(tmp_path):
    assert results.record("x", np.float64(0.1 + 0.2), None) == 0.3
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "r.json"
    results.record("a", 1, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        results.record("b", object(), path)  # fails before writing: old file intact
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["r.json"]


def test_load_rejects_a_non_object(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected an object"):
        results.load(path)


def test_require_names_the_missing_part():
    data = {"table1": {"all": {"coef": 1.0}}}
    assert results.require(data, "table1.all.coef") == 1.0
    with pytest.raises(results.MissingResultError) as err:
        results.require(data, "table1.grade1.coef")
    assert "table1.grade1.coef" in str(err.value) and "'grade1'" in str(err.value)
    assert "['all']" in str(err.value)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(finite)
def test_rounding_keeps_ten_significant_digits(x):
    rounded = results.round_significant(x)
    # half a unit in the 10th digit (1 unit where rounding up would overflow the double range)
    assert rounded == pytest.approx(x, rel=1e-9, abs=0)
    # the shortest decimal that reads back as `rounded` has at most 10 significant digits
    assert len(Decimal(repr(rounded)).normalize().as_tuple().digits) <= 10


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), json_values, min_size=1, max_size=6),
       st.randoms())
def test_same_values_give_the_same_bytes_in_any_recording_order(tmp_path_factory, data, rnd):
    first, second = (tmp_path_factory.mktemp("r") / "r.json" for _ in range(2))
    keys = list(data)
    for key in keys:
        results.record(key, data[key], first)
    rnd.shuffle(keys)
    for key in keys:
        results.record(key, data[key], second)
    assert first.read_bytes() == second.read_bytes()
