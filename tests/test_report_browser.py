"""The built report in a real browser (headless Chromium via Playwright), fully offline.

Uses the real report (report/manifest.yml, the real notebooks) built once per session on a
simulated trial of 900 students (``small_report`` in conftest.py), opens the index and every
page with every non-file:// request blocked and recorded, and checks what a stakeholder
would see. Screenshots go to report/screenshots/ (git-ignored) for a developer to look at.
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from parentapp import build as report_build
from parentapp import paths, privacy, results

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = paths.REPORT_DIR / "screenshots"

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "Debian's chromium is missing: run `make browser`"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--no-first-run", "--disable-extensions",
                  "--disable-domain-reliability", "--metrics-recording-only"],
        )
        yield chromium
        chromium.close()


def visit(browser, file: Path, viewport=LAPTOP, screenshot: str | None = None) -> dict:
    """Open ``file`` with the network cut off; return what happened."""
    context = browser.new_context(viewport=viewport, service_workers="block")
    page = context.new_page()
    outside, failed, console_errors = [], [], []

    def guard(route):
        url = route.request.url
        if url.startswith(("file://", "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", guard)
    page.on("requestfailed", lambda req: failed.append(f"{req.url} {req.failure}"))
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error"
            else None)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    page.goto(file.as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => ({src: e.src.slice(0, 60), ok: e.complete && "
        "e.naturalWidth > 0}))")
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    state = {
        "outside": outside, "failed": failed, "console_errors": console_errors,
        "images": images, "links": links,
        "errors_in_cells": page.locator(".output_error, .cell-error").count(),
        "text": page.locator("body").inner_text(),
        "h1": page.locator("h1").all_inner_texts(),
        "banner": page.locator("#data-banner").inner_text() if page.locator(
            "#data-banner").count() else None,
        "scorecard_rows": page.locator("#scorecard tbody tr").count(),
        "code_visible": page.locator("details.code-toggle[open]").count(),
        "horizontal_overflow": page.evaluate(
            "document.documentElement.scrollWidth > window.innerWidth + 1"),
    }
    if screenshot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / screenshot), full_page=True)
    context.close()
    return state


def assert_clean(state: dict, file: Path) -> None:
    assert state["outside"] == [], f"{file.name} asked for another host: {state['outside']}"
    assert state["failed"] == [], f"{file.name}: failed requests {state['failed']}"
    assert state["console_errors"] == [], f"{file.name}: console errors {state['console_errors']}"
    assert state["images"] and all(i["ok"] for i in state["images"]) or not state["images"], \
        f"{file.name}: images not loaded {[i for i in state['images'] if not i['ok']]}"
    for link in state["links"]:
        parsed = urlparse(link)
        assert parsed.scheme == "file", f"{file.name} links outside the report: {link}"
        assert Path(unquote(parsed.path)).is_file(), f"{file.name}: broken link {link}"
    assert state["errors_in_cells"] == 0, f"{file.name} shows an error output"
    assert "Traceback" not in state["text"], f"{file.name} shows a Python traceback"
    assert len(state["h1"]) == 1, f"{file.name} has {len(state['h1'])} h1 headings: {state['h1']}"
    assert state["code_visible"] == 0, f"{file.name} shows code unasked"


def _cell(text: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", text)).strip()


def _table1_rows(index_html: str) -> dict[str, list[str]]:
    """Table 1 of the index page as {row label: cell texts}, read from the HTML itself."""
    section = index_html.split('id="table1"', 1)[1].split("</table>", 1)[0]
    header = [_cell(c) for c in re.findall(r"<th[^>]*>(.*?)</th>", section.split("</thead>")[0])]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", section.split("<tbody>", 1)[1], re.S):
        cells = [_cell(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows[cells[0]] = dict(zip(header[1:], cells[1:], strict=True))
    return rows


def test_the_build_ran_every_run_of_the_real_manifest(small_report):
    manifest = report_build.read_manifest(paths.MANIFEST)
    pages = {p.stem for p in (small_report["out"] / "pages").glob("*.html")}
    assert pages == {run.name for run in manifest.runs}
    assert f"{len(manifest.runs)} runs (0 cached)" in small_report["log"]


def test_index_in_a_browser(small_report, browser):
    out = small_report["out"]
    index = out / "index.html"
    recorded = results.load(out / "results.json")
    manifest = report_build.read_manifest(paths.MANIFEST)
    for viewport, name in ((LAPTOP, "index-laptop.png"), (PHONE, "index-phone.png")):
        state = visit(browser, index, viewport, screenshot=name)
        assert_clean(state, index)
        assert len(state["images"]) == 1  # the headline figure
        assert state["banner"] and "Simulated data, not real students" in state["banner"]
        assert state["scorecard_rows"] == len(recorded["claims"]) == 10
        assert not state["horizontal_overflow"], f"index scrolls sideways at {viewport}"
        pages = {Path(urlparse(link).path).name for link in state["links"]}
        assert {f"{run.name}.html" for run in manifest.runs} <= pages


def test_index_shows_the_true_effects_of_the_simulated_trial(small_report):
    """The truth column holds the truth file's complier effects (written by simulate), not
    anything the notebooks estimated; the summary names them too."""
    truth = small_report["truth"]["table1"]
    html = (small_report["out"] / "index.html").read_text()
    rows = _table1_rows(html)
    labels = {"all": "All students", "grade1": "Grade 1", "grade2": "Grade 2",
              "grade3": "Grade 3"}
    for key, label in labels.items():
        shown = rows[label]["True effect in the synthetic data"].replace("−", "-")
        assert float(shown) == pytest.approx(truth[key], abs=0.051)
    recorded = results.load(small_report["out"] / "results.json")
    assert recorded["truth"]["table1"] == pytest.approx(truth)
    covered = sum(recorded["table1"][k]["ci_low"] <= truth[k] <= recorded["table1"][k]["ci_high"]
                  for k in labels)
    assert f"contains the true effect in {covered} of 4 groups" in unescape(html)


def test_every_analysis_page_in_a_browser(small_report, browser):
    pages = sorted((small_report["out"] / "pages").glob("*.html"))
    titles = {run.name: run.title for run in report_build.read_manifest(paths.MANIFEST).runs}
    screenshots = {"main-effects", "heterogeneity", "scorecard"}
    for page in pages:
        state = visit(browser, page, screenshot=f"page-{page.stem}.png")
        assert_clean(state, page)
        assert state["h1"] == [titles[page.stem]]
        phone = visit(browser, page, PHONE,
                      screenshot=f"page-{page.stem}-phone.png" if page.stem in screenshots
                      else None)
        assert not phone["horizontal_overflow"], f"{page.name} scrolls sideways on a phone"


def test_no_error_output_in_any_executed_notebook(small_report):
    for notebook in sorted((small_report["out"] / "runs").glob("*.ipynb")):
        book = json.loads(notebook.read_text())
        errors = [o for c in book["cells"] for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert errors == [], f"{notebook.name} has error output: {errors[:1]}"


def test_no_input_identifier_in_any_html_file(small_report):
    data = small_report["data"]
    ids = set(data["student_id"].dropna()) | set(data["family_id"].dropna())
    assert len(ids) > 900
    out = small_report["out"]
    assert privacy.scan_html(out, ids) == []
    files = [*out.rglob("*.html"), out / "results.json"]
    for file in files:  # and independently of scan_html: no ID as a whole token anywhere
        tokens = set(re.findall(r"[A-Za-z0-9_-]+", file.read_text()))
        assert not tokens & ids, f"{file.name} shows IDs {sorted(tokens & ids)[:5]}"


def test_screenshots_are_kept_out_of_git():
    import subprocess

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    probe = SCREENSHOTS / "probe.png"
    probe.write_bytes(b"")
    ignored = subprocess.run(["git", "-C", str(paths.ROOT), "check-ignore", "-q", str(probe)])
    probe.unlink()
    assert ignored.returncode == 0
