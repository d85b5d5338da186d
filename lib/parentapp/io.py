"""Reading and writing the student file in the formats schools and researchers use.

``read_table`` reads CSV (comma, semicolon or tab separated; decimal point or decimal comma, as
Dutch Excel exports are; UTF-8 or Windows-1252), Excel ``.xlsx``, Stata ``.dta``, SPSS ``.sav``
and Parquet. ``load`` reads, parses and validates in one step and raises
:class:`parentapp.schema.DataValidationError` listing every problem. ``write_table`` writes the
same formats (atomically: a temporary file renamed into place).
"""

from __future__ import annotations

import io as _io
import os
import tempfile
from pathlib import Path

import pandas as pd

from parentapp import schema

FORMATS: dict[str, str] = {
    ".csv": "CSV",
    ".txt": "CSV",
    ".tsv": "CSV",
    ".xlsx": "Excel",
    ".xlsm": "Excel",
    ".dta": "Stata",
    ".sav": "SPSS",
    ".zsav": "SPSS",
    ".parquet": "Parquet",
    ".pq": "Parquet",
}

# Text read as a missing value in CSV files: empty cells and the usual spellings, plus Stata's
# "." (common when a .dta file was exported to CSV).
NA_STRINGS = ["", " ", ".", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "#N/A", "#N/B"]

_SEPARATORS = (";", ",", "\t")
_ENCODINGS = ("utf-8-sig", "cp1252")


class DataFileError(ValueError):
    """A file that cannot be read at all (missing, unknown type, corrupt); names the file."""


def _supported() -> str:
    return ", ".join(sorted(FORMATS))


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise DataFileError(
            f"{path}: old Excel .xls files are not supported; open it in Excel and save it as "
            ".xlsx (or export CSV)"
        )
    if suffix not in FORMATS:
        raise DataFileError(
            f"{path}: unknown file type '{path.suffix or '(none)'}'; supported: {_supported()}"
        )
    return FORMATS[suffix]


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _decode(raw: bytes, path: Path) -> str:
    for encoding in _ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataFileError(f"{path}: not a text file in UTF-8 or Windows-1252 encoding")


def sniff_separator(text: str) -> str:
    """The column separator of a CSV text: whichever of ';', ',', TAB is most common in the header.

    Dutch Excel writes ';' because ',' is the decimal mark; the header has no decimals, so counting
    there is unambiguous.
    """
    header = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def _numeric_or_text(values: pd.Series) -> pd.Series:
    """A text column as numbers if every non-missing entry is a number (either decimal mark)."""
    numbers = schema.to_number(values)
    if (numbers.notna() | values.isna()).all():
        if numbers.notna().all() and (numbers % 1 == 0).all():
            return numbers.astype("int64")
        return numbers
    return values


def _read_csv(path: Path) -> pd.DataFrame:
    text = _decode(path.read_bytes(), path)
    if not text.strip():
        raise DataFileError(f"{path}: the file is empty; expected a header line and one row "
                            "per student")
    sep = sniff_separator(text)
    try:
        frame = pd.read_csv(
            _io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
            na_values=NA_STRINGS, skipinitialspace=True,
        )
    except pd.errors.ParserError as exc:
        raise DataFileError(
            f"{path}: not a consistent table with separator {sep!r} ({exc}); check that every "
            "line has the same number of columns and that text with separators is quoted"
        ) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    for name in frame.columns:
        if name not in schema.ID_COLUMNS:
            frame[name] = _numeric_or_text(frame[name])
    return frame


def _read_excel(path: Path) -> pd.DataFrame:
    frame = pd.read_excel(path, sheet_name=0, na_values=NA_STRINGS, keep_default_na=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_spss(path: Path) -> pd.DataFrame:
    import pyreadstat

    frame, meta = pyreadstat.read_sav(str(path))
    # Value labels are applied only to text-coded columns (gender, track...); 0/1 and Likert
    # codes stay numbers, as the dictionary defines them.
    for name, labels in meta.variable_value_labels.items():
        col = schema.COLUMNS.get(name)
        if col is not None and col.dtype == "category" and name in frame:
            frame[name] = frame[name].map(lambda v, lab=labels: lab.get(v, v))
    return frame


def _read_stata(path: Path) -> pd.DataFrame:
    try:
        return pd.read_stata(path, convert_categoricals=True)
    except ValueError:
        # Value labels that are not unique cannot become categoricals; keep the codes.
        return pd.read_stata(path, convert_categoricals=False)


_READERS = {
    "CSV": _read_csv,
    "Excel": _read_excel,
    "Stata": _read_stata,
    "SPSS": _read_spss,
    "Parquet": pd.read_parquet,
}


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a student file into a DataFrame, format by suffix, without validating it.

    Parameters
    ----------
    path : str or path-like
        A ``.csv`` (``.txt``, ``.tsv``), ``.xlsx``, ``.dta``, ``.sav`` or ``.parquet`` file.
        CSV: the separator (';', ',' or TAB) is sniffed from the header line; numbers may use
        a decimal point or a decimal comma; ``student_id`` and ``family_id`` are kept as text.

    Returns
    -------
    DataFrame
        One row per line of the file, index 0..n-1.

    Raises
    ------
    DataFileError
        If the file is missing, has an unknown suffix or cannot be read; the message names the
        file and says what to do.
    """
    path = Path(path)
    kind = _format_of(path)
    if not path.exists():
        raise DataFileError(f"{path}: file not found (working directory: {Path.cwd()})")
    if not path.is_file():
        raise DataFileError(f"{path}: is a directory, not a data file")
    try:
        frame = _READERS[kind](path)
    except DataFileError:
        raise
    except Exception as exc:  # any reader failure becomes one clear message naming the file
        raise DataFileError(
            f"{path}: could not be read as a {kind} file ({type(exc).__name__}: {exc}); check "
            f"that the file is not damaged and that its suffix matches its content"
        ) from exc
    return frame.reset_index(drop=True)


def load(path: str | os.PathLike) -> pd.DataFrame:
    """Read, parse and validate a student file: the typed frame ready for ``sample.build``.

    Raises
    ------
    DataFileError
        If the file cannot be read.
    parentapp.schema.DataValidationError
        If the data break any rule of the dictionary or the design; the message lists every
        problem with column, rows and fix.
    """
    return schema.coerce(read_table(path), source=str(path))


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as text: Excel and SPSS writers take plain columns only."""
    out = df.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype("object").where(out[name].notna(), None)
    return out


def _write_stata(df: pd.DataFrame, path: Path) -> None:
    out = _plain(df)
    for name in out.columns:
        if out[name].dtype == object or pd.api.types.is_string_dtype(out[name]):
            out[name] = out[name].astype("object").where(out[name].notna(), "")
        elif pd.api.types.is_bool_dtype(out[name]):
            out[name] = out[name].astype("int8")
    out.to_stata(path, write_index=False, version=118)


def _write_spss(df: pd.DataFrame, path: Path) -> None:
    import pyreadstat

    out = _plain(df)
    for name in out.columns:
        if pd.api.types.is_string_dtype(out[name]):
            out[name] = out[name].astype("object")
    pyreadstat.write_sav(out, str(path))


def write_table(df: pd.DataFrame, path: str | os.PathLike, *, sep: str = ",",
                decimal: str = ".") -> Path:
    """Write a frame in the format given by the suffix, atomically.

    Parameters
    ----------
    df : DataFrame
        The data (index not written).
    path : str or path-like
        Target file; any suffix :func:`read_table` reads.
    sep, decimal : str
        CSV only: separator and decimal mark (``sep=";", decimal=","`` gives a Dutch Excel
        style file).

    Returns
    -------
    Path
        The path written. Text missing values in Stata files are written as empty strings,
        which :func:`read_table` reads back as missing only for CSV; the validator treats an
        empty id or code as missing in every format.
    """
    path = Path(path)
    kind = _format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if kind == "CSV":
            df.to_csv(tmp, index=False, sep=sep, decimal=decimal, lineterminator="\n")
        elif kind == "Excel":
            _plain(df).to_excel(tmp, index=False)
        elif kind == "Stata":
            _write_stata(df, tmp)
        elif kind == "SPSS":
            _write_spss(df, tmp)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def file_checksum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (hex)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


__all__ = [
    "FORMATS",
    "DataFileError",
    "file_checksum",
    "load",
    "read_table",
    "sniff_separator",
    "write_table",
]
