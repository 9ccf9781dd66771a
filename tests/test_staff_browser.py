"""The staff workspace in a real browser: Playwright's Python package driving the machine's
Chromium (/usr/bin/chromium, installed by `make chromium`; `playwright install` cannot download
browsers here). Synthetic data from tests/staff_seed.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.harness import RunningApp
from tests.staff_seed import PASSWORD, USERS

CHROMIUM = os.environ.get("PARENTVOICE_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None and not os.environ.get("CI"),
    reason=f"no Chromium at {CHROMIUM}: run `make chromium`",
)  # on CI a missing browser fails instead (the launch raises), so it cannot pass silently


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


async def signed_in_page(browser, app: RunningApp, role: str = "admin"):  # type: ignore[no-untyped-def]
    context = await browser.new_context(base_url=app.url, accept_downloads=True)
    page = await context.new_page()
    await page.goto("/staff/")
    assert page.url.endswith("/staff/login")  # sent to sign in first
    await page.get_by_label("Email").fill(USERS[role])
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/staff/")
    return page


async def test_staff_sign_in_read_filter_acknowledge_schedule_and_export(
    browser, staff_app: RunningApp, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    page = await signed_in_page(browser, staff_app)

    # Overview after the seeded conversations: the headline figure and the charts.
    assert await page.get_by_role("heading", name="Overview").is_visible()
    headline = await page.locator(".headline").inner_text()
    assert "Started outside Mon–Fri 9–5" in headline and "of 8 conversations" in headline
    assert "%" in headline
    assert await page.locator("svg.chart").count() == 2
    # Participation by language, as staff read it (seeded: seven in English, one in Polish).
    languages = page.get_by_role("table").filter(
        has=page.get_by_role("columnheader", name="Languages")
    )
    rows = await languages.locator("tbody tr").all_inner_texts()
    assert [" ".join(row.split()) for row in rows] == ["English 7", "Polish 1"]
    assert (
        "2 safeguarding alerts not yet acknowledged" in await page.locator(".notice").inner_text()
    )

    # Keyboard first: the first Tab lands on "Skip to content".
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"

    # Transcripts: filter by theme, open one.
    await page.get_by_role("link", name="Transcripts").click()
    await page.get_by_label("Theme").select_option(label="Timely support")
    await page.get_by_role("button", name="Filter").click()
    caption = await page.locator("caption").inner_text()
    assert caption == "2 conversations"
    await page.locator("tbody a").first.click()
    await page.wait_for_url("**/staff/transcripts/seed*")
    chat = await page.locator("ol.chat").inner_text()
    assert "[CHILD_1]" in chat or "hv" in chat

    # Safeguarding: acknowledge an alert with the action taken.
    await page.get_by_role("link", name="Safeguarding alerts").click()
    first = page.locator("article.alert").first
    await first.get_by_label("Action taken").fill("Rang the family; referral made")
    await first.get_by_role("button").click()
    await page.wait_for_url("**/staff/alerts")
    done = await page.locator("article.alert.done").inner_text()
    assert f"Acknowledged by {USERS['admin']}" in done and "referral made" in done

    # Outcomes: compose, preview the segments, schedule.
    await page.get_by_role("link", name="Outcomes").click()
    await page.get_by_label("Message").fill(
        "You said the wait was too long. We now run evening clinics."
    )
    await page.get_by_label("Send at (local time)").fill("2026-03-13T10:00")
    await page.get_by_role("button", name="Preview").click()
    preview = await page.locator("section.notice").inner_text()
    assert "1 SMS segment (GSM-7)" in preview and "Would reach 8 parents" in preview
    await page.get_by_role("button", name="Schedule").click()
    await page.wait_for_url("**/staff/outcomes/1")
    report = await page.locator("main").inner_text()
    assert "Scheduled · due Fri 13 Mar 2026 10:00" in report and "Recipients\t0" in report

    # Exports: download the XLSX and open it.
    await page.get_by_role("link", name="Exports").click()
    await page.get_by_label("Format").first.select_option("xlsx")
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download transcripts").click()
    download = await waiting.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert saved.suffix == ".xlsx"
    book = load_workbook(saved, read_only=True)
    assert book.sheetnames == ["Messages", "Data dictionary"]
    rows = list(book["Messages"].iter_rows(values_only=True))
    assert rows[0][0] == "conversation" and len(rows) > 20

    # Small numbers suppressed in the counts meant for publication.
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download counts").click()
    counts = (await (await waiting.value).path()).read_text(encoding="utf-8-sig")
    assert "theme,timely_support,<5" in counts and "all,conversations,8" in counts


async def test_every_page_reads_on_a_phone(browser, staff_app: RunningApp) -> None:  # type: ignore[no-untyped-def]
    page = await signed_in_page(browser, staff_app)
    await page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/staff/", "/staff/themes", "/staff/transcripts", "/staff/alerts",
                 "/staff/outcomes", "/staff/exports", "/staff/flows", "/staff/staff", "/staff/audit"):  # fmt: skip
        await page.goto(path)
        assert await page.locator("h1").count() == 1, path
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)  # nothing wider than the phone
        unlabelled = await page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(e => !(e.labels && e.labels.length) && !e.closest('label')).length"""
        )
        assert unlabelled == 0, path
