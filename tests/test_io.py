"""parentapp.io: every format round-trips to the same typed data; Dutch Excel CSV exports are
read; unreadable files give one clear message naming the file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from parentapp import io, schema
from parentapp.io import DataFileError
from parentapp.schema import DataValidationError

FORMATS = [".csv", ".xlsx", ".dta", ".sav", ".parquet"]


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return schema.example(n_students=150, seed=5)


@pytest.fixture(scope="module")
def typed(raw) -> pd.DataFrame:
    return schema.coerce(raw)


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("typed_input", [False, True], ids=["raw", "typed"])
def test_round_trip_every_format(tmp_path, raw, typed, suffix, typed_input):
    path = tmp_path / f"trial{suffix}"
    io.write_table(typed if typed_input else raw, path)
    back = io.load(path)
    pd.testing.assert_frame_equal(back, typed)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left


def test_dutch_excel_csv_semicolon_and_decimal_comma_is_valid(tmp_path, raw, typed):
    path = tmp_path / "export.csv"
    io.write_table(raw, path, sep=";", decimal=",")
    text = path.read_text()
    header, first = text.splitlines()[:2]
    assert header.count(";") == len(raw.columns) - 1
    assert "," in first and "." not in first.replace(".0;", ";")  # decimals use commas
    pd.testing.assert_frame_equal(io.load(path), typed)


def test_handwritten_dutch_csv_values(tmp_path):
    ex = schema.example(n_students=3, seed=1)
    ex["practice_min_math"] = [15.5, 0.0, 2.25]
    ex["practice_min_total"] = ex["practice_min_math"] + ex["practice_min_language"]
    lines = [";".join(ex.columns)]
    for _, row in ex.iterrows():
        cells = []
        for value in row:
            if isinstance(value, float):
                cells.append("" if np.isnan(value) else repr(value).replace(".", ","))
            else:
                cells.append(str(value))
        lines.append(";".join(cells))
    path = tmp_path / "handmade.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    assert "15,5" in path.read_text(encoding="cp1252")
    loaded = io.load(path)
    np.testing.assert_array_equal(loaded["practice_min_math"], [15.5, 0.0, 2.25])
    assert loaded["student_id"].tolist() == ex["student_id"].tolist()


def test_separator_sniffing():
    assert io.sniff_separator("a;b;c\n1,5;2;3\n") == ";"
    assert io.sniff_separator("a,b,c\n1.5,2,3\n") == ","
    assert io.sniff_separator("a\tb\tc\n1,5\t2\t3\n") == "\t"
    assert io.sniff_separator("\ufeffa;b\n") == ";"


def test_tab_separated_with_windows_encoding_and_ids_with_leading_zeros(tmp_path):
    ex = schema.example(n_students=20, seed=2)
    ex["student_id"] = [f"{i:05d}" for i in range(20)]
    ex["remark"] = "café"  # an extra column with a non-ASCII character
    path = tmp_path / "trial.tsv"
    path.write_bytes(ex.to_csv(sep="\t", index=False).encode("cp1252"))
    frame = io.read_table(path)
    assert frame["student_id"].tolist() == ex["student_id"].tolist()
    assert frame["remark"].eq("café").all()
    loaded = io.load(path)
    assert loaded["student_id"].iloc[3] == "00003"


def test_numeric_ids_from_stata_become_text_without_decimals(tmp_path, raw):
    frame = raw.copy()
    frame["student_id"] = np.arange(1, len(frame) + 1, dtype=float)
    frame["family_id"] = frame["family_id"].str[1:].astype(int)
    path = tmp_path / "trial.dta"
    io.write_table(frame, path)
    loaded = io.load(path)
    assert loaded["student_id"].iloc[:3].tolist() == ["1", "2", "3"]
    assert loaded["family_id"].tolist() == [str(v) for v in frame["family_id"]]


def test_spss_value_labels_apply_to_text_codes_only(tmp_path, raw, typed):
    frame = raw.copy()
    frame["gender"] = frame["gender"].map({"boy": 1, "girl": 2})
    frame["track"] = frame["track"].map({"vmbo": 1, "havo": 2, "vwo": 3})
    path = tmp_path / "trial.sav"
    pyreadstat.write_sav(
        frame, str(path),
        variable_value_labels={
            "gender": {1: "boy", 2: "girl"},
            "track": {1: "vmbo", 2: "havo", 3: "vwo"},
            "access": {0: "no", 1: "yes"},  # labels of a 0/1 code must not replace the code
        },
    )
    pd.testing.assert_frame_equal(io.load(path), typed)


def test_excel_cells_typed_as_text_are_parsed(tmp_path, raw, typed):
    frame = raw.astype(object)
    frame["cito"] = [("" if pd.isna(v) else str(int(v))) for v in raw["cito"]]
    frame["age"] = [("" if pd.isna(v) else f"{v}".replace(".", ",")) for v in raw["age"]]
    path = tmp_path / "text_cells.xlsx"
    frame.to_excel(path, index=False)
    pd.testing.assert_frame_equal(io.load(path), typed)


# ---------------------------------------------------------------- unreadable files


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DataFileError, match=r"nothere\.csv: file not found"):
        io.read_table(tmp_path / "nothere.csv")


def test_unknown_suffix_names_file_and_supported_formats(tmp_path):
    path = tmp_path / "trial.json"
    path.write_text("{}")
    with pytest.raises(DataFileError) as info:
        io.read_table(path)
    assert "trial.json" in str(info.value) and ".parquet" in str(info.value)
    with pytest.raises(DataFileError, match="unknown file type"):
        io.write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.json")


def test_old_excel_gets_a_save_as_hint(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DataFileError, match=r"old\.xls.*save it as \.xlsx"):
        io.read_table(path)


def test_directory_is_not_a_file(tmp_path):
    folder = tmp_path / "looks_like.csv"
    folder.mkdir()
    with pytest.raises(DataFileError, match="is a directory"):
        io.read_table(folder)


@pytest.mark.parametrize("suffix", [".parquet", ".xlsx", ".dta", ".sav"])
def test_corrupt_binary_file(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"this is not a real file" * 10)
    with pytest.raises(DataFileError) as info:
        io.read_table(path)
    message = str(info.value)
    assert f"broken{suffix}" in message and "could not be read" in message


def test_empty_and_ragged_csv(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataFileError, match=r"empty\.csv: the file is empty"):
        io.read_table(empty)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(DataFileError, match=r"ragged\.csv: not a consistent table"):
        io.read_table(ragged)


def test_header_only_csv_is_read_and_fails_validation(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(",".join(schema.COLUMNS) + "\n")
    assert len(io.read_table(path)) == 0
    with pytest.raises(DataValidationError, match="no data rows"):
        io.load(path)


def test_load_lists_every_problem_with_file_column_and_line(tmp_path, raw):
    frame = raw.copy()
    frame.loc[0, "cito"] = 10
    frame.loc[2, "grade"] = 7
    path = tmp_path / "bad.csv"
    io.write_table(frame, path)
    with pytest.raises(DataValidationError) as info:
        io.load(path)
    message = str(info.value)
    assert f"{path}: 2 problem(s)" in message
    assert f"{path}: column 'cito', line 2:" in message
    assert f"{path}: column 'grade', line 4:" in message


def test_write_replaces_atomically(tmp_path, raw):
    path = tmp_path / "trial.parquet"
    io.write_table(raw, path)
    io.write_table(raw.iloc[:10], path)
    assert len(io.read_table(path)) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trial.parquet"]


def test_checksum_is_sha256(tmp_path):
    import hashlib

    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert io.file_checksum(path) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()


# ---------------------------------------------------------------- the calibrated synthetic trial


@pytest.fixture(scope="module")
def trial():
    from parentapp import simulate

    return simulate.simulate()


@pytest.mark.parametrize("suffix", FORMATS)
def test_synthetic_trial_validates_in_every_format(tmp_path, trial, suffix):
    """Files written by the simulator's own writers are read back as the same valid data."""
    path = trial.write(tmp_path / f"trial{suffix}")
    loaded = io.load(path)
    assert schema.errors_only(schema.validate(loaded, str(path))) == []
    pd.testing.assert_frame_equal(loaded, schema.coerce(trial.data))


def test_synthetic_trial_as_dutch_csv(tmp_path, trial):
    path = io.write_table(trial.data, tmp_path / "trial_nl.csv", sep=";", decimal=",")
    pd.testing.assert_frame_equal(io.load(path), schema.coerce(trial.data))


def test_embedded_default_is_the_simulated_trial(trial):
    """So the every-format test above covers the embedded file too (xlsx is slow to repeat)."""
    from parentapp import paths

    pd.testing.assert_frame_equal(io.load(paths.DEFAULT_DATA), schema.coerce(trial.data))
