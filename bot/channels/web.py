"""The local web chat channel: a parent talks to the bot in a browser, no platform account needed.

The browser posts each message to ``POST /chat/api/messages`` and long-polls
``GET /chat/api/messages`` for replies. Replies wait in an in-memory mailbox per chat session
(the session id is a UUID the browser made up and keeps in ``sessionStorage``); the mailbox keeps
the last ``max_messages`` replies and is forgotten after ``idle_timeout`` seconds without activity.

This adapter only translates (STYLE.md rule 2): HTTP in → ``Inbound``; ``Outbound`` → mailbox.
The session id is the raw channel address: it is never logged, and neither is message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels.base import Inbound, InboundKind, Outbound
from bot.errors import PermanentDelivery, WebhookRejected

__all__ = ["WebChatChannel"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_TEXT_CHARS = 10_000
MAX_WAIT_SECONDS = 25.0

# The page is ours and self-contained: nothing external, no inline script or style.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_STATIC_TYPES = {
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}


@dataclass(frozen=True)
class _Stored:
    seq: int
    text: str
    choices: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "text": self.text, "choices": list(self.choices)}


@dataclass
class _Mailbox:
    messages: deque[_Stored]
    last_seq: int = 0
    last_active: float = 0.0
    waiters: set[asyncio.Future[None]] = field(default_factory=set)

    def after(self, seq: int) -> list[_Stored]:
        return [m for m in self.messages if m.seq > seq]


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class WebChatChannel:
    """Browser chat: ``send`` drops replies in a per-session mailbox; ``routes`` serves the page
    and the JSON API that posts messages and long-polls for replies.

    ``monotonic`` is passed in so tests can move time on; it only ages idle sessions.
    """

    name: str = "web"

    def __init__(
        self,
        *,
        max_messages: int = 200,
        idle_timeout: float = 3600.0,
        max_sessions: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_messages = max_messages
        self._idle_timeout = idle_timeout
        self._max_sessions = max_sessions
        self._monotonic = monotonic
        # Least recently active first, so pruning stops at the first live session.
        self._boxes: OrderedDict[str, _Mailbox] = OrderedDict()
        # A plain lock, never held across an await: the outbox sender may run on another thread.
        self._lock = threading.Lock()
        self._closing = False

    async def send(self, address: str, message: Outbound) -> str:
        """Put ``message`` in the mailbox of session ``address`` and wake its long-pollers.

        Returns ``"web:<address>:<seq>"``. Raises ``PermanentDelivery`` if ``address`` is not a
        web chat session id.
        """
        session = _parse_uuid(address)
        if session is None:
            raise PermanentDelivery("web: the address is not a chat session id")
        with self._lock:
            box = self._touch(session)
            box.last_seq += 1
            seq = box.last_seq
            box.messages.append(_Stored(seq, message.text, tuple(message.choices)))
            waiters = list(box.waiters)
            box.waiters.clear()
        for waiter in waiters:
            # RuntimeError: that poller's event loop has closed, so there is nobody to wake.
            with contextlib.suppress(RuntimeError):
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)
        return f"web:{session}:{seq}"

    def close(self) -> None:
        """Answer every open long-poll now and every later one at once: the server is stopping,
        and a poll held for 25 s would outlast its graceful shutdown. Safe from a signal handler."""
        with self._lock:
            self._closing = True
            waiters = [waiter for box in self._boxes.values() for waiter in box.waiters]
            for box in self._boxes.values():
                box.waiters.clear()
        for waiter in waiters:
            with contextlib.suppress(RuntimeError):
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)

    async def _wait_for_messages(
        self, address: str, after: int, wait: float
    ) -> list[dict[str, Any]]:
        """Messages of session ``address`` with ``seq > after``, waiting up to ``wait`` seconds
        for one to arrive if there are none yet.

        If ``after`` is beyond the newest message the mailbox was lost (restart or idle expiry)
        and numbering began again, so everything still held is returned.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        with self._lock:
            box = self._touch(address)
            if after > box.last_seq:
                after = 0
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            with self._lock:
                found = box.after(after)
                remaining = deadline - loop.time()
                if found or remaining <= 0 or self._closing:
                    return [m.as_json() for m in found]
                box.waiters.add(waiter)
            try:
                await asyncio.wait({waiter}, timeout=remaining)
            finally:
                with self._lock:
                    box.waiters.discard(waiter)
                    box.last_active = self._monotonic()

    def routes(
        self,
        handle: Callable[[Inbound], Awaitable[None]],
        clock: Callable[[], datetime],
    ) -> list[BaseRoute]:
        """Starlette routes for the page, its two static files and the JSON API.

        ``handle`` takes each normalised ``Inbound`` into the pipeline; if it raises, the browser
        gets 503 and retries with the same ``client_id`` (so ``handle`` must ignore a repeated
        ``platform_id``). ``clock`` stamps ``received_at``.
        """
        page = _read_asset("chat.html")
        static = {name: _read_asset(name) for name in _STATIC_TYPES}

        async def chat_page(request: Request) -> Response:
            return Response(page, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

        async def chat_static(request: Request) -> Response:
            name = request.path_params["name"]
            if name not in static:
                return Response("Not Found", status_code=404, media_type="text/plain")
            return Response(static[name], media_type=_STATIC_TYPES[name], headers=_PAGE_HEADERS)

        async def post_message(request: Request) -> Response:
            try:
                inbound = _parse_post(await _read_json_body(request), clock)
            except WebhookRejected as exc:
                return _error(exc.status, exc.reason)
            try:
                await handle(inbound)
            except Exception as exc:  # any pipeline failure: the browser retries
                # Only the type: an exception's message may quote the parent's text.
                logger.error("web: handling an inbound message failed (%s)", type(exc).__name__)
                return _error(503, "We could not take your message just now. Please try again.")
            return JSONResponse({"ok": True}, status_code=202, headers=_API_HEADERS)

        async def get_messages(request: Request) -> Response:
            try:
                session, after, wait = _parse_poll(request)
            except WebhookRejected as exc:
                return _error(exc.status, exc.reason)
            messages = await self._wait_for_messages(session, after, wait)
            return JSONResponse({"messages": messages}, headers=_API_HEADERS)

        return [
            Route("/chat", chat_page, methods=["GET"], name="web_chat_page"),
            Route("/chat/static/{name}", chat_static, methods=["GET"], name="web_chat_static"),
            Route("/chat/api/messages", post_message, methods=["POST"], name="web_chat_post"),
            Route("/chat/api/messages", get_messages, methods=["GET"], name="web_chat_poll"),
        ]

    def _touch(self, session: str) -> _Mailbox:
        """The mailbox of ``session``, created if needed and marked active; call under the lock."""
        now = self._monotonic()
        while self._boxes:
            key, oldest = next(iter(self._boxes.items()))
            expired = now - oldest.last_active > self._idle_timeout
            full = len(self._boxes) >= self._max_sessions and session not in self._boxes
            if not expired and not full:
                break
            del self._boxes[key]
        box = self._boxes.get(session)
        if box is None:
            box = _Mailbox(messages=deque(maxlen=self._max_messages))
            self._boxes[session] = box
        box.last_active = now
        self._boxes.move_to_end(session)
        return box


def _read_asset(name: str) -> bytes:
    return (resources.files("bot") / "web" / name).read_bytes()


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=_API_HEADERS)


def _parse_uuid(value: object) -> str | None:
    """The canonical lower-case form of a UUID string, so one session has one address."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


async def _read_json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        # Also keeps other web pages from posting here with a simple cross-site form.
        raise WebhookRejected(415, "Send the message as application/json.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise WebhookRejected(413, "The message is too large.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise WebhookRejected(413, "The message is too large.")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected(400, "The request body is not valid JSON.") from exc


def _parse_post(payload: Any, clock: Callable[[], datetime]) -> Inbound:
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "The request body must be a JSON object.")
    session = _parse_uuid(payload.get("session"))
    if session is None:
        raise WebhookRejected(400, "session must be a UUID.")
    client_id = _parse_uuid(payload.get("client_id"))
    if client_id is None:
        raise WebhookRejected(400, "client_id must be a UUID.")
    text = payload.get("text")
    if not isinstance(text, str):
        raise WebhookRejected(400, "text must be a string.")
    text = text.strip()
    if not text:
        raise WebhookRejected(400, "text must not be empty.")
    if len(text) > MAX_TEXT_CHARS:
        raise WebhookRejected(400, f"text must be at most {MAX_TEXT_CHARS} characters.")
    return Inbound(
        channel="web",
        address=session,
        platform_id=f"web:{client_id}",
        kind=InboundKind.TEXT,
        text=text,
        received_at=clock(),
    )


def _parse_poll(request: Request) -> tuple[str, int, float]:
    params = request.query_params
    session = _parse_uuid(params.get("session"))
    if session is None:
        raise WebhookRejected(400, "session must be a UUID.")
    try:
        after = int(params.get("after", "0"))
    except ValueError as exc:
        raise WebhookRejected(400, "after must be a whole number.") from exc
    if after < 0:
        raise WebhookRejected(400, "after must not be negative.")
    try:
        wait = float(params.get("wait", "0"))
    except ValueError as exc:
        raise WebhookRejected(400, "wait must be a number of seconds.") from exc
    if not math.isfinite(wait) or not 0 <= wait <= MAX_WAIT_SECONDS:
        raise WebhookRejected(400, f"wait must be between 0 and {MAX_WAIT_SECONDS:g} seconds.")
    return session, after, wait
