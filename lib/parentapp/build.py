"""The report build: papermill runs from a manifest, rendered to offline HTML, cached.

``build()`` reads ``report/manifest.yml`` (a list of runs: ``name``, ``notebook``, ``title``,
``parameters``), executes every run with papermill (``data_path`` and ``results_path``
injected), renders each executed notebook to a static page with nbconvert, and writes
``index.html`` and ``results.json``.

- **Incremental**: each run is cached under ``<out>/.cache`` by a hash of its notebook, its
  parameters, the data file's SHA-256, the package code (``lib/parentapp/**``) and the
  environment lock; an unchanged run is not executed again.
- **Parallel**: up to ``jobs`` runs execute at once, each papermill run in its own process.
- **Atomic and loud**: everything is built in a staging directory and moved into ``out``
  only when every run succeeded, the index had every result it needs, no external URL is
  referenced and no identifier of the input data appears in the output. On failure
  :class:`BuildError` names the notebook, the failing cell and the exception, and the
  failed executed notebook is kept in ``<out>/failed/``; the previous report is untouched.
- **Offline**: the pages use their own templates (no require.js, MathJax or web fonts);
  images are embedded.

Output layout: ``index.html``, ``results.json``, ``pages/<name>.html``,
``runs/<name>.ipynb`` (the executed notebooks, for analysts).
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from parentapp import paths, results
from parentapp.privacy import MARKER, MIN_CELL

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
NBCONVERT_TEMPLATE = "report_page"
KERNEL = "parentapp"
LOCK_FILE = paths.ROOT / "requirements.lock"
ID_COLUMNS = ("student_id", "family_id")
INJECTED = ("data_path", "results_path")
TABLE1_KEYS = ("all", "grade1", "grade2", "grade3")
TABLE1_FIELDS = ("coef", "se", "pvalue", "ci_low", "ci_high", "nobs", "first_stage_f")
CLAIM_FIELDS = ("id", "text", "holds", "evidence")
# results.json keys the build writes itself; "truth" holds the true effects of simulated data
RESERVED_KEYS = ("runs", "provenance", "truth")
_BUILT_AT, _BUILD_TOOK = "@@built-at@@", "@@build-took@@"  # filled in after the leak scan
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# src=/href= to another host, protocol-relative URLs and CSS url()/@import of a remote file
_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|srcset|data|poster|action)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import\s+["']?\s*(?:https?:)?//)""",
    re.IGNORECASE,
)


class BuildError(RuntimeError):
    """The report could not be built; the message says what and where. ``out`` is untouched."""


class RunFailed(BuildError):
    """A notebook run raised. Attributes name the run, the cell and the kept notebook."""

    def __init__(self, failures: Sequence[Mapping[str, Any]]):
        self.failures = list(failures)
        super().__init__("\n\n".join(_describe_failure(f) for f in self.failures))


class MissingResults(BuildError, results.MissingResultError):
    """The runs did not record a result the index page shows (names every missing key)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "missing results"


@dataclass(frozen=True)
class Run:
    """One entry of the manifest: a notebook and the papermill parameters of this run."""

    name: str
    notebook: Path
    title: str
    parameters: dict[str, Any]
    publish: tuple[str, ...] | None = None  # top-level results keys this run provides
    expected_seconds: float = 0.0  # rough run time: long runs start first (see _start_order)


@dataclass(frozen=True)
class Manifest:
    path: Path
    title: str
    runs: tuple[Run, ...]


@dataclass
class RunRecord:
    """What happened to one run in a build."""

    name: str
    cached: bool
    seconds: float  # execution time (of the original run when cached)


@dataclass
class BuildSummary:
    """Returned by :func:`build`."""

    out: Path
    runs: list[RunRecord] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def executed(self) -> list[str]:
        return [r.name for r in self.runs if not r.cached]

    @property
    def cached(self) -> list[str]:
        return [r.name for r in self.runs if r.cached]


# --------------------------------------------------------------------------- manifest


def read_manifest(path: str | os.PathLike = paths.MANIFEST) -> Manifest:
    """Read and check a run manifest.

    The YAML file is either a list of runs or a mapping with ``runs`` (the list) and
    optionally ``title`` (the report title) and ``notebooks_dir`` (where notebook paths are
    relative to; default ``notebooks/`` of the project, or relative to the manifest file).
    Each run has ``name`` (unique; lower case, digits, ``-``/``_``: it names the page),
    ``notebook``, ``title``, optional ``parameters`` (a mapping; ``data_path`` and
    ``results_path`` are injected by the build and may not be set here) and optional
    ``publish``: the top-level results keys this run contributes to ``results.json``
    (default: every key it records for the first run of a notebook, none for reruns of the
    same notebook, which appear under ``runs.<name>`` only), and optional
    ``expected_seconds``: a rough run time, so that long runs start first when no earlier
    timing is in the cache.

    Raises
    ------
    BuildError
        Listing every problem found, with the run it belongs to.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise BuildError(f"run manifest not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BuildError(f"{path} is not valid YAML: {exc}") from exc
    if isinstance(raw, list):
        raw = {"runs": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("runs"), list) or not raw["runs"]:
        raise BuildError(f"{path}: expected a non-empty list of runs (or a mapping with 'runs:')")
    base = paths.NOTEBOOKS_DIR
    if raw.get("notebooks_dir") is not None:
        base = (path.parent / str(raw["notebooks_dir"])).resolve()
    problems: list[str] = []
    runs: list[Run] = []
    seen: set[str] = set()
    for number, entry in enumerate(raw["runs"], start=1):
        where = f"run {number}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping with name, notebook, title")
            continue
        name = entry.get("name")
        where = f"run {number} ({name!r})"
        unknown = set(entry) - {"name", "notebook", "title", "parameters", "publish",
                                "expected_seconds"}
        if unknown:
            problems.append(f"{where}: unknown field(s) {sorted(unknown)}")
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{where}: 'name' must be lower case letters, digits, '-' or '_'")
        elif name in seen:
            problems.append(f"{where}: name {name!r} is used twice")
        elif name == "failed":
            problems.append(f"{where}: name 'failed' is reserved")
        seen.add(str(name))
        notebook = entry.get("notebook")
        nb_path = None
        if not isinstance(notebook, str):
            problems.append(f"{where}: 'notebook' (a path relative to {base}) is missing")
        else:
            nb_path = (base / notebook).resolve()
            if not nb_path.is_file():
                problems.append(f"{where}: notebook not found: {nb_path}")
        title = entry.get("title")
        if not isinstance(title, str) or not title.strip():
            problems.append(f"{where}: 'title' (shown as the page heading) is missing")
        parameters = entry.get("parameters") or {}
        if not isinstance(parameters, dict):
            problems.append(f"{where}: 'parameters' must be a mapping of name: value")
            parameters = {}
        clash = [p for p in INJECTED if p in parameters]
        if clash:
            problems.append(f"{where}: {clash} are set by the build; remove them from the manifest")
        publish = entry.get("publish")
        if publish is not None and not (
            isinstance(publish, list) and all(isinstance(k, str) for k in publish)
        ):
            problems.append(f"{where}: 'publish' must be a list of result keys")
        expected = entry.get("expected_seconds", 0)
        if isinstance(expected, bool) or not isinstance(expected, int | float) or expected < 0:
            problems.append(f"{where}: 'expected_seconds' must be a number of seconds >= 0")
            expected = 0
        if nb_path is not None:
            runs.append(Run(str(name), nb_path, str(title), dict(parameters),
                            None if publish is None else tuple(publish), float(expected)))
    if problems:
        raise BuildError(f"{path} has {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    return Manifest(path=path, title=str(raw.get("title") or "Parental involvement through "
                                         "a school app: a re-analysis"), runs=tuple(runs))


def with_parameters(manifest: Manifest, overrides: Mapping[str, Any]) -> Manifest:
    """The manifest with ``overrides`` set in every run's parameters (overriding the manifest).

    Raises
    ------
    BuildError
        When an override names a parameter the build injects (``data_path``, ``results_path``).
    """
    clash = sorted(set(overrides) & set(INJECTED))
    if clash:
        raise BuildError(f"parameters {clash} are set by the build (use data=... for the data "
                         "file); remove them from the overrides")
    if not overrides:
        return manifest
    runs = tuple(replace(run, parameters={**run.parameters, **overrides})
                 for run in manifest.runs)
    return replace(manifest, runs=runs)


# --------------------------------------------------------------------------- hashing


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def code_hash(package_dir: Path = PACKAGE_DIR, pattern: str = "*.py") -> str:
    """One hash of the package code: every ``*.py`` file (or ``pattern``), by path and content.

    Templates are not part of it: a change of page design re-renders cached runs (see
    :func:`template_hash`) but never re-executes a notebook.
    """
    digest = hashlib.sha256()
    files = sorted(f for f in package_dir.rglob(pattern)
                   if f.is_file() and "__pycache__" not in f.parts)
    for file in files:
        digest.update(file.relative_to(package_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def template_hash() -> str:
    """Hash of the nbconvert template that renders a page body from an executed notebook."""
    return code_hash(TEMPLATES_DIR / "nbconvert", "*")


def run_key(run: Run, data_sha256: str, package_sha256: str, lock_sha256: str,
            kernel: str = KERNEL) -> str:
    """The cache key of a run: it changes exactly when the run's output could."""
    payload = {
        "notebook": sha256_file(run.notebook),
        "parameters": results.normalise(run.parameters),
        "data": data_sha256,
        "code": package_sha256,
        "lock": lock_sha256,
        "kernel": kernel,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def git_commit(root: Path = paths.ROOT) -> str:
    """Short commit of ``root``, with ``-dirty`` when tracked files differ from it."""
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + ("-dirty" if dirty else "")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DataSource:
    """The data file a build runs on, as the banner and the colophons describe it."""

    path: Path | None  # the file, or None when the embedded default is absent
    injected: str | None  # the value of the data_path parameter
    kind: str  # "synthetic-default", "synthetic" or "real"
    sha256: str
    truth: Path | None = None  # <stem>.truth.json of a simulated file: the true effects

    def true_table1(self) -> dict[str, float] | None:
        """The true complier effects behind Table 1 (``all``, ``grade1``, ...) of simulated
        data, from the truth file ``parentapp simulate`` writes beside it; else ``None``."""
        if self.truth is None or not self.truth.is_file():
            return None
        try:
            table1 = json.loads(self.truth.read_text(encoding="utf-8"))["table1"]
            return {key: float(table1[key]) for key in TABLE1_KEYS}
        except (ValueError, KeyError, TypeError) as exc:
            raise BuildError(
                f"{self.truth} is not a truth file of parentapp simulate (no table1 with "
                f"{', '.join(TABLE1_KEYS)}): {exc}. Regenerate the data with parentapp simulate "
                "or remove the file if the data are real.") from exc

    @property
    def label(self) -> str:
        name = self.path.name if self.path else "(none)"
        return {"synthetic-default": f"embedded synthetic default ({name})",
                "synthetic": f"synthetic file {name}",
                "real": f"data file {name}"}[self.kind]


def describe_data(data: str | os.PathLike | None) -> DataSource:
    """Classify the data: the embedded synthetic default, another simulated file (it has a
    ``<stem>.truth.json`` beside it, written by ``parentapp simulate``), or real records."""
    if data is None or Path(data).resolve() == paths.DEFAULT_DATA.resolve():
        file = paths.DEFAULT_DATA
        sha = sha256_file(file) if file.is_file() else "absent"
        return DataSource(file, None, "synthetic-default", sha, paths.DEFAULT_TRUTH)
    file = Path(data).resolve()
    if not file.is_file():
        raise BuildError(f"data file not found: {file}")
    truth = file.with_name(file.stem + ".truth.json")
    if truth.is_file():
        return DataSource(file, str(file), "synthetic", sha256_file(file), truth)
    return DataSource(file, str(file), "real", sha256_file(file))


def input_identifiers(path: Path | None) -> set[str]:
    """The student and family IDs in the data file (for the leak scan); empty if no file."""
    if path is None or not path.is_file():
        return set()
    from parentapp.io import read_table

    frame = read_table(path)
    ids: set[str] = set()
    for column in ID_COLUMNS:
        if column in frame.columns:
            ids.update(frame[column].dropna().astype(str).str.strip())
    return {i for i in ids if i}


# --------------------------------------------------------------------------- one run


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _describe_failure(failure: Mapping[str, Any]) -> str:
    lines = [f"Notebook run '{failure['name']}' ({failure['notebook']}) failed"]
    if failure.get("cell_index") is not None:
        lines[0] += f" in cell {failure['cell_index']}"
        if failure.get("exec_count") is not None:
            lines[0] += f" (In [{failure['exec_count']}])"
    lines[0] += ":"
    if failure.get("source"):
        lines.append("  cell source:\n" + _excerpt(failure["source"], failure.get("line")))
    lines.append(f"  exception: {failure['ename']}: {failure['evalue']}")
    if failure.get("kept"):
        lines.append(f"  executed notebook kept for inspection: {failure['kept']}")
    if failure.get("kernel_log") and failure.get("cell_index") is None:
        lines.append(f"  the kernel's own messages: {failure['kernel_log']}")
    lines.append("  The previous report was left untouched.")
    return "\n".join(lines)


def _excerpt(source: str, line: int | None, context: int = 4) -> str:
    """Source lines around the failing ``line`` (1-based), marked ``>``; else the first 12."""
    rows = source.splitlines()
    if line is None or not 1 <= line <= len(rows):
        first, last = 0, min(len(rows), 12)
    else:
        first, last = max(0, line - 1 - context), min(len(rows), line + context)
    shown = [("  > " if i + 1 == line else "    ") + f"{i + 1:>3} | {rows[i]}"
             for i in range(first, last)]
    if first > 0:
        shown.insert(0, "        ...")
    if last < len(rows):
        shown.append("        ...")
    return "\n".join(shown)


def _failing_line(traceback_lines: Sequence[str]) -> int | None:
    """The line of the notebook cell where the exception surfaced (IPython's "Cell In[n],
    line k" or the "---> k" arrow of the first frame)."""
    text = _strip_ansi("\n".join(traceback_lines))
    found = re.search(r"Cell In\[\d+\], line (\d+)", text) or re.search(r"^-+> *(\d+)", text,
                                                                        re.MULTILINE)
    return int(found.group(1)) if found else None


def _execute_run(job: dict[str, Any]) -> dict[str, Any]:
    """Execute one run with papermill and render its page body (runs in a worker process).

    Writes ``executed.ipynb``, ``body.html``, ``results.json`` and ``meta.json`` into a
    temporary directory and renames it to ``job['entry']`` only on success, so a cache
    entry is always complete.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    entry = Path(job["entry"])
    work = Path(tempfile.mkdtemp(prefix=f".{job['name']}-", dir=entry.parent.parent))
    executed = work / "executed.ipynb"
    run_results = work / "results.json"
    parameters = dict(job["parameters"])
    parameters["data_path"] = job["data_path"]
    parameters["results_path"] = str(run_results)
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    failure: dict[str, Any] | None = None
    # The kernel inherits this process's standard error and chatters there (transport
    # warnings, shutdown notices); send it to a log beside the run so the progress display
    # stays one line per run. Restored afterwards: this function may run in the caller.
    kernel_log = open(work / "kernel-stderr.log", "w")  # noqa: SIM115 (closed below)
    saved_stderr = os.dup(2)
    os.dup2(kernel_log.fileno(), 2)
    try:
        papermill.execute_notebook(
            job["notebook"], str(executed), parameters=parameters, kernel_name=job["kernel"],
            cwd=str(Path(job["notebook"]).parent), progress_bar=False, log_output=False,
        )
    except PapermillExecutionError as exc:
        failure = {"cell_index": exc.cell_index, "exec_count": exc.exec_count,
                   "source": exc.source, "ename": exc.ename, "evalue": _strip_ansi(exc.evalue),
                   "line": _failing_line(exc.traceback or [])}
    except Exception as exc:  # kernel died, no such kernel, unreadable notebook, ...
        failure = {"cell_index": None, "exec_count": None, "source": None,
                   "ename": type(exc).__name__, "evalue": str(exc),
                   "traceback": traceback.format_exc()}
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        kernel_log.close()
    seconds = time.perf_counter() - clock
    if failure is not None:
        failure.update(name=job["name"], notebook=job["notebook"], ok=False,
                       executed=str(executed) if executed.is_file() else None, work=str(work))
        return failure
    try:
        body = render_body(executed)
        run_data = results.load(run_results) if run_results.is_file() else {}
        results.write(run_data, run_results)
        (work / "body.html").write_text(body, encoding="utf-8")
        meta = {"name": job["name"], "started": started.strftime("%Y-%m-%d %H:%M:%S"),
                "seconds": round(seconds, 2), "git_commit": job["git_commit"],
                "key": job["key"], "template": template_hash()}
        (work / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if entry.exists():
            shutil.rmtree(entry)
        entry.parent.mkdir(parents=True, exist_ok=True)
        os.replace(work, entry)
    except Exception as exc:
        return {"name": job["name"], "notebook": job["notebook"], "ok": False,
                "cell_index": None, "exec_count": None, "source": None,
                "ename": type(exc).__name__, "evalue": f"while rendering: {exc}",
                "executed": str(executed) if executed.is_file() else None, "work": str(work)}
    return {"name": job["name"], "ok": True, "seconds": seconds}


def render_body(executed_notebook: str | os.PathLike) -> str:
    """The HTML of an executed notebook's cells (no page chrome), via nbconvert.

    Uses the ``report_page`` template: nbconvert's "basic" template (nothing loaded from
    the web) with code in "Show code" toggles and no input/output prompts.
    """
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name=NBCONVERT_TEMPLATE,
        extra_template_basedirs=[str(TEMPLATES_DIR / "nbconvert")],
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    notebook = drop_leading_title(nbformat.read(str(executed_notebook), as_version=4))
    body, _ = exporter.from_notebook_node(notebook)
    return body


def drop_leading_title(notebook):
    """The notebook without the level-1 heading that opens its first cell (in place).

    The page already shows the run's title from the manifest as its one ``<h1>`` (more
    specific for reruns, e.g. "7a. Robustness: ..."), so the notebook's own title would
    repeat it. Other headings, and a first cell that does not open with ``# ``, are kept.
    """
    if not notebook.cells or notebook.cells[0].cell_type != "markdown":
        return notebook
    first = notebook.cells[0]
    lines = first.source.lstrip("\n").splitlines()
    if not lines or not re.match(r"^#\s+\S", lines[0]):
        return notebook
    rest = "\n".join(lines[1:]).strip("\n")
    if rest:
        first.source = rest
    else:
        del notebook.cells[0]
    return notebook


# --------------------------------------------------------------------------- results


def merge_results(manifest: Manifest, per_run: Mapping[str, Mapping[str, Any]],
                  provenance: Mapping[str, Any]) -> dict[str, Any]:
    """Combine the runs' recorded results: published keys at the top, all under ``runs``.

    The build adds ``provenance`` and, for simulated data, ``truth`` (see :data:`RESERVED_KEYS`).

    Raises
    ------
    BuildError
        When two runs publish the same top-level key (set ``publish:`` in the manifest).
    """
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    first_of_notebook: dict[Path, str] = {}
    for run in manifest.runs:
        first_of_notebook.setdefault(run.notebook, run.name)
    for run in manifest.runs:
        recorded = per_run.get(run.name, {})
        if run.publish is not None:
            missing = [k for k in run.publish if k not in recorded]
            if missing:
                raise BuildError(
                    f"run '{run.name}' ({run.notebook.name}) is to publish {missing} "
                    f"(manifest 'publish:') but did not record them; it recorded {sorted(recorded)}"
                )
            keys = list(run.publish)
        elif first_of_notebook[run.notebook] == run.name:
            keys = list(recorded)
        else:
            keys = []
        for key in keys:
            if key in RESERVED_KEYS:
                raise BuildError(f"run '{run.name}' records the reserved key {key!r}; rename it")
            if key in owner:
                raise BuildError(
                    f"runs '{owner[key]}' and '{run.name}' both record the top-level result "
                    f"{key!r}; list the keys each run publishes with 'publish:' in "
                    f"{manifest.path}"
                )
            owner[key] = run.name
            merged[key] = recorded[key]
    merged["runs"] = {run.name: per_run.get(run.name, {}) for run in manifest.runs}
    merged["provenance"] = dict(provenance)
    return merged


def check_index_results(data: Mapping[str, Any]) -> None:
    """Fail loudly, naming every missing key, if results lack what the index shows."""
    missing: list[str] = []
    for key in TABLE1_KEYS:
        for name in TABLE1_FIELDS:
            try:
                results.require(data, f"table1.{key}.{name}")
            except results.MissingResultError:
                missing.append(f"table1.{key}.{name}")
    claims = data.get("claims")
    if not isinstance(claims, list) or not claims:
        missing.append("claims (a non-empty list of {id, text, holds, evidence})")
    else:
        for number, claim in enumerate(claims):
            absent = [f for f in CLAIM_FIELDS if not isinstance(claim, Mapping) or f not in claim]
            missing += [f"claims[{number}].{f}" for f in absent]
    if missing:
        raise MissingResults(
            "results.json lacks what the index page shows: " + ", ".join(missing)
            + ". A notebook in the manifest must record them with parentapp.results.record()."
        )


# --------------------------------------------------------------------------- index content


def _fmt(x: float | None, digits: int = 1, sign: bool = False) -> str:
    if x is None:
        return "–"
    text = f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"
    return text.replace("-", "−")


def table1_frame(data: Mapping[str, Any]):
    """Our Table 1 beside the paper's, as a DataFrame passed through privacy.suppress.

    With simulated data (``truth`` in the results) a ``truth`` column holds the true complier
    effect each estimate is after.
    """
    import pandas as pd

    from parentapp import paper, privacy

    truth = (data.get("truth") or {}).get("table1")
    rows = []
    for key in TABLE1_KEYS:
        est = data["table1"][key]
        published = paper.TABLE1[key]
        stars = paper.stars_for(est["pvalue"]) if est["pvalue"] is not None else ""
        row = {
            "estimate": _fmt(est["coef"], sign=True) + stars,
            "se": _fmt(est["se"], 2),
            "ci": f"{_fmt(est['ci_low'])} to {_fmt(est['ci_high'])}",
            "nobs": str(int(est["nobs"])),
            "first_stage_f": _fmt(est["first_stage_f"], 1),
        }
        if truth is not None:
            row["truth"] = _fmt(truth[key], sign=True)
        row["published"] = _fmt(published.coef, sign=True) + published.stars
        row["published_nobs"] = str(published.nobs)
        rows.append(row)
    shown = pd.DataFrame(rows, index=list(TABLE1_KEYS))
    counts = pd.DataFrame({c: [data["table1"][k]["nobs"] for k in TABLE1_KEYS]
                           for c in shown.columns}, index=list(TABLE1_KEYS))
    # the paper's columns describe the paper's sample, not this data: never hidden
    counts[["published", "published_nobs"]] = privacy.MIN_CELL
    return privacy.suppress(shown, counts, margins=["all"])


def summarise(data: Mapping[str, Any], table=None) -> list[str]:
    """Plain-language findings, generated from the results (no number typed by hand)."""
    from parentapp import paper, privacy

    table = table1_frame(data) if table is None else table
    hidden = table.attrs["suppression"]
    sentences = []
    for key in TABLE1_KEYS:
        label = paper.TABLE1_LABELS[key]
        group = "across all grades" if key == "all" else f"in {label.lower()}"
        if (hidden.loc[key, ["estimate", "ci"]] != "").any():
            sentences.append(f"{label}: too few students to report ({privacy.MARKER}).")
            continue
        est = data["table1"][key]
        coef = est["coef"]
        direction = "more" if coef > 0 else "less"
        pub = paper.TABLE1[key]
        sentences.append(
            f"{group[0].upper() + group[1:]}, children whose parents used the app practised "
            f"about {_fmt(abs(coef))} minutes per week {direction} (95 % interval "
            f"{_fmt(est['ci_low'])} to {_fmt(est['ci_high'])}; "
            f"{paper.significance_phrase(est['pvalue'])}). "
            f"The paper reported {_fmt(pub.coef, sign=True)}{pub.stars}."
        )
    truth = (data.get("truth") or {}).get("table1")
    if truth is not None:
        shown = [k for k in TABLE1_KEYS if not (hidden.loc[k, ["estimate", "ci"]] != "").any()]
        covered = [k for k in shown
                   if data["table1"][k]["ci_low"] <= truth[k] <= data["table1"][k]["ci_high"]]
        where = {k: "across all grades" if k == "all" else f"in {paper.TABLE1_LABELS[k].lower()}"
                 for k in TABLE1_KEYS}
        values = ", ".join(f"{_fmt(truth[k], sign=True)} {where[k]}" for k in TABLE1_KEYS)
        sentences.append(
            f"These data are simulated, so the true effects are known: {values} minutes per "
            f"week. Our 95 % interval contains the true effect in {len(covered)} of "
            f"{len(shown)} groups; the gaps between our estimates and the true effects show "
            "how far an estimate from a sample of this size can land from the truth by chance."
        )
    claims = data["claims"]
    held = [c for c in claims if c["holds"] is True]
    failed = [c for c in claims if c["holds"] is False]
    open_ = [c for c in claims if c["holds"] not in (True, False)]
    text = (f"Of the paper's {len(claims)} claims, {len(held)} hold in these data and "
            f"{len(failed)} do not")
    text += f"; {len(open_)} could not be assessed." if open_ else "."
    sentences.append(text)
    if failed:
        ids = [str(c["id"]) for c in failed]
        listed = ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]
        sentences.append(f"Not reproduced: claim{'s' if len(ids) > 1 else ''} {listed} (the "
                         "scorecard below gives each claim and the evidence).")
    adjusted = _multiple_testing_sentence(data.get("multiple_testing"))
    if adjusted:
        sentences.append(adjusted)
    return sentences


def _multiple_testing_sentence(testing: Mapping[str, Any] | None) -> str | None:
    """How many subgroup findings behind the claims survive the adjustment for testing many
    subgroups at once (recorded by the heterogeneity notebook as ``multiple_testing``)."""
    if not testing or not testing.get("claims") or not testing.get("family"):
        return None
    cells = [c for c in testing["claims"].values() if c.get("tested") and c.get("unadjusted")]
    if not cells:
        return None
    level = testing.get("level", 0.10)
    kept_rw = sum(bool(c.get("romano_wolf")) for c in cells)
    kept_bh = sum(bool(c.get("benjamini_hochberg")) for c in cells)
    claim_ids = sorted({int(c["claim"]) for c in cells})
    claim_text = ", ".join(str(i) for i in claim_ids)
    return (f"The subgroup claims ({claim_text}) rest on {len(cells)} subgroup effects that are "
            f"significant at {level * 100:g} % on their own; tested together with all "
            f"{len(testing['family'])} subgroups, {kept_rw} "
            f"remain{'s' if kept_rw == 1 else ''} after the Romano–Wolf adjustment and "
            f"{kept_bh} when the share of false findings is controlled (Benjamini–Hochberg). "
            "Page 5 names them.")


def headline_figure(data: Mapping[str, Any], table=None) -> tuple[bytes, tuple[int, int]]:
    """PNG of our 2SLS estimates with 95 % intervals by grade, the paper's marked beside.

    With simulated data the true effect of each group is drawn as a black bar across our
    interval, so a reader sees whether the interval caught it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from parentapp import paper

    table = table1_frame(data) if table is None else table
    hidden = table.attrs["suppression"]
    truth = (data.get("truth") or {}).get("table1")
    labels = [paper.TABLE1_LABELS[k] for k in TABLE1_KEYS]
    positions = list(range(len(TABLE1_KEYS)))
    with plt.rc_context({"font.size": 11, "svg.hashsalt": "parentapp"}):
        fig, ax = plt.subplots(figsize=(7.2, 4.0), dpi=100)
        ax.axhline(0, color="#888", lw=0.8)
        for pos, key in zip(positions, TABLE1_KEYS, strict=True):
            if (hidden.loc[key, ["estimate", "ci"]] != "").any():
                ax.annotate("<10", (pos - 0.12, 0), ha="center", va="bottom", color="#666")
                continue
            est = data["table1"][key]
            ax.errorbar([pos - 0.12], [est["coef"]],
                        yerr=[[est["coef"] - est["ci_low"]], [est["ci_high"] - est["coef"]]],
                        fmt="o", color="#1f5f8b", capsize=4, lw=2,
                        label="This re-analysis (95 % interval)" if pos == 0 else None)
            if truth is not None:
                ax.hlines(truth[key], pos - 0.3, pos + 0.06, color="black", lw=2.5, zorder=4,
                          label="True effect in the synthetic data" if pos == 0 else None)
        ax.scatter([p + 0.12 for p in positions], [paper.TABLE1[k].coef for k in TABLE1_KEYS],
                   marker="D", color="#c0392b", zorder=3, label="Published estimate")
        ax.set_xticks(positions, labels)
        ax.set_xlim(-0.6, len(positions) - 0.4)
        ax.set_ylabel("Effect on practice time\n(minutes per week)")
        ax.legend(loc="best", frameon=False, fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        import io

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", metadata={"Software": None})
        width, height = (int(v) for v in fig.get_size_inches() * fig.dpi)
        plt.close(fig)
    return buffer.getvalue(), (width, height)


def replication_share(replication: Any, claim_id: Any) -> float | None:
    """The replication probability of one claim from results' ``replication`` (keyed by claim
    id, each a number or a mapping with ``probability``), or ``None`` when not recorded."""
    if not isinstance(replication, Mapping):
        return None
    entry = replication.get(str(claim_id), replication.get(claim_id))
    if isinstance(entry, Mapping):
        entry = entry.get("probability")
    if isinstance(entry, bool) or not isinstance(entry, int | float):
        return None
    return float(entry)


def _claim_rows(claims: Sequence[Mapping[str, Any]],
                replication: Any = None) -> list[dict[str, str]]:
    rows = []
    for claim in claims:
        holds = claim["holds"]
        verdict, css = {True: ("✓ holds", "holds"), False: ("✗ does not hold", "fails")}.get(
            holds, ("– not assessed", "untested"))
        evidence = claim["evidence"]
        if isinstance(evidence, Mapping):
            evidence = "; ".join(f"{k} = {_evidence_value(v)}" for k, v in evidence.items())
        elif isinstance(evidence, list):
            evidence = "; ".join(_evidence_value(v) for v in evidence)
        share = replication_share(replication, claim["id"])
        rows.append({"id": str(claim["id"]), "text": str(claim["text"]), "verdict": verdict,
                     "css_class": css, "evidence": str(evidence),
                     "replication": "" if share is None else f"{100 * share:.0f} %"})
    return rows


def _evidence_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_evidence_value(v)}" for k, v in value.items()) + "}"
    return str(value)


BANNERS = {
    "synthetic-default": (
        "Synthetic data, not real students.",
        "This report runs on the embedded synthetic trial, generated to match the figures "
        "published in the paper. The real student records are confidential; point the "
        "build at them (parentapp build --data FILE) to get this report for the real data.",
    ),
    "synthetic": (
        "Simulated data, not real students.",
        "This report runs on a simulated data set made with parentapp simulate ({label}).",
    ),
    "real": (
        "Real data.",
        "This report runs on the {label}. Cells describing fewer than 10 "
        "students are hidden; no student-level rows or identifiers are shown.",
    ),
}


# --------------------------------------------------------------------------- rendering


def _jinja():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True)


def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(".highlight")


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def external_references(html: str) -> list[str]:
    """Every place ``html`` would load or link something from another host."""
    return [html[max(0, m.start() - 20): m.end() + 40] for m in _EXTERNAL.finditer(html)]


# --------------------------------------------------------------------------- build


def build(
    data: str | os.PathLike | None = None,
    out: str | os.PathLike = paths.REPORT_DIR,
    jobs: int = 2,
    manifest: str | os.PathLike = paths.MANIFEST,
    force: bool = False,
    *,
    parameters: Mapping[str, Any] | None = None,
    kernel: str = KERNEL,
    progress: TextIO | None = None,
) -> BuildSummary:
    """Execute the manifest's runs and write the report into ``out``.

    Parameters
    ----------
    data
        The data file (csv, xlsx, dta, sav, parquet in the documented schema), injected as
        every notebook's ``data_path``; ``None`` runs on the embedded synthetic default.
    out
        The report directory. The build owns ``index.html``, ``results.json``, ``pages/``,
        ``runs/``, ``.cache/`` and ``failed/`` in it and leaves anything else alone (such
        as ``manifest.yml``).
    jobs
        How many runs execute at once.
    manifest
        The run manifest (see :func:`read_manifest`).
    force
        Execute every run even when its cached result is current.
    parameters
        Papermill parameters applied to every run on top of the manifest's (for example
        ``{"n_draws": 99, "n_replications": 0}`` for a quick build); they are part of each
        run's cache key and colophon. ``data_path`` and ``results_path`` cannot be set.
    kernel
        The Jupyter kernel papermill runs the notebooks with.
    progress
        Where the one-line-per-run progress goes (default: standard error).

    Returns
    -------
    BuildSummary
        Which runs were executed and which came from the cache, and the build time.

    Raises
    ------
    BuildError
        (or its subclasses :class:`RunFailed` and :class:`MissingResults`) with a
        message naming what failed; ``out`` keeps the previous report.
    """
    progress = sys.stderr if progress is None else progress
    clock = time.perf_counter()
    out = Path(out).resolve()
    if jobs < 1:
        raise BuildError(f"jobs must be at least 1, got {jobs}")

    def say(message: str) -> None:
        print(message, file=progress, flush=True)

    spec = with_parameters(read_manifest(manifest), parameters or {})
    source = describe_data(data)
    package_sha = code_hash()
    lock_sha = sha256_file(LOCK_FILE) if LOCK_FILE.is_file() else "absent"
    commit = git_commit()
    cache = out / ".cache" / "runs"
    cache.mkdir(parents=True, exist_ok=True)

    keys = {run.name: run_key(run, source.sha256, package_sha, lock_sha, kernel)
            for run in spec.runs}
    entries = {run.name: cache / run.name / keys[run.name][:20] for run in spec.runs}
    todo = [run for run in spec.runs
            if force or not (entries[run.name] / "meta.json").is_file()]
    say(f"[build] {len(spec.runs)} runs ({len(spec.runs) - len(todo)} cached), "
        f"{min(jobs, max(len(todo), 1))} at a time; data: {source.label}, "
        f"sha256 {source.sha256[:12]}")
    records: dict[str, RunRecord] = {}
    total = len(spec.runs)
    position = {run.name: i for i, run in enumerate(spec.runs, start=1)}
    width = max(len(run.name) for run in spec.runs)
    for run in spec.runs:
        if run not in todo:
            meta = json.loads((entries[run.name] / "meta.json").read_text())
            records[run.name] = RunRecord(run.name, True, meta["seconds"])
            say(f"[{position[run.name]:>2}/{total}] cached {run.name:<{width}}  "
                f"(ran {meta['started']} UTC in {_duration(meta['seconds'])})")

    todo = _start_order(todo, cache)
    failures = _execute_all(todo, entries, keys, source, commit, kernel, jobs, say,
                            position, total, width, records)
    failed_dir = out / "failed"
    if failures:
        failed_dir.mkdir(exist_ok=True)
        for failure in failures:
            if failure.get("executed"):
                kept = failed_dir / f"{failure['name']}.ipynb"
                shutil.copyfile(failure["executed"], kept)
                failure["kept"] = str(kept)
            kernel_log = Path(failure["work"]) / "kernel-stderr.log" if failure["work"] else None
            if kernel_log and kernel_log.is_file() and kernel_log.stat().st_size:
                shutil.copyfile(kernel_log, failed_dir / f"{failure['name']}.kernel-stderr.log")
                failure["kernel_log"] = str(failed_dir / f"{failure['name']}.kernel-stderr.log")
            shutil.rmtree(failure["work"], ignore_errors=True)
        say(f"[build] FAILED: {', '.join(f['name'] for f in failures)}; report not changed")
        raise RunFailed(failures)

    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        _assemble(spec, entries, records, source, lock_sha, commit, staging, out,
                  clock, package_sha)
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(failed_dir, ignore_errors=True)
    _prune_cache(cache, entries)
    summary = BuildSummary(out, [records[r.name] for r in spec.runs],
                           time.perf_counter() - clock)
    say(f"[build] report written to {out / 'index.html'} in {_duration(summary.seconds)} "
        f"({len(summary.executed)} executed, {len(summary.cached)} cached)")
    return summary


def _start_order(todo: list[Run], cache: Path) -> list[Run]:
    """Longest expected run first (so a long run does not start last and idle the other
    workers): the last recorded time of the run in the cache, else the manifest's
    ``expected_seconds``; ties keep manifest order."""

    def expected(run: Run) -> float:
        timings = [json.loads(meta.read_text())["seconds"]
                   for meta in (cache / run.name).glob("*/meta.json")]
        return max(timings) if timings else run.expected_seconds

    return sorted(todo, key=expected, reverse=True)  # sorted() is stable


def _execute_all(todo, entries, keys, source, commit, kernel, jobs, say, position, total,
                 width, records) -> list[dict[str, Any]]:
    """Run ``todo`` with at most ``jobs`` papermill processes; stop submitting on failure."""
    if not todo:
        return []
    failures: list[dict[str, Any]] = []
    pending = list(todo)
    context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
    with cf.ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
        running: dict[cf.Future, tuple[Run, float]] = {}

        def submit(run: Run) -> None:
            job = {"name": run.name, "notebook": str(run.notebook),
                   "parameters": run.parameters, "data_path": source.injected,
                   "kernel": kernel, "entry": str(entries[run.name]), "key": keys[run.name],
                   "git_commit": commit}
            running[pool.submit(_execute_run, job)] = (run, time.perf_counter())
            say(f"[{position[run.name]:>2}/{total}] start  {run.name:<{width}}  "
                f"{run.notebook.name}")

        while pending and len(running) < jobs:
            submit(pending.pop(0))
        while running:
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in done:
                run, started = running.pop(future)
                elapsed = time.perf_counter() - started
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker process itself died
                    outcome = {"name": run.name, "notebook": str(run.notebook), "ok": False,
                               "cell_index": None, "exec_count": None, "source": None,
                               "ename": type(exc).__name__, "evalue": str(exc),
                               "executed": None, "work": ""}
                if outcome["ok"]:
                    records[run.name] = RunRecord(run.name, False, outcome["seconds"])
                    say(f"[{position[run.name]:>2}/{total}] done   {run.name:<{width}}  "
                        f"{_duration(elapsed)}")
                else:
                    failures.append(outcome)
                    say(f"[{position[run.name]:>2}/{total}] FAILED {run.name:<{width}}  "
                        f"{_duration(elapsed)}: {outcome['ename']}: "
                        f"{str(outcome['evalue']).splitlines()[0] if outcome['evalue'] else ''}")
                if pending and not failures:
                    submit(pending.pop(0))
    return failures


def _assemble(spec: Manifest, entries, records, source: DataSource, lock_sha: str,
              commit: str, staging: Path, out: Path, clock: float, package_sha: str) -> None:
    """Write results.json, the pages, the executed notebooks and index.html into staging."""
    per_run = {run.name: results.load(entries[run.name] / "results.json")
               for run in spec.runs}
    metas = {run.name: json.loads((entries[run.name] / "meta.json").read_text())
             for run in spec.runs}
    current_template = template_hash()
    for run in spec.runs:  # page template changed since the run: re-render, don't re-execute
        if metas[run.name].get("template") != current_template:
            entry = entries[run.name]
            (entry / "body.html").write_text(render_body(entry / "executed.ipynb"),
                                             encoding="utf-8")
            metas[run.name]["template"] = current_template
            (entry / "meta.json").write_text(json.dumps(metas[run.name], indent=2),
                                             encoding="utf-8")
    provenance = {"data_kind": source.kind, "data_sha256": source.sha256,
                  "lock_sha256": lock_sha}
    merged = merge_results(spec, per_run, provenance)
    true_table1 = source.true_table1()
    if true_table1 is not None:
        merged["truth"] = {"file": source.truth.name, "table1": true_table1}
    check_index_results(merged)
    results.write(merged, staging / "results.json")

    env = _jinja()
    css = (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")
    pygments_css = _pygments_css()
    (staging / "pages").mkdir()
    (staging / "runs").mkdir()
    page_template = env.get_template("page.html.j2")
    for i, run in enumerate(spec.runs):
        meta = metas[run.name]
        shown = {k: _show(v) for k, v in run.parameters.items()}
        shown["data_path"] = source.label
        shown["results_path"] = f"runs.{run.name} in results.json"
        colophon = {"git_commit": meta["git_commit"], "lock_sha256": lock_sha,
                    "data_label": source.label, "data_sha256": source.sha256,
                    "parameters": shown, "when_label": "Executed", "when": meta["started"],
                    "seconds": _duration(meta["seconds"]),
                    "note": ""}  # the same page whether executed now or cached
        html = page_template.render(
            run=run, report_title=spec.title, css=css, pygments_css=pygments_css,
            body=_markup((entries[run.name] / "body.html").read_text(encoding="utf-8")),
            previous=spec.runs[i - 1] if i > 0 else None,
            next=spec.runs[i + 1] if i + 1 < len(spec.runs) else None,
            position=i + 1, total=len(spec.runs), colophon=colophon)
        (staging / "pages" / f"{run.name}.html").write_text(html, encoding="utf-8")
        shutil.copyfile(entries[run.name] / "executed.ipynb",
                        staging / "runs" / f"{run.name}.ipynb")

    content = _index_content(merged, out / ".cache", package_sha)
    heading, text = BANNERS[source.kind]
    built = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    index = env.get_template("index.html.j2").render(
        title=spec.title, css=css,
        banner={"css_class": f"data-{source.kind}", "heading": heading,
                "text": text.format(label=source.label)},
        summary=content["summary"],
        figure_png=content["figure_png"], figure_width=content["figure_size"][0],
        figure_height=content["figure_size"][1],
        figure_alt="Effect of parents' app use on weekly practice minutes, all students and "
                   "by grade: our estimates with 95 % intervals beside the published estimates.",
        figure_caption="Dots and bars: this re-analysis (two-stage least squares, 95 % "
                       "interval). Diamonds: the estimates published in the paper (no "
                       "intervals were published)." + (
                           " Black bars: the true effect built into the synthetic data; an "
                           "interval that crosses its bar caught the truth."
                           if merged.get("truth") else ""),
        table1=content["table1"], min_cell=MIN_CELL, marker=MARKER,
        claims=_claim_rows(merged["claims"], merged.get("replication")),
        has_replication=any(replication_share(merged.get("replication"), c["id"]) is not None
                            for c in merged["claims"]),
        truth_file=(merged.get("truth") or {}).get("file"),
        pages=[{"name": run.name, "title": run.title} for run in spec.runs],
        colophon={"git_commit": commit, "lock_sha256": lock_sha, "data_label": source.label,
                  "data_sha256": source.sha256, "parameters": None, "when_label": "Built",
                  "when": _BUILT_AT, "seconds": _BUILD_TOOK,
                  "note": f"{len(spec.runs)} notebook runs"},
    )
    (staging / "index.html").write_text(index, encoding="utf-8")
    _check_output(staging, source, out / ".cache")
    # the build time is filled in after the check, so that an unchanged index is verified
    # once (a timestamp holds no data)
    index = index.replace(_BUILT_AT, built).replace(
        _BUILD_TOOK, _duration(time.perf_counter() - clock))
    (staging / "index.html").write_text(index, encoding="utf-8")


def _show(value: Any) -> str:
    return json.dumps(results.normalise(value), ensure_ascii=False)


def _markup(html: str):
    from markupsafe import Markup

    return Markup(html)


def _index_content(merged: Mapping[str, Any], cache_root: Path, package_sha: str) -> dict:
    """Summary sentences, Table 1 rows (through privacy.suppress) and the headline figure.

    Cached by a hash of the results and the package code: a rebuild with nothing changed
    then needs neither pandas nor matplotlib, which take most of a second just to import.
    """
    payload = json.dumps({"results": {k: v for k, v in merged.items() if k != "provenance"},
                          "code": package_sha}, sort_keys=True)
    key = hashlib.sha256(payload.encode()).hexdigest()[:20]
    cached = cache_root / "index" / f"{key}.json"
    if cached.is_file():
        return json.loads(cached.read_text(encoding="utf-8"))
    from parentapp import paper

    table = table1_frame(merged)
    hidden = table.attrs["suppression"]
    png, size = headline_figure(merged, table)
    content = {
        "summary": summarise(merged, table),
        "table1": [{"label": paper.TABLE1_LABELS[key], "cells": [
            {"text": str(table.loc[key, col]), "suppressed": bool(hidden.loc[key, col] != ""),
             "column": col} for col in table.columns]} for key in TABLE1_KEYS],
        "figure_png": base64.b64encode(png).decode("ascii"),
        "figure_size": list(size),
    }
    if cached.parent.exists():
        shutil.rmtree(cached.parent)  # one entry: the current one
    cached.parent.mkdir(parents=True)
    cached.write_text(json.dumps(content), encoding="utf-8")
    return content


def _check_output(staging: Path, source: DataSource, cache_root: Path) -> None:
    """Refuse to publish a report that loads from the web or shows an input identifier."""
    from parentapp import privacy

    problems = []
    for page in sorted(staging.rglob("*.html")):
        for ref in external_references(page.read_text(encoding="utf-8")):
            problems.append(f"{page.relative_to(staging)} refers to another host: ...{ref}...")
    if problems:
        raise BuildError("the report would not work offline:\n  - " + "\n  - ".join(problems)
                         + "\nRemove the web reference (embed the image or vendor the file).")
    # Files verified clean before (same bytes, same data) are not scanned again, and the
    # data file is only read when something is new. Only hashes are stored, never an ID.
    verified_store = cache_root / "verified.json"
    verified = set(json.loads(verified_store.read_text())) if verified_store.is_file() else set()
    files = sorted(f for pattern in ("*.html", "*.ipynb", "*.json")
                   for f in staging.rglob(pattern))
    digests = {f: hashlib.sha256(source.sha256.encode() + f.read_bytes()).hexdigest()
               for f in files}
    unverified = [f for f in files if digests[f] not in verified]
    leaks = []
    if unverified:
        ids = input_identifiers(source.path)
        for file in unverified:
            leaks += privacy.scan_html(file, ids)
    if leaks:
        shown = "\n  - ".join(str(leak).replace(str(staging), "<report>") for leak in leaks[:20])
        raise BuildError(
            f"{len(leaks)} identifier(s) from the input data appear in the report; nothing "
            f"was published:\n  - {shown}\nShow aggregates only (and pseudonymised IDs at most "
            "inside the analysis, never in output)."
        )
    verified_store.parent.mkdir(parents=True, exist_ok=True)
    verified_store.write_text(json.dumps(sorted(set(digests.values()))))


def _publish(staging: Path, out: Path) -> None:
    """Move the staged report into ``out``: directories first, index.html last."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("runs", "pages", "results.json", "index.html"):
        new = staging / name
        old = out / name
        if new.is_dir():
            trash = None
            if old.exists():
                trash = staging / f".old-{name}"
                os.replace(old, trash)
            os.replace(new, old)
        else:
            os.replace(new, old)


def _prune_cache(cache: Path, entries: Mapping[str, Path]) -> None:
    """Keep one cache entry per current run; drop stale keys, removed runs and temp dirs."""
    keep = {entry.resolve() for entry in entries.values()}
    for run_dir in cache.iterdir():
        if not run_dir.is_dir():
            continue
        if run_dir.name.startswith("."):
            shutil.rmtree(run_dir, ignore_errors=True)
            continue
        for entry in run_dir.iterdir():
            if entry.resolve() not in keep:
                shutil.rmtree(entry, ignore_errors=True)
        if not any(run_dir.iterdir()):
            run_dir.rmdir()
