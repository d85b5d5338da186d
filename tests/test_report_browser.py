"""The built report in a real browser (headless Chromium via Playwright), fully offline.

Builds a report from the fixture notebooks on a small data set, opens the index and every
page with every non-file:// request blocked and recorded, and checks what a stakeholder
would see. Screenshots go to report/screenshots/ (git-ignored) for a developer to look at.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from parentapp import build as report_build
from parentapp import paths, privacy, results

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = paths.REPORT_DIR / "screenshots"
FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
_spec = importlib.util.spec_from_file_location("fixture_report", FIXTURES / "fixture_report.py")
fixture_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture_report)

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    trial = fixture_report.write_trial(root / "trial.csv", n=300, seed=5)
    manifest = fixture_report.write_manifest(root / "manifest.yml")
    out = root / "out"
    report_build.build(data=root / "trial.csv", out=out, manifest=manifest, jobs=2)
    return {"out": out, "trial": trial}


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
    assert state["code_visible"] == 0, f"{file.name} shows code unasked"


def test_index_in_a_browser(report, browser):
    index = report["out"] / "index.html"
    claims = results.load(report["out"] / "results.json")["claims"]
    for viewport, name in ((LAPTOP, "index-laptop.png"), (PHONE, "index-phone.png")):
        state = visit(browser, index, viewport, screenshot=name)
        assert_clean(state, index)
        assert len(state["images"]) == 1  # the headline figure
        assert state["banner"] and "Real data" in state["banner"]
        assert state["scorecard_rows"] == len(claims)
        assert not state["horizontal_overflow"], f"index scrolls sideways at {viewport}"
        pages = {Path(urlparse(link).path).name for link in state["links"]}
        assert {"effects.html", "claims.html", "claims-scaled.html"} <= pages


def test_every_analysis_page_in_a_browser(report, browser):
    pages = sorted((report["out"] / "pages").glob("*.html"))
    assert {p.stem for p in pages} == {"claims", "claims-scaled", "effects"}
    for page in pages:
        state = visit(browser, page, screenshot=f"page-{page.stem}.png")
        assert_clean(state, page)
        if page.stem == "effects":
            assert len(state["images"]) == 1  # the fixture's matplotlib figure
        phone = visit(browser, page, PHONE)
        assert not phone["horizontal_overflow"], f"{page.name} scrolls sideways on a phone"


def test_no_input_identifier_in_any_html_file(report):
    ids = set(report["trial"]["student_id"]) | set(report["trial"]["family_id"])
    assert privacy.scan_html(report["out"], ids) == []
    for page in report["out"].rglob("*.html"):  # and independently of scan_html
        text = page.read_text()
        assert not [i for i in ids if i in text], page


def test_screenshots_are_kept_out_of_git():
    import subprocess

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    probe = SCREENSHOTS / "probe.png"
    probe.write_bytes(b"")
    ignored = subprocess.run(["git", "-C", str(paths.ROOT), "check-ignore", "-q", str(probe)])
    probe.unlink()
    assert ignored.returncode == 0

