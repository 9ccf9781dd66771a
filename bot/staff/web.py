"""The staff web app under /staff: server-rendered pages (Jinja2), no CDN, a little plain CSS.

Security, in the order a request meets it:
- every /staff route but the sign-in and set-password pages needs a signed-in session: a page
  asked for without one redirects to sign-in, anything else is refused (403);
- the session cookie is random, HttpOnly, SameSite=Strict, Secure (unless the app is served from
  127.0.0.1 or localhost for trying it), scoped to /staff, and only its digest is stored;
- every POST carries the session's CSRF token in a hidden field (the sign-in form, which has no
  session yet, a double-submit token) or is refused;
- roles: admin sees everything; analyst the overview, themes, transcripts and exports;
  safeguarding the overview and alerts. Others get 403;
- every page is sent with no-store caching, a strict Content-Security-Policy and no framing;
- opening a transcript and every export is written to the audit log (who, when, filter, rows).
"""

from __future__ import annotations

import hmac
import io
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot import outcomes
from bot.config import Config
from bot.errors import ParentVoiceError
from bot.export import DATA_DICTIONARY, ExportFilter, export_messages
from bot.staff import accounts, charts, reports
from flows.spec import THEMES, FlowSet, lint, segment_report
from storage.db import as_utc
from storage.models import AuditEntry, SafeguardingAlert, StaffSession, StaffUser

HERE = Path(__file__).resolve().parent
COOKIE = "pv_staff"
LOGIN_CSRF_COOKIE = "pv_staff_login"
CSS_PATH = "/assets/staff.css"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ANY_ROLE = accounts.ROLES
READERS = ("admin", "analyst")
ALERTS = ("admin", "safeguarding")
ADMIN = ("admin",)


@dataclass(frozen=True)
class Staff:
    """Who is asking: the signed-in user and their session (with its CSRF token)."""

    user: StaffUser
    session: StaffSession


Handler = Callable[[Request, Staff], Awaitable[Response]]


class StaffWeb:
    """Routes and handlers of /staff; see the module docstring."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        flows: FlowSet,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._flows = flows
        self._clock = clock
        self._zone = config.schedule.quiet.zone
        host = config.server.public_url.split("://", 1)[-1].split(":")[0].split("/")[0]
        self._secure_cookie = host not in ("127.0.0.1", "localhost")
        self._templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates.filters["local"] = self._local
        self._templates.globals.update(css=CSS_PATH, themes=THEMES, label=_label)

    # -- plumbing ----------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        page = self._page
        return [
            Route("/staff/login", self.login_form, methods=["GET"]),
            Route("/staff/login", self.login, methods=["POST"]),
            Route("/staff/set-password", self.password_form, methods=["GET"]),
            Route("/staff/set-password", self.set_password, methods=["POST"]),
            Route("/staff/logout", page(ANY_ROLE, self.logout), methods=["POST"]),
            Route("/staff", page(ANY_ROLE, self.overview), methods=["GET"]),
            Route("/staff/", page(ANY_ROLE, self.overview), methods=["GET"]),
            Route("/staff/themes", page(READERS, self.themes), methods=["GET"]),
            Route("/staff/transcripts", page(READERS, self.transcripts), methods=["GET"]),
            Route(
                "/staff/transcripts/{public_id}", page(READERS, self.transcript), methods=["GET"]
            ),
            Route("/staff/alerts", page(ALERTS, self.alerts), methods=["GET"]),
            Route("/staff/alerts/{alert_id:int}", page(ALERTS, self.acknowledge), methods=["POST"]),
            Route("/staff/outcomes", page(ADMIN, self.outcomes), methods=["GET", "POST"]),
            Route("/staff/outcomes/{outcome_id:int}", page(ADMIN, self.outcome), methods=["GET"]),
            Route(
                "/staff/outcomes/{outcome_id:int}/cancel",
                page(ADMIN, self.cancel),
                methods=["POST"],
            ),
            Route("/staff/exports", page(READERS, self.exports), methods=["GET", "POST"]),
            Route("/staff/flows", page(ADMIN, self.flows), methods=["GET"]),
            Route("/staff/staff", page(ADMIN, self.staff), methods=["GET", "POST"]),
            Route("/staff/audit", page(ADMIN, self.audit), methods=["GET"]),
            Route(CSS_PATH, self.css, methods=["GET"]),
        ]

    def _page(
        self, roles: tuple[str, ...], handler: Handler
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap ``handler``: signed in, allowed by role, and (for POST) the right CSRF token."""

        async def endpoint(request: Request) -> Response:
            async with self._sessions() as session:
                found = await accounts.current(session, request.cookies.get(COOKIE), self._clock())
            if found is None:
                if request.method == "GET":
                    return RedirectResponse("/staff/login", status_code=303)
                return self._error(request, None, 403, "Please sign in first.")
            staff = Staff(*found)
            if staff.user.role != "admin" and staff.user.role not in roles:
                return self._error(request, staff, 403, "Your role cannot open this page.")
            if request.method == "POST":
                form = await request.form()
                if not _same(form.get("csrf"), staff.session.csrf_token):
                    return self._error(
                        request, staff, 403, "This form has expired: go back, reload and try again."
                    )
            return await handler(request, staff)

        return endpoint

    def _render(
        self, request: Request, name: str, staff: Staff | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        body = self._templates.get_template(name).render(
            staff=staff.user if staff else None,
            csrf=staff.session.csrf_token if staff else "",
            path=request.url.path,
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def _error(
        self, request: Request, staff: Staff | None, status: int, message: str
    ) -> HTMLResponse:
        return self._render(request, "error.html", staff, status=status, message=message)

    def _local(self, moment: datetime | None, fmt: str = "%a %d %b %Y %H:%M") -> str:
        return "" if moment is None else as_utc(moment).astimezone(self._zone).strftime(fmt)

    async def _audit(self, staff: Staff, action: str, detail: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            session.add(
                AuditEntry(
                    at=self._clock(), actor=staff.user.email[:64], action=action, detail=detail
                )
            )

    async def css(self, _: Request) -> Response:
        return Response(
            (HERE / "static" / "staff.css").read_bytes(),
            media_type="text/css",
            headers={"Cache-Control": "max-age=3600"},
        )

    # -- signing in --------------------------------------------------------------------------

    async def login_form(self, request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(32)
        response = self._render(
            request, "login.html", None, status=status, login_csrf=token, error=error
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=self._secure_cookie,
            path="/staff/login", max_age=3600,
        )  # fmt: skip
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form()
        if not _same(form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)):
            return self._error(
                request, None, 403, "This form has expired: reload the page and try again."
            )
        async with self._sessions.begin() as session:
            signed = await accounts.sign_in(
                session,
                str(form.get("email") or ""),
                str(form.get("password") or ""),
                self._clock(),
            )
        if signed is None:
            return await self.login_form(
                request,
                "That email and password do not match an account, or the account is locked "
                f"for {int(accounts.LOCKOUT.total_seconds() // 60)} minutes after "
                f"{accounts.MAX_FAILED} wrong passwords.",
                status=400,
            )
        response = RedirectResponse("/staff/", status_code=303)
        response.set_cookie(
            COOKIE, signed.token, httponly=True, samesite="strict", secure=self._secure_cookie,
            path="/staff", max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        )  # fmt: skip
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/staff/login")
        return response

    async def logout(self, request: Request, staff: Staff) -> Response:
        async with self._sessions.begin() as session:
            await accounts.sign_out(session, request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/staff/login", status_code=303)
        response.delete_cookie(COOKIE, path="/staff")
        return response

    async def password_form(self, request: Request, error: str = "", status: int = 200) -> Response:
        return self._render(
            request, "set_password.html", None, status=status, token=request.query_params.get("token", ""),
            error=error, minimum=accounts.MIN_PASSWORD,
        )  # fmt: skip

    async def set_password(self, request: Request) -> Response:
        form = await request.form()
        password = str(form.get("password") or "")
        if password != str(form.get("confirm") or ""):
            return await self.password_form(request, "The two passwords are not the same.", 400)
        try:
            async with self._sessions.begin() as session:
                await accounts.use_invite(
                    session, str(form.get("token") or ""), password, self._clock()
                )
        except accounts.AccountError as exc:
            return await self.password_form(request, str(exc), 400)
        return RedirectResponse("/staff/login", status_code=303)

    # -- pages -------------------------------------------------------------------------------

    async def overview(self, request: Request, staff: Staff) -> Response:
        today = self._clock().astimezone(self._zone).date()
        async with self._sessions() as session:
            seen = await reports.overview(session, self._flows, self._zone, today)
            open_alerts = len(await reports.alerts(session, open_only=True))
        return self._render(
            request, "overview.html", staff, o=seen, open_alerts=open_alerts,
            per_day=charts.bars(
                "Conversations started per day, last 30 days",
                [(d.strftime("%d %b"), n) for d, n in seen.per_day],
            ),
            heat=charts.heat_map(
                "Conversations started by day of week and hour (local time); office hours outlined",
                list(reports.WEEKDAYS), seen.heat,
            ),
            weekdays=reports.WEEKDAYS,
        )  # fmt: skip

    async def themes(self, request: Request, staff: Staff) -> Response:
        async with self._sessions() as session:
            found = await reports.themes(session, self._zone)
        trend = {
            s.theme: charts.bars(
                f"{_label(s.theme)}: answers per week",
                sorted((d.strftime("%d %b"), n) for d, n in s.by_week.items()),
                320,
                80,
            )
            for s in found
        }
        return self._render(
            request,
            "themes.html",
            staff,
            summaries=found,
            trend=trend,
            sentiments=reports.SENTIMENTS,
        )

    def _filter(self, request: Request) -> tuple[reports.TranscriptFilter, str]:
        q = request.query_params
        try:
            since = date.fromisoformat(q["since"]) if q.get("since") else None
            until = date.fromisoformat(q["until"]) if q.get("until") else None
        except ValueError:
            return reports.TranscriptFilter(), "Dates must look like 2026-11-30."
        flt = reports.TranscriptFilter(
            flow=q.get("flow") or None, since=since, until=until,
            theme=q.get("theme") if q.get("theme") in THEMES else None,
            channel=q.get("channel") or None,
            sentiment=q.get("sentiment") if q.get("sentiment") in reports.SENTIMENTS else None,
        )  # fmt: skip
        return flt, ""

    async def transcripts(self, request: Request, staff: Staff) -> Response:
        flt, error = self._filter(request)
        async with self._sessions() as session:
            found = await reports.transcripts(session, flt, self._zone)
        return self._render(
            request, "transcripts.html", staff, found=found, flt=flt, error=error,
            flows=sorted(self._flows.flows), channels=("telegram", "sms", "whatsapp", "web"),
            sentiments=reports.SENTIMENTS,
        )  # fmt: skip

    async def transcript(self, request: Request, staff: Staff) -> Response:
        public_id = request.path_params["public_id"]
        async with self._sessions() as session:
            found = await reports.transcript(session, public_id)
        if found is None:
            return self._error(
                request,
                staff,
                404,
                "No such conversation (or the parent did not agree to share it).",
            )
        conversation, messages, answers = found
        await self._audit(
            staff, "transcript_view", {"conversation": public_id, "rows": len(messages)}
        )
        return self._render(
            request, "transcript.html", staff, c=conversation, messages=messages,
            answers={a.question_id: a for a in answers},
        )  # fmt: skip

    async def alerts(
        self, request: Request, staff: Staff, error: str = "", status: int = 200
    ) -> Response:
        async with self._sessions() as session:
            found = await reports.alerts(session)
        return self._render(request, "alerts.html", staff, status=status, alerts=found, error=error)

    async def acknowledge(self, request: Request, staff: Staff) -> Response:
        form = await request.form()
        action = str(form.get("action") or "").strip()
        if not action:
            return await self.alerts(request, staff, "Say what was done before acknowledging.", 400)
        alert_id = request.path_params["alert_id"]
        async with self._sessions.begin() as session:
            alert = await session.get(SafeguardingAlert, alert_id)
            if alert is None:
                return self._error(request, staff, 404, "No such alert.")
            if alert.acknowledged_at is None:
                alert.acknowledged_at, alert.acknowledged_by = self._clock(), staff.user.email
                alert.action_taken = action[:4000]
                session.add(
                    AuditEntry(
                        at=self._clock(),
                        actor=staff.user.email[:64],
                        action="alert_acknowledge",
                        detail={"alert": alert_id},
                    )
                )
        return RedirectResponse("/staff/alerts", status_code=303)

    async def outcomes(self, request: Request, staff: Staff) -> Response:
        form: FormData | None = await request.form() if request.method == "POST" else None
        error, preview = "", None
        values = dict(form or {})
        if form is not None:
            texts = {str(form.get("lang") or "en"): str(form.get("message") or "")}
            try:
                send_at = datetime.fromisoformat(str(form.get("send_at") or ""))
            except ValueError:
                send_at = None
                error = "Choose a date and time to send it."
            if send_at is not None and send_at.tzinfo is None:
                send_at = send_at.replace(tzinfo=self._zone)
            themes = tuple(str(t) for t in form.getlist("themes"))
            if not error:
                try:
                    async with self._sessions.begin() as session:
                        created, checks = await outcomes.create(
                            session, flow_set=self._flows, flow_id=str(form.get("flow") or ""),
                            texts=texts, send_at=send_at, quiet=self._config.schedule.quiet,  # type: ignore[arg-type]
                            now=self._clock(), default_language=self._config.flows.default_language,
                            themes=themes, created_by=staff.user.email[:64],
                        )  # fmt: skip
                        preview = (checks, len(await outcomes.recipients(session, created)))
                        if form.get("intent") != "schedule":
                            await session.rollback()  # a preview: measure, keep nothing
                        else:
                            session.add(
                                AuditEntry(
                                    at=self._clock(),
                                    actor=staff.user.email[:64],
                                    action="outcome_create",
                                    detail={"outcome": created.id},
                                )
                            )
                    if form.get("intent") == "schedule":
                        return RedirectResponse(f"/staff/outcomes/{created.id}", status_code=303)
                except ParentVoiceError as exc:
                    error = str(exc)
        async with self._sessions() as session:
            rows = await outcomes.all_outcomes(session)
        return self._render(
            request, "outcomes.html", staff, status=400 if error else 200, rows=rows, error=error,
            preview=preview, values=values, flows=sorted(self._flows.flows),
            quiet=self._config.schedule.quiet.describe(),
        )  # fmt: skip

    async def outcome(self, request: Request, staff: Staff) -> Response:
        try:
            async with self._sessions() as session:
                report = await outcomes.report(session, request.path_params["outcome_id"])
        except outcomes.OutcomeError as exc:
            return self._error(request, staff, 404, str(exc))
        return self._render(request, "outcome.html", staff, r=report, o=report.outcome)

    async def cancel(self, request: Request, staff: Staff) -> Response:
        outcome_id = request.path_params["outcome_id"]
        try:
            async with self._sessions.begin() as session:
                await outcomes.cancel(session, outcome_id, self._clock())
                session.add(
                    AuditEntry(
                        at=self._clock(),
                        actor=staff.user.email[:64],
                        action="outcome_cancel",
                        detail={"outcome": outcome_id},
                    )
                )
        except outcomes.OutcomeError as exc:
            return self._error(request, staff, 400, str(exc))
        return RedirectResponse(f"/staff/outcomes/{outcome_id}", status_code=303)

    async def exports(self, request: Request, staff: Staff) -> Response:
        if request.method == "GET":
            if request.query_params.get("dictionary"):
                body = "column,meaning\r\n" + "".join(f'{c},"{m}"\r\n' for c, m in DATA_DICTIONARY)
                return _download(body.encode("utf-8-sig"), "data_dictionary.csv", "text/csv")
            return self._render(
                request,
                "exports.html",
                staff,
                flows=sorted(self._flows.flows),
                dictionary=DATA_DICTIONARY,
            )
        form = await request.form()
        kind, fmt = str(form.get("kind") or "transcripts"), str(form.get("format") or "csv")
        try:
            since = date.fromisoformat(str(form["since"])) if form.get("since") else None
            until = date.fromisoformat(str(form["until"])) if form.get("until") else None
        except ValueError:
            return self._render(
                request,
                "exports.html",
                staff,
                status=400,
                error="Dates must look like 2026-11-30.",
                flows=sorted(self._flows.flows),
                dictionary=DATA_DICTIONARY,
            )
        flow = str(form.get("flow") or "") or None
        if kind == "aggregates":
            return await self._aggregates(staff, fmt, bool(form.get("suppress")))
        out = io.BytesIO()
        try:
            rows = await export_messages(
                self._sessions,
                fmt,
                out,
                ExportFilter(flow, since, until),
                staff.user.email[:64],
                self._clock(),
            )
        except ParentVoiceError as exc:
            return self._render(
                request,
                "exports.html",
                staff,
                status=400,
                error=str(exc),
                flows=sorted(self._flows.flows),
                dictionary=DATA_DICTIONARY,
            )
        media = {
            "csv": "text/csv",
            "jsonl": "application/x-ndjson",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }[fmt]
        stamp = self._clock().strftime("%Y%m%d-%H%M")
        response = _download(out.getvalue(), f"parentvoice-transcripts-{stamp}.{fmt}", media)
        response.headers["X-Rows"] = str(rows)
        return response

    async def _aggregates(self, staff: Staff, fmt: str, suppress: bool) -> Response:
        """Counts meant for publication: by theme, channel, language and who took part."""
        today = self._clock().astimezone(self._zone).date()
        async with self._sessions() as session:
            seen = await reports.overview(session, self._flows, self._zone, today)
            summaries = await reports.themes(session, self._zone)
        table: list[tuple[str, str, str | int]] = [
            ("all", "conversations", reports.suppress(seen.conversations, suppress))
        ]
        table += [("theme", s.theme, reports.suppress(s.count, suppress)) for s in summaries]
        for group, counter in (
            ("channel", seen.channels),
            ("language", seen.languages),
            ("who", seen.who),
        ):
            table += [
                (group, key, reports.suppress(n, suppress)) for key, n in sorted(counter.items())
            ]
        await self._audit(
            staff,
            "export",
            {"format": fmt, "kind": "aggregates", "suppress": suppress, "rows": len(table)},
        )
        stamp = self._clock().strftime("%Y%m%d-%H%M")
        if fmt == "xlsx":
            from openpyxl import Workbook

            book = Workbook()
            sheet = book.active
            sheet.title = "Counts"
            sheet.append(["group", "value", "count"])
            for row in table:
                sheet.append(list(row))
            notes = book.create_sheet("Data dictionary")
            notes.append(["column", "meaning"])
            notes.append(["group", "all, theme, channel, language or who (the parent's role)"])
            notes.append(["value", "the theme, channel, language or role counted"])
            notes.append(
                [
                    "count",
                    "conversations (or coded answers, for themes); "
                    + ("counts under 5 shown as <5" if suppress else "exact counts"),
                ]
            )
            out = io.BytesIO()
            book.save(out)
            return _download(
                out.getvalue(),
                f"parentvoice-counts-{stamp}.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        body = "group,value,count\r\n" + "".join(f"{g},{v},{n}\r\n" for g, v, n in table)
        return _download(body.encode("utf-8-sig"), f"parentvoice-counts-{stamp}.csv", "text/csv")

    async def flows(self, request: Request, staff: Staff) -> Response:
        return self._render(
            request, "flows.html", staff, flows=self._flows.flows.values(),
            segments=segment_report(self._flows), warnings=lint(self._flows),
        )  # fmt: skip

    async def staff(self, request: Request, staff: Staff) -> Response:
        error, link = "", ""
        if request.method == "POST":
            form = await request.form()
            try:
                async with self._sessions.begin() as session:
                    user = await accounts.add_user(
                        session,
                        str(form.get("email") or ""),
                        str(form.get("role") or ""),
                        self._clock(),
                    )
                    token = await accounts.new_invite(session, user, self._clock())
                link = f"{self._config.server.public_url}/staff/set-password?token={token}"
            except accounts.AccountError as exc:
                error = str(exc)
        async with self._sessions() as session:
            users = list(await session.scalars(select(StaffUser).order_by(StaffUser.email)))
        return self._render(
            request,
            "staff.html",
            staff,
            status=400 if error else 200,
            users=users,
            error=error,
            link=link,
            roles=accounts.ROLES,
        )

    async def audit(self, request: Request, staff: Staff) -> Response:
        async with self._sessions() as session:
            entries = list(
                await session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(500))
            )
        return self._render(request, "audit.html", staff, entries=entries)


def _same(given: object, expected: str | None) -> bool:
    return (
        isinstance(given, str)
        and bool(expected)
        and hmac.compare_digest(given.encode(), str(expected).encode())
    )


_NAMES = {
    "telegram": "Telegram", "sms": "SMS", "whatsapp": "WhatsApp", "web": "Web chat",
    "en": "English", "pl": "Polish", "ur": "Urdu", "bn": "Bengali", "ro": "Romanian",
    "ar": "Arabic", "other_carer": "Other carer",
}  # fmt: skip


def _label(key: str) -> str:
    """A stored key as staff read it: "sms" → "SMS", "timely_support" → "Timely support"."""
    return _NAMES.get(key) or key.replace("_", " ").capitalize()


def _download(body: bytes, filename: str, media_type: str) -> Response:
    return Response(
        body, media_type=media_type,
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )  # fmt: skip
