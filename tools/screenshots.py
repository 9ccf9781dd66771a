"""`make screenshots`: a PNG of every staff page, on a laptop and on a phone, in var/screenshots/.

Runs the real app on 127.0.0.1 with the synthetic data the tests use (tests/staff_seed.py) and
the fake Telegram Bot API, signs in as the seeded admin, and drives the machine's Chromium with
Playwright. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from bot.vault import Vault  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.harness import Clock, RunningApp  # noqa: E402
from tests.staff_seed import NOW, PASSWORD, USERS, seed, staff_app_config  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
OUT = ROOT / "var" / "screenshots"
PAGES = {
    "overview": "/staff/", "themes": "/staff/themes", "transcripts": "/staff/transcripts",
    "alerts": "/staff/alerts", "outcomes": "/staff/outcomes", "exports": "/staff/exports",
    "flows": "/staff/flows", "staff": "/staff/staff", "audit": "/staff/audit",
}  # fmt: skip
SIZES = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with FakeTelegramAPI("123456:TEST-token-synthetic") as telegram:
        with tempfile.TemporaryDirectory(prefix="pv-screens-") as tmp:
            app = RunningApp(staff_app_config(Path(tmp), telegram), Clock(NOW))
            await app.start()
            try:
                seeded = await seed(
                    app.runtime.pipeline._sessions, NOW, Vault(app.config.security.vault_key)
                )
                await shoot(app, str(seeded["conversations"][0]))  # type: ignore[index]
            finally:
                await app.stop()
    print(f"saved {len(list(OUT.glob('*.png')))} screenshots in {OUT.relative_to(ROOT)}/")


async def shoot(app: RunningApp, conversation: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for size, viewport in SIZES.items():
            page = await (await browser.new_context(base_url=app.url, viewport=viewport)).new_page()  # type: ignore[arg-type]
            await page.goto("/staff/login")
            await page.screenshot(path=OUT / f"login-{size}.png", full_page=True)
            await page.get_by_label("Email").fill(USERS["admin"])
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url("**/staff/")
            for name, path in {**PAGES, "transcript": f"/staff/transcripts/{conversation}"}.items():
                await page.goto(path)
                await page.screenshot(path=OUT / f"{name}-{size}.png", full_page=True)
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
