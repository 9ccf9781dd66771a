"""A terminal chat against a running ParentVoice server, through the web chat API.

``parentvoice chat`` uses it to try a conversation without a browser or a platform account.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, TextIO

import httpx

__all__ = ["run_terminal_chat"]

_POLL_WAIT = 5.0  # seconds per long-poll while waiting for the first reply
_SEND_ATTEMPTS = 3


class _Unreachable(Exception):
    """The server could not be reached at all."""


class _Refused(Exception):
    """The server answered, but not as a ParentVoice web chat should; the message says how."""


def run_terminal_chat(
    base_url: str,
    input_fn: Callable[[str], str] = input,
    output: TextIO = sys.stdout,
    *,
    reply_timeout: float = 30.0,
    settle: float = 1.0,
) -> None:
    """Chat with the ParentVoice server at ``base_url`` in the terminal until EOF or ``/quit``.

    Each line read with ``input_fn`` is posted as one message; then replies are long-polled for
    up to ``reply_timeout`` seconds and printed as ``bot> ...``, with choices as ``  1) ...``.
    Once a reply has come, polling carries on until ``settle`` seconds pass with nothing new,
    so a reply split over several messages is shown together.
    """
    root = base_url.rstrip("/")
    session = str(uuid.uuid4())

    def say(line: str = "") -> None:
        output.write(line + "\n")
        output.flush()

    with httpx.Client(base_url=root, timeout=httpx.Timeout(10.0, read=_POLL_WAIT + 10.0)) as http:
        chat = _Chat(http, session)
        try:
            chat.poll(wait=0)  # fails fast if the server is not running
            say(f"ParentVoice test chat at {root}. Type a message and press Enter; /quit to leave.")
            say("This chat is not watched in real time. In an emergency call 999.")
            _converse(chat, input_fn, say, reply_timeout, settle)
        except _Unreachable:
            say(f"Cannot reach ParentVoice at {root} — start it with `make run`")
        except _Refused as exc:
            say(f"ParentVoice at {root} did not answer as expected: {exc}")
        except KeyboardInterrupt:
            say()


def _converse(
    chat: _Chat,
    input_fn: Callable[[str], str],
    say: Callable[[str], None],
    reply_timeout: float,
    settle: float,
) -> None:
    while True:
        try:
            line = input_fn("you> ")
        except EOFError:
            say("")
            return
        text = line.strip()
        if text == "/quit":
            return
        if not text:
            continue
        problem = chat.post(text)
        if problem is not None:
            say(f"(not sent: {problem})")
            continue
        replies = chat.replies(reply_timeout, settle)
        if not replies:
            say("(no reply yet; it will show after your next message)")
        for message in replies:
            text = str(message.get("text", ""))
            say(f"bot> {text}")
            choices = message.get("choices") or []
            if (
                choices and f"1. {choices[0]}" not in text
            ):  # choice texts number them already (for SMS)
                for number, choice in enumerate(choices, start=1):
                    say(f"  {number}) {choice}")


class _Chat:
    """One chat session's calls to the web chat API."""

    def __init__(self, http: httpx.Client, session: str) -> None:
        self._http = http
        self._session = session
        self._after = 0

    def post(self, text: str) -> str | None:
        """Send one message; ``None`` once accepted, else why it was refused."""
        body = {"session": self._session, "text": text, "client_id": str(uuid.uuid4())}
        for attempt in range(_SEND_ATTEMPTS):
            if attempt:
                time.sleep(attempt)
            try:
                response = self._http.post("/chat/api/messages", json=body)
            except httpx.TransportError as exc:
                if attempt == _SEND_ATTEMPTS - 1:
                    raise _Unreachable from exc
                continue
            if response.status_code < 400:
                return None
            if response.status_code < 500 and response.status_code not in (408, 429):
                return _error_text(response)
        return "the server is busy; please try again"

    def poll(self, wait: float) -> list[dict[str, Any]]:
        """New messages since the last poll, waiting up to ``wait`` seconds for one."""
        try:
            response = self._http.get(
                "/chat/api/messages",
                params={"session": self._session, "after": self._after, "wait": f"{wait:g}"},
            )
        except httpx.TransportError as exc:
            raise _Unreachable from exc
        if response.status_code == 404:
            raise _Refused("it has no web chat (is the web channel switched on?)")
        if response.status_code != 200:
            raise _Refused(_error_text(response))
        messages: list[dict[str, Any]] = response.json().get("messages", [])
        if messages:
            self._after = int(messages[-1]["seq"])
        return messages

    def replies(self, reply_timeout: float, settle: float) -> list[dict[str, Any]]:
        """Wait for the bot's reply, then gather whatever follows within ``settle`` seconds."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + reply_timeout
        while not found:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return found
            found += self.poll(min(_POLL_WAIT, remaining))
        while more := self.poll(settle):
            found += more
        return found


def _error_text(response: httpx.Response) -> str:
    try:
        reason = response.json().get("error")
    except ValueError:
        reason = None
    return str(reason or f"HTTP {response.status_code}")
