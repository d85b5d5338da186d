"""parentapp.build: the report pipeline on tiny fixture notebooks (about a second each).

What is checked against the truth: the numbers in results.json against an independent 2SLS
(linearmodels) on the same data; the colophon against hashlib and git; the cache against
which inputs changed; failures against the notebook that was made to fail.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from linearmodels.iv import IV2SLS

from parentapp import build as report_build
from parentapp import paper, paths, results

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
_spec = importlib.util.spec_from_file_location("fixture_report", FIXTURES / "fixture_report.py")
fixture_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture_report)
_real_code_hash = report_build.code_hash  # before the module fixture freezes it


@pytest.fixture(scope="module", autouse=True)
def frozen_package_hash():
    """Hold the package-code hash fixed while this module runs: the cache tests below are
    about notebooks, parameters and data, and must not see edits to lib/ made meanwhile
    (code_hash itself is tested on a copy of the package)."""
    frozen = report_build.code_hash()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report_build, "code_hash", lambda *a, **k: frozen)
        yield frozen


@pytest.fixture(scope="module")
def built(tmp_path_factory, frozen_package_hash):
    """One cold build of the fixture report, with its inputs."""
    root = tmp_path_factory.mktemp("report")
    notebooks = root / "notebooks"
    shutil.copytree(FIXTURES, notebooks, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    trial = fixture_report.write_trial(root / "trial.csv")
    manifest = fixture_report.write_manifest(root / "manifest.yml", notebooks)
    out = root / "out"
    summary = report_build.build(data=root / "trial.csv", out=out, manifest=manifest, jobs=2)
    return {"root": root, "out": out, "trial": trial, "manifest": manifest,
            "summary": summary, "notebooks": notebooks}


def copy_report(built, tmp_path) -> Path:
    """A copy of the built report (with its cache), to change without disturbing others."""
    out = tmp_path / "out"
    shutil.copytree(built["out"], out)
    return out


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".cache" not in p.parts and "failed" not in p.parts}


# ----------------------------------------------------------------------------- manifest


def test_manifest_problems_are_all_listed(tmp_path):
    manifest = tmp_path / "m.yml"
    manifest.write_text(
        f"notebooks_dir: {FIXTURES}\nruns:\n"
        "  - {name: effects, notebook: fx_effects.ipynb, title: A}\n"
        "  - {name: effects, notebook: fx_claims.ipynb, title: B}\n"
        "  - {name: Bad Name, notebook: missing.ipynb, title: C}\n"
        "  - {name: c, notebook: fx_claims.ipynb, parameters: {data_path: x.csv}}\n"
    )
    with pytest.raises(report_build.BuildError) as err:
        report_build.read_manifest(manifest)
    message = str(err.value)
    assert "5 problem(s)" in message
    assert "'effects' is used twice" in message
    assert "missing.ipynb" in message and "'name' must be" in message
    assert "['data_path'] are set by the build" in message and "'title'" in message


def test_long_runs_start_first_by_cache_timing_else_by_manifest_hint(tmp_path):
    manifest = tmp_path / "m.yml"
    manifest.write_text(
        f"notebooks_dir: {FIXTURES}\nruns:\n"
        "  - {name: a, notebook: fx_effects.ipynb, title: A}\n"
        "  - {name: b, notebook: fx_effects.ipynb, title: B}\n"
        "  - {name: c, notebook: fx_claims.ipynb, title: C, expected_seconds: 60}\n"
        "  - {name: d, notebook: fx_claims.ipynb, title: D}\n"
    )
    runs = list(report_build.read_manifest(manifest).runs)
    cache = tmp_path / "cache"
    order = [run.name for run in report_build._start_order(runs, cache)]
    assert order == ["c", "a", "b", "d"]  # the hint; ties keep manifest order
    (cache / "d" / "oldkey").mkdir(parents=True)
    (cache / "d" / "oldkey" / "meta.json").write_text('{"seconds": 90.0}')
    order = [run.name for run in report_build._start_order(runs, cache)]
    assert order == ["d", "c", "a", "b"]  # a measured time beats the hint
    manifest.write_text(manifest.read_text().replace("expected_seconds: 60",
                                                     "expected_seconds: -1"))
    with pytest.raises(report_build.BuildError, match="expected_seconds"):
        report_build.read_manifest(manifest)


def test_the_project_manifest_is_well_formed():
    import yaml

    raw = yaml.safe_load(paths.MANIFEST.read_text())
    runs = raw["runs"] if isinstance(raw, dict) else raw
    names = [run["name"] for run in runs]
    assert len(names) == len(set(names)) and all(run["notebook"].endswith(".ipynb")
                                                  for run in runs)


def test_merge_refuses_two_runs_publishing_one_key(tmp_path):
    manifest = report_build.Manifest(tmp_path / "m.yml", "t", (
        report_build.Run("a", FIXTURES / "fx_effects.ipynb", "A", {}),
        report_build.Run("b", FIXTURES / "fx_claims.ipynb", "B", {}),
        report_build.Run("c", FIXTURES / "fx_claims.ipynb", "C", {"scale": 2}),
        report_build.Run("d", FIXTURES / "fx_claims.ipynb", "D", {}, publish=("extra",)),
    ))
    per_run = {"a": {"table1": 1}, "b": {"claims": 2}, "c": {"claims": 3},
               "d": {"extra": 4, "claims": 5}}
    merged = report_build.merge_results(manifest, per_run, {"data_sha256": "x"})
    # first run of a notebook publishes all its keys, a rerun none, `publish` selects
    assert {k: merged[k] for k in ("table1", "claims", "extra")} == {
        "table1": 1, "claims": 2, "extra": 4}
    assert merged["runs"] == per_run
    per_run["a"]["claims"] = 9
    with pytest.raises(report_build.BuildError, match="runs 'a' and 'b' both record"):
        report_build.merge_results(manifest, per_run, {})


def test_missing_index_results_are_named():
    data = {"table1": {k: {f: 1.0 for f in report_build.TABLE1_FIELDS}
                       for k in report_build.TABLE1_KEYS},
            "claims": [{"id": 1, "text": "t", "holds": True}]}
    del data["table1"]["grade2"]["first_stage_f"]
    with pytest.raises(results.MissingResultError) as err:
        report_build.check_index_results(data)
    assert "table1.grade2.first_stage_f" in str(err.value)
    assert "claims[0].evidence" in str(err.value)


def test_data_is_classified_for_the_banner(tmp_path):
    real = tmp_path / "records.csv"
    real.write_text("student_id\nA1\n")
    assert report_build.describe_data(real).kind == "real"
    simulated = tmp_path / "sim.csv"
    simulated.write_text("student_id\nA1\n")
    (tmp_path / "sim.truth.json").write_text("{}")
    assert report_build.describe_data(simulated).kind == "synthetic"
    default = report_build.describe_data(None)
    assert default.kind == "synthetic-default" and default.injected is None
    expected = hashlib.sha256(b"student_id\nA1\n").hexdigest()
    assert report_build.describe_data(real).sha256 == expected
    with pytest.raises(report_build.BuildError, match="not found"):
        report_build.describe_data(tmp_path / "nope.csv")


def test_code_hash_follows_package_files_and_templates(tmp_path):
    package = tmp_path / "parentapp"
    shutil.copytree(report_build.PACKAGE_DIR, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    hash_of = _real_code_hash
    first = hash_of(package)
    assert hash_of(package) == first
    (package / "results.py").write_text((package / "results.py").read_text() + "\n# edit\n")
    second = hash_of(package)
    assert second != first
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.pyc").write_bytes(b"noise")
    (package / "templates" / "report.css").write_text("body { color: red; }")  # design only
    assert hash_of(package) == second


def test_external_references_are_detected():
    bad = ['<script src="https://cdn.x/require.js">', "<link href='//fonts.g/css'>",
           "<style>@import 'https://x/y.css'</style>", '<div style="background:url(http://x)">']
    for html in bad:
        assert report_build.external_references(html), html
    good = '<img src="data:image/png;base64,AAA"><a href="pages/a.html">x</a> see https://doi.org'
    assert report_build.external_references(good) == []


# ----------------------------------------------------------------------------- a build


def independent_2sls(frame: pd.DataFrame) -> dict:
    fit = IV2SLS(frame["practice_min_total"], np.ones(len(frame)), frame["app_used"],
                 frame["access"]).fit(cov_type="robust", debiased=False)
    return {"coef": fit.params["app_used"], "se": fit.std_errors["app_used"],
            "nobs": int(fit.nobs)}


def test_results_json_carries_the_notebooks_numbers(built):
    data = results.load(built["out"] / "results.json")
    trial = built["trial"]
    groups = {"all": trial, **{f"grade{g}": trial[trial["grade"] == g] for g in (1, 2, 3)}}
    for key, frame in groups.items():
        truth = independent_2sls(frame)
        assert data["table1"][key]["coef"] == pytest.approx(truth["coef"], rel=1e-8)
        assert data["table1"][key]["se"] == pytest.approx(truth["se"], rel=1e-6)
        assert data["table1"][key]["nobs"] == truth["nobs"]
    assert data["mean_practice"] == pytest.approx(trial["practice_min_total"].mean(), rel=1e-9)
    # the rerun with scale = 2 is kept under runs.<name> and not published at the top
    uptake = trial.groupby("access")["app_used"].mean()
    assert data["runs"]["claims"]["uptake"]["1"] == pytest.approx(uptake[1], rel=1e-9)
    assert data["runs"]["claims-scaled"]["uptake"]["1"] == pytest.approx(2 * uptake[1], rel=1e-9)
    assert data["claims"] == data["runs"]["claims"]["claims"]
    assert data["provenance"]["data_sha256"] == hashlib.sha256(
        (built["root"] / "trial.csv").read_bytes()).hexdigest()


def test_every_page_has_hidden_code_navigation_and_a_colophon(built):
    out = built["out"]
    data_sha = hashlib.sha256((built["root"] / "trial.csv").read_bytes()).hexdigest()
    lock_sha = hashlib.sha256((paths.ROOT / "requirements.lock").read_bytes()).hexdigest()
    names = ["effects", "claims", "claims-scaled"]
    for i, name in enumerate(names):
        html = (out / "pages" / f"{name}.html").read_text()
        assert 'href="../index.html"' in html
        if i + 1 < len(names):
            assert f'href="{names[i + 1]}.html"' in html
        assert f'href="../runs/{name}.ipynb"' in html and (out / "runs" / f"{name}.ipynb").is_file()
        colophon = html[html.index('<footer class="colophon">'):]
        assert data_sha in colophon and lock_sha in colophon
        # the commit the run executed at: a real commit of this repository
        commit = re.search(r"Git commit</dt><dd><code>([0-9a-f]{12})(-dirty)?</code>",
                           colophon).group(1)
        assert subprocess.run(["git", "-C", str(paths.ROOT), "cat-file", "-e",
                               f"{commit}^{{commit}}"]).returncode == 0
        assert re.search(r"Executed</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\), took", colophon)
        # code cells: every highlighted input sits inside a closed <details> toggle
        assert html.count('<div class="input_area">') == html.count('<details class="code-toggle')
        assert "<details open" not in html
    assert "scale = 2.0" in (out / "pages" / "claims-scaled.html").read_text()
    assert 'class="next"' not in (out / "pages" / "claims-scaled.html").read_text()


def test_index_shows_generated_summary_table_and_scorecard(built):
    html = unescape((built["out"] / "index.html").read_text())
    data = results.load(built["out"] / "results.json")
    assert 'id="data-banner"' in html and "Real data." in html  # no truth.json beside it
    for key in report_build.TABLE1_KEYS:
        est = data["table1"][key]
        # the summary sentence carries our rounded estimate and its interval
        assert f"about {abs(est['coef']):.1f} minutes per week" in html
        assert f"{est['ci_low']:.1f}".replace("-", "−") in html
        assert f"{paper.TABLE1[key].coef:+.1f}".replace("-", "−") + paper.TABLE1[key].stars in html
    assert html.count('class="text verdict holds"') == sum(c["holds"] is True
                                                          for c in data["claims"])
    assert "Of the paper's 2 claims, 2 hold" in html
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', html)
    for name in ("effects", "claims", "claims-scaled"):
        assert f'href="pages/{name}.html"' in html


def test_report_is_offline_and_shows_no_input_identifier(built):
    out = built["out"]
    for page in out.rglob("*.html"):
        text = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), page
        assert "require.js" not in text and "mathjax" not in text.lower()
    ids = set(built["trial"]["student_id"]) | set(built["trial"]["family_id"])
    for file in list(out.rglob("*.html")) + list(out.rglob("*.ipynb")) + [out / "results.json"]:
        text = file.read_text()
        assert not [i for i in ids if i in text], file


def test_no_change_rebuild_uses_the_cache_and_is_byte_identical(built, tmp_path):
    out = copy_report(built, tmp_path)
    before = (out / "results.json").read_bytes()
    summary = report_build.build(data=built["root"] / "trial.csv", out=out,
                                 manifest=built["manifest"])
    assert summary.executed == [] and len(summary.cached) == 3
    assert (out / "results.json").read_bytes() == before
    # forced: everything executes again and gives the same bytes (determinism)
    summary = report_build.build(data=built["root"] / "trial.csv", out=out,
                                 manifest=built["manifest"], force=True)
    assert sorted(summary.executed) == ["claims", "claims-scaled", "effects"]
    assert (out / "results.json").read_bytes() == before


def test_only_changed_runs_execute_again(built, tmp_path):
    out = copy_report(built, tmp_path)
    notebooks = tmp_path / "notebooks"
    shutil.copytree(built["notebooks"], notebooks)
    runs = [
        {"name": "effects", "notebook": "fx_effects.ipynb", "title": "Effects by grade"},
        {"name": "claims", "notebook": "fx_claims.ipynb", "title": "The claims"},
        {"name": "claims-scaled", "notebook": "fx_claims.ipynb", "title": "The claims, rescaled",
         "parameters": {"scale": 3.0}},  # parameter changed
    ]
    manifest = fixture_report.write_manifest(tmp_path / "m.yml", notebooks, runs)
    summary = report_build.build(data=built["root"] / "trial.csv", out=out, manifest=manifest)
    assert summary.executed == ["claims-scaled"]
    # the notebook's content changed: its two runs execute, the other does not
    nb = json.loads((notebooks / "fx_claims.ipynb").read_text())
    nb["cells"][0]["source"] += "\n\nEdited."
    (notebooks / "fx_claims.ipynb").write_text(json.dumps(nb))
    summary = report_build.build(data=built["root"] / "trial.csv", out=out, manifest=manifest)
    assert sorted(summary.executed) == ["claims", "claims-scaled"]
    # other data: everything executes and the numbers follow the new data
    other = fixture_report.write_trial(tmp_path / "other.csv", n=300, seed=11, effect=-5.0)
    summary = report_build.build(data=tmp_path / "other.csv", out=out, manifest=manifest)
    assert len(summary.executed) == 3
    data = results.load(out / "results.json")
    assert data["table1"]["all"]["coef"] == pytest.approx(independent_2sls(other)["coef"],
                                                          rel=1e-8)


def test_a_changed_page_template_re_renders_without_re_executing(built, tmp_path, monkeypatch):
    out = copy_report(built, tmp_path)
    monkeypatch.setattr(report_build, "template_hash", lambda: "another template")
    summary = report_build.build(data=built["root"] / "trial.csv", out=out,
                                 manifest=built["manifest"])
    assert summary.executed == []
    for entry in (out / ".cache" / "runs").glob("*/*/meta.json"):
        assert json.loads(entry.read_text())["template"] == "another template"


def test_a_failing_run_stops_loudly_and_keeps_the_previous_report(built, tmp_path):
    out = copy_report(built, tmp_path)
    before = snapshot(out)
    runs = [
        {"name": "effects", "notebook": "fx_effects.ipynb", "title": "Effects by grade",
         "parameters": {"fail": True}},
        {"name": "claims", "notebook": "fx_claims.ipynb", "title": "The claims"},
    ]
    manifest = fixture_report.write_manifest(tmp_path / "m.yml", built["notebooks"], runs)
    with pytest.raises(report_build.RunFailed) as err:
        report_build.build(data=built["root"] / "trial.csv", out=out, manifest=manifest)
    message = str(err.value)
    assert "'effects'" in message and "fx_effects.ipynb" in message
    nb = json.loads((built["notebooks"] / "fx_effects.ipynb").read_text())
    failing = next(i for i, c in enumerate(nb["cells"]) if "raise RuntimeError" in
                   "".join(c["source"]))
    failure = err.value.failures[0]
    # papermill inserts the injected-parameters cell after the parameters cell
    assert failure["cell_index"] == failing + 1
    assert f"in cell {failing + 1}" in message
    line = next(i for i, text in enumerate("".join(nb["cells"][failing]["source"]).splitlines(),
                                           start=1) if "raise RuntimeError" in text)
    assert re.search(rf">\s+{line} \|\s+raise RuntimeError", message)  # the line, marked
    assert "RuntimeError: deliberate failure requested by the fail parameter" in message
    kept = out / "failed" / "effects.ipynb"
    assert kept.is_file() and "deliberate failure" in kept.read_text()
    assert str(kept) in message
    assert snapshot(out) == before


def test_missing_results_and_leaks_fail_without_touching_the_report(built, tmp_path):
    out = copy_report(built, tmp_path)
    before = snapshot(out)
    only_claims = fixture_report.write_manifest(tmp_path / "m1.yml", built["notebooks"], [
        {"name": "claims", "notebook": "fx_claims.ipynb", "title": "The claims"}])
    with pytest.raises(report_build.BuildError, match=r"table1\.all\.coef"):
        report_build.build(data=built["root"] / "trial.csv", out=out, manifest=only_claims)
    assert snapshot(out) == before
    leaking = fixture_report.write_manifest(tmp_path / "m2.yml", built["notebooks"], [
        {"name": "effects", "notebook": "fx_effects.ipynb", "title": "Effects",
         "parameters": {"leak": True}},
        {"name": "claims", "notebook": "fx_claims.ipynb", "title": "The claims"}])
    with pytest.raises(report_build.BuildError, match="identifier") as err:
        report_build.build(data=built["root"] / "trial.csv", out=out, manifest=leaking)
    assert built["trial"]["student_id"].iloc[0] in str(err.value)
    assert snapshot(out) == before


# ----------------------------------------------------------------------------- presentation


def test_stylesheet_is_inlined_verbatim(built):
    """The CSS is trusted template text: HTML-escaping it (quotes as &#34;) would silently
    drop every rule with a quoted font name or generated content."""
    css = (report_build.TEMPLATES_DIR / "report.css").read_text()
    for page in [built["out"] / "index.html", *(built["out"] / "pages").glob("*.html")]:
        assert css in page.read_text(), page.name


def test_each_page_has_one_h1_the_run_title(built):
    for name, title in (("effects", "Effects by grade"), ("claims-scaled", "The claims, rescaled")):
        html = (built["out"] / "pages" / f"{name}.html").read_text()
        assert re.findall(r"<h1[^>]*>(.*?)</h1>", html, re.S) == [title]


def test_drop_leading_title_keeps_the_rest_of_the_cell():
    import nbformat

    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 5. Heterogeneity\n\nFor whom it matters.\n\n# Later"),
        nbformat.v4.new_code_cell("x = 1")])
    assert report_build.drop_leading_title(book).cells[0].source == \
        "For whom it matters.\n\n# Later"
    only_title = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title\n"),
                                                 nbformat.v4.new_code_cell("x = 1")])
    assert [c.cell_type for c in report_build.drop_leading_title(only_title).cells] == ["code"]
    no_title = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Step\ntext")])
    assert report_build.drop_leading_title(no_title).cells[0].source == "## Step\ntext"


def test_parameter_overrides_reach_every_run_and_its_cache_key(built, tmp_path):
    out = copy_report(built, tmp_path)
    summary = report_build.build(data=built["root"] / "trial.csv", out=out,
                                 manifest=built["manifest"], parameters={"scale": 3.0})
    assert sorted(summary.executed) == ["claims", "claims-scaled", "effects"]  # new keys
    data = results.load(out / "results.json")
    trial = built["trial"]
    uptake = trial.groupby("access")["app_used"].mean()
    # the override wins over the manifest's scale = 2.0 of the rerun
    assert data["runs"]["claims-scaled"]["uptake"]["1"] == pytest.approx(3 * uptake[1], rel=1e-9)
    assert data["runs"]["claims"]["uptake"]["1"] == pytest.approx(3 * uptake[1], rel=1e-9)
    assert "scale = 3.0" in (out / "pages" / "effects.html").read_text()
    with pytest.raises(report_build.BuildError, match="data_path"):
        report_build.build(data=built["root"] / "trial.csv", out=out,
                           manifest=built["manifest"], parameters={"data_path": "x.csv"})


def _index_data(coefs, truth=None, replication=None) -> dict:
    table1 = {key: {"coef": c, "se": 2.0, "pvalue": 0.5, "ci_low": c - 4.0, "ci_high": c + 4.0,
                    "nobs": 300, "first_stage_f": 50.0}
              for key, c in zip(report_build.TABLE1_KEYS, coefs, strict=True)}
    data = {"table1": table1, "claims": [
        {"id": 1, "text": "A.", "holds": True, "evidence": "e"},
        {"id": 2, "text": "B.", "holds": False, "evidence": "e"},
        {"id": 3, "text": "C.", "holds": False, "evidence": "e"}]}
    if truth is not None:
        data["truth"] = {"file": "t.truth.json", "table1": truth}
    if replication is not None:
        data["replication"] = replication
    return data


def test_summary_and_table_show_the_truth_of_simulated_data():
    truth = dict(zip(report_build.TABLE1_KEYS, [1.0, 20.0, 6.0, -3.0], strict=True))
    data = _index_data([2.0, 10.0, 5.0, -4.0], truth)  # intervals +-4: grade 1 misses
    table = report_build.table1_frame(data)
    assert table["truth"].tolist() == ["+1.0", "+20.0", "+6.0", "−3.0"]
    text = " ".join(report_build.summarise(data))
    assert "+1.0 across all grades, +20.0 in grade 1" in text
    assert "contains the true effect in 3 of 4 groups" in text
    assert "Not reproduced: claims 2 and 3" in text
    plain = _index_data([2.0, 10.0, 5.0, -4.0])
    assert "truth" not in report_build.table1_frame(plain).columns
    assert "true effect" not in " ".join(report_build.summarise(plain))


def test_summary_says_how_many_subgroup_findings_survive_adjustment():
    data = _index_data([2.0, 10.0, 5.0, -4.0])
    assert "Romano" not in " ".join(report_build.summarise(data))  # absent: no sentence
    cell = {"tested": True, "unadjusted": True, "romano_wolf": False,
            "benjamini_hochberg": False, "claim": 4}
    data["multiple_testing"] = {
        "level": 0.10, "family": {f"cell {i}": {} for i in range(21)},
        "claims": {"a": {**cell, "romano_wolf": True, "benjamini_hochberg": True},
                   "b": {**cell, "benjamini_hochberg": True, "claim": 6},
                   "c": cell,
                   "d": {**cell, "unadjusted": False, "claim": 5}}}
    text = " ".join(report_build.summarise(data))
    assert ("The subgroup claims (4, 6) rest on 3 subgroup effects that are significant at 10 % "
            "on their own; tested together with all 21 subgroups, 1 remains after the "
            "Romano–Wolf adjustment and 2 when") in text


def test_describe_data_finds_the_truth_file(tmp_path):
    from parentapp import simulate

    trial = simulate.simulate(seed=3, n_students=600)
    path = trial.write(tmp_path / "sim.csv")
    source = report_build.describe_data(path)
    assert source.kind == "synthetic"
    assert source.true_table1() == pytest.approx(trial.truth.table1)
    default = report_build.describe_data(None)
    assert default.kind == "synthetic-default" and default.truth == paths.DEFAULT_TRUTH
    path.with_name("sim.truth.json").write_text("{}")
    with pytest.raises(report_build.BuildError, match="table1"):
        report_build.describe_data(path).true_table1()


def test_replication_share_tolerates_every_recorded_shape():
    share = report_build.replication_share
    assert share(None, 1) is None
    assert share({"1": {"probability": 0.25, "mc_se": 0.1}}, 1) == 0.25
    assert share({"2": 0.5}, 2) == 0.5 and share({2: 0.5}, 2) == 0.5
    assert share({"1": {"probability": None}}, 1) is None and share({"1": True}, 1) is None
    rows = report_build._claim_rows(_index_data([1, 1, 1, 1])["claims"],
                                    {"1": {"probability": 0.834}})
    assert [r["replication"] for r in rows] == ["83 %", "", ""]
