"""The staff workspace's locks, tried through HTTP against the real app: anonymous requests,
forms without their CSRF token, wrong passwords, and roles. Data is synthetic (tests/staff_seed)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.vault import Vault
from storage.models import AuditEntry
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.harness import Clock, RunningApp
from tests.staff_seed import NOW, PASSWORD, USERS, seed, staff_app_config


def client(app: RunningApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=app.url, follow_redirects=False, timeout=30)


@contextlib.asynccontextmanager
async def signed_in(app: RunningApp, role: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as the seeded account of ``role`` (the sign-in form, as a browser does)."""
    async with client(app) as http:
        form = await http.get("/staff/login")
        answer = await http.post(
            "/staff/login", data={"csrf": csrf_of(form), "email": USERS[role], "password": PASSWORD}
        )
        assert answer.status_code == 303, answer.text
        yield http


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def staff_paths(app: RunningApp) -> list[tuple[str, str]]:
    """Every (method, path) of /staff the app serves, with sample path parameters."""
    found = []
    for route in app.app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/staff") or path in ("/staff/login", "/staff/set-password"):
            continue
        concrete = re.sub(r"\{[a-z_]+:int\}", "1", re.sub(r"\{[a-z_]+\}", "seed000x", path))
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                found.append((method, concrete))
    return found


async def test_anonymous_requests_to_every_staff_route_are_refused(staff_app: RunningApp) -> None:
    paths = staff_paths(staff_app)
    assert len(paths) >= 18  # every page and form, so a new route cannot slip past this test
    async with client(staff_app) as http:
        for method, path in paths:
            answer = await http.request(method, path, data={"csrf": "guess"})
            if method == "GET":
                assert answer.status_code == 303, (method, path)
                assert answer.headers["location"] == "/staff/login"
            else:
                assert answer.status_code == 403, (method, path)
            assert "seed" not in answer.text and "[PERSON_1]" not in answer.text
        # a made-up or expired session cookie is no better than none
        http.cookies.set("pv_staff", "made-up-token", domain="127.0.0.1", path="/staff")
        assert (await http.get("/staff/transcripts")).status_code == 303


async def test_posts_without_the_csrf_token_are_refused(staff_app: RunningApp) -> None:
    alert = staff_app.seeded["alerts"][0]  # type: ignore[attr-defined]
    async with signed_in(staff_app, "admin") as http:
        for data in ({"action": "rang the family"}, {"action": "x", "csrf": "wrong"}):
            answer = await http.post(f"/staff/alerts/{alert}", data=data)
            assert answer.status_code == 403 and "expired" in answer.text
        page = await http.get("/staff/alerts")
        assert "Acknowledge alert" in page.text  # still not acknowledged
        ok = await http.post(
            f"/staff/alerts/{alert}", data={"action": "rang", "csrf": csrf_of(page)}
        )
        assert ok.status_code == 303
    # The sign-in form has no session yet: a double-submit token guards it.
    async with client(staff_app) as http:
        answer = await http.post(
            "/staff/login", data={"email": USERS["admin"], "password": PASSWORD, "csrf": "x"}
        )
        assert answer.status_code == 403 and "pv_staff=" not in answer.headers.get("set-cookie", "")


async def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(
    staff_app: RunningApp,
) -> None:
    async with client(staff_app) as http:
        for _ in range(5):
            form = await http.get("/staff/login")
            wrong = await http.post(
                "/staff/login",
                data={
                    "csrf": csrf_of(form),
                    "email": USERS["analyst"],
                    "password": "not-it-at-all",
                },
            )
            assert wrong.status_code == 400 and "do not match" in wrong.text
        form = await http.get("/staff/login")
        right_but_locked = await http.post(
            "/staff/login",
            data={"csrf": csrf_of(form), "email": USERS["analyst"], "password": PASSWORD},
        )
        assert right_but_locked.status_code == 400  # the same words: nothing to learn from it
        assert "pv_staff=" not in right_but_locked.headers.get("set-cookie", "")
    staff_app.clock.advance(minutes=16)
    async with signed_in(staff_app, "analyst") as http:
        assert (await http.get("/staff/transcripts")).status_code == 200
    async with staff_app.runtime.pipeline._sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "staff_locked" in actions


async def test_each_role_reaches_only_its_pages(staff_app: RunningApp) -> None:
    admin_only = ["/staff/outcomes", "/staff/staff", "/staff/audit", "/staff/flows"]
    async with signed_in(staff_app, "analyst") as http:
        for path in admin_only + ["/staff/alerts"]:
            answer = await http.get(path)
            assert answer.status_code == 403 and "Your role cannot open this page" in answer.text
        page = await http.get("/staff/outcomes")
        assert "not yet acknowledged" not in page.text
        for path in ["/staff/", "/staff/themes", "/staff/transcripts", "/staff/exports"]:
            assert (await http.get(path)).status_code == 200, path
        # an analyst cannot add staff by posting the form either
        token = csrf_of(await http.get("/staff/exports"))
        answer = await http.post(
            "/staff/staff", data={"csrf": token, "email": "x@example.org", "role": "admin"}
        )
        assert answer.status_code == 403
    async with signed_in(staff_app, "safeguarding") as http:
        assert (await http.get("/staff/alerts")).status_code == 200
        assert (await http.get("/staff/transcripts")).status_code == 403
    async with signed_in(staff_app, "admin") as http:
        for path in admin_only:
            assert (await http.get(path)).status_code == 200, path


async def test_session_cookie_flags_headers_and_signing_out(
    staff_app: RunningApp, tmp_path: Path, telegram_api: FakeTelegramAPI
) -> None:
    async with client(staff_app) as http:
        form = await http.get("/staff/login")
        answer = await http.post(
            "/staff/login",
            data={"csrf": csrf_of(form), "email": USERS["admin"], "password": PASSWORD},
        )
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/staff" in cookie
        page = await http.get("/staff/")
        assert page.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        out = await http.post("/staff/logout", data={"csrf": csrf_of(page)})
        assert out.status_code == 303
        assert (await http.get("/staff/")).status_code == 303  # the session is gone
    # Served over HTTPS (its public URL), the cookies are Secure too.
    public = RunningApp(
        staff_app_config(
            tmp_path,
            telegram_api,
            PARENTVOICE__SERVER__PUBLIC_URL="https://pv.example.org",
            # A public deployment takes every secret from the environment (bot/config.py).
            PARENTVOICE__SECURITY__VAULT_KEY=Fernet.generate_key().decode(),
        ),
        Clock(NOW),
    )
    await public.start()
    try:
        await seed(public.runtime.pipeline._sessions, NOW, Vault(public.config.security.vault_key))
        async with client(public) as http:
            # (httpx, like a browser, will not send a Secure cookie back over plain http)
            form = await http.get("/staff/login")
            assert "secure" in form.headers["set-cookie"].lower()
    finally:
        await public.stop()


async def test_transcript_views_and_exports_are_audited_and_admins_read_the_log(
    staff_app: RunningApp,
) -> None:
    first = staff_app.seeded["conversations"][0]  # type: ignore[attr-defined]
    async with signed_in(staff_app, "analyst") as http:
        page = await http.get(f"/staff/transcripts/{first}")
        assert page.status_code == 200 and "[CHILD_1]" in page.text
        export = await http.post(
            "/staff/exports",
            data={
                "csrf": csrf_of(page),
                "kind": "transcripts",
                "format": "csv",
                "since": "2026-03-01",
            },
        )
        assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
        rows = int(export.headers["x-rows"])
        assert rows > 0
    async with staff_app.runtime.pipeline._sessions() as session:
        entries = [
            (e.actor, e.action, e.detail)
            for e in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert (USERS["analyst"], "transcript_view", {"conversation": first, "rows": 6}) in entries
    exported = [
        d for actor, action, d in entries if action == "export" and actor == USERS["analyst"]
    ]
    assert exported and exported[-1]["rows"] == rows and exported[-1]["since"] == "2026-03-01"
    async with signed_in(staff_app, "admin") as http:
        log = await http.get("/staff/audit")
        assert "transcript_view" in log.text and USERS["analyst"] in log.text


async def test_one_time_link_sets_a_password_once(staff_app: RunningApp) -> None:
    async with signed_in(staff_app, "admin") as http:
        page = await http.get("/staff/staff")
        added = await http.post(
            "/staff/staff",
            data={"csrf": csrf_of(page), "email": "New.Analyst@Example.org", "role": "analyst"},
        )
        link = re.search(r"/staff/set-password\?token=([\w-]+)", added.text)
        assert added.status_code == 200 and link is not None
    async with client(staff_app) as http:
        for expected in (303, 400):  # works once only
            answer = await http.post(
                "/staff/set-password",
                data={
                    "token": link.group(1),
                    "password": "a-new-long-password",
                    "confirm": "a-new-long-password",
                },
            )
            assert answer.status_code == expected
        form = await http.get("/staff/login")
        signed = await http.post(
            "/staff/login",
            data={
                "csrf": csrf_of(form),
                "email": "new.analyst@example.org",
                "password": "a-new-long-password",
            },
        )
        assert signed.status_code == 303
