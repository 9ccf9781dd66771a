"""The app's client for the Rasa server: send redacted text, get the bot's messages back.

Rasa sees only redacted text and pseudonyms. Errors become ``RasaUnavailable`` (retry later) or
``RasaError`` (Rasa answered, but not usefully).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.errors import RasaError, RasaUnavailable

TextItem = tuple[str, tuple[str, ...]]  # (text, button titles)
Signal = dict[str, Any]  # {"pv": kind, ...} from the action endpoint


@dataclass(frozen=True)
class BotTurn:
    """What Rasa answered to one message, in order: texts to send and signals for the app.

    Order matters: an ``asking`` signal follows the question text it labels.
    """

    items: tuple[TextItem | Signal, ...] = field(default_factory=tuple)

    @property
    def texts(self) -> list[TextItem]:
        """Just the texts, in order."""
        return [i for i in self.items if isinstance(i, tuple)]

    @property
    def signals(self) -> list[Signal]:
        """Just the signals, in order."""
        return [i for i in self.items if isinstance(i, dict)]


@dataclass(frozen=True)
class Parse:
    """What Rasa's NLU made of a text: the top intent and the whole ranking."""

    intent: str
    confidence: float
    ranking: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class _Worker:
    """One Rasa server, and the slots for turns in flight to it (``max_in_flight``)."""

    http: httpx.AsyncClient
    slots: asyncio.Semaphore


class RasaClient:
    """Talks to ``rasa run`` over HTTP with the shared token: one Rasa, or several workers that
    share a tracker store and a lock store (``base_url`` = "URL1,URL2").

    Each participant's turns go to one worker, chosen by their sender id, so a retried turn
    reaches the worker that remembers its answer. A worker that cannot be reached hands its
    participants to the next one, which carries on their conversation from the shared tracker.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_in_flight: int = 16,
    ) -> None:
        self._token = token
        # Rasa works through turns one CPU at a time: more requests at once only queue inside it,
        # where they time out (and are retried, adding to the queue). So at most a few are in
        # flight and the rest wait here, where waiting costs nothing and no timeout runs.
        urls = [url.strip().rstrip("/") for url in base_url.split(",") if url.strip()]
        self._workers = [
            _Worker(
                httpx.AsyncClient(
                    base_url=url,
                    timeout=timeout,
                    transport=transport,
                    headers={"Authorization": f"Bearer {token}"},
                ),
                asyncio.Semaphore(max_in_flight),
            )
            for url in urls
        ]
        self._next_parse = 0

    async def aclose(self) -> None:
        """Close the connection pools."""
        for worker in self._workers:
            await worker.http.aclose()

    def home(self, sender_id: str) -> int:
        """The index (in ``base_url``) of the worker that takes this sender's turns while it is up."""
        return int(hashlib.sha256(sender_id.encode()).hexdigest()[:8], 16) % len(self._workers)

    def _order(self, first: int) -> list[_Worker]:
        return self._workers[first:] + self._workers[:first]

    async def _post(self, workers: list[_Worker], path: str, **kwargs: Any) -> httpx.Response:
        """POST to the first worker that can be reached (and does not answer 5xx), waiting for
        one of its slots first."""
        problem = "no Rasa configured"
        for worker in workers:
            async with worker.slots:
                try:
                    resp = await worker.http.post(path, **kwargs)
                except httpx.TransportError as exc:
                    problem = f"cannot reach Rasa: {type(exc).__name__}"
                    continue
            if resp.status_code >= 500 or resp.status_code == 404:
                problem = f"Rasa answered {resp.status_code}"
                continue
            return resp
        raise RasaUnavailable(problem)

    async def send(self, sender_id: str, text: str, message_id: str | None = None) -> BotTurn:
        """Deliver one (already redacted) message for ``sender_id`` and collect the bot's reply.

        With ``message_id``, sending the same message again returns the first answer instead of
        running the turn twice (Rasa's channel keeps the last answer per sender).
        """
        body = {"sender": sender_id, "message": text}
        if message_id is not None:
            body["message_id"] = message_id
        resp = await self._post(
            self._order(self.home(sender_id)), "/webhooks/parentvoice/webhook", json=body
        )
        if resp.status_code != 200:
            raise RasaError(f"Rasa answered {resp.status_code}")
        try:
            items = resp.json()
        except ValueError as exc:
            raise RasaError("Rasa answered with something that is not JSON") from exc
        return parse_turn(items)

    async def parse(self, text: str) -> Parse:
        """Classify one (already redacted) text without running a dialogue turn."""
        self._next_parse = (self._next_parse + 1) % len(self._workers)
        try:
            resp = await self._post(
                self._order(self._next_parse), "/model/parse",
                params={"token": self._token}, json={"text": text},
            )  # fmt: skip
            resp.raise_for_status()
            body = resp.json()
            intent = body.get("intent") or {}
            ranking = body.get("intent_ranking") or []
            return Parse(
                intent=str(intent.get("name") or ""),
                confidence=float(intent.get("confidence") or 0.0),
                ranking=tuple(r for r in ranking if isinstance(r, dict)),
            )
        except (httpx.HTTPError, ValueError, TypeError, AttributeError) as exc:
            raise RasaUnavailable(f"Rasa could not parse: {type(exc).__name__}") from exc

    async def status(self) -> dict[str, Any]:
        """Rasa's /status (model loaded, fingerprint) from the first worker that answers; raises
        ``RasaUnavailable`` if none does."""
        problem = "no Rasa configured"
        for worker in self._workers:
            try:
                resp = await worker.http.get("/status", params={"token": self._token}, timeout=3.0)
                resp.raise_for_status()
                result: dict[str, Any] = resp.json()
                return result
            except (httpx.HTTPError, ValueError) as exc:
                problem = f"Rasa status unavailable: {type(exc).__name__}"
        raise RasaUnavailable(problem)


def parse_turn(items: Any) -> BotTurn:
    """Split Rasa's collected messages into texts (with buttons) and ``pv`` signals."""
    if not isinstance(items, list):
        raise RasaError("Rasa's reply is not a list of messages")
    out: list[TextItem | Signal] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        text = item.get("text")
        if isinstance(text, str) and text:
            buttons = tuple(
                str(b.get("title")) for b in item.get("buttons") or [] if isinstance(b, dict)
            )
            out.append((text, buttons))
        custom = item.get("custom")
        if isinstance(custom, dict) and "pv" in custom:
            out.append(custom)
    return BotTurn(items=tuple(out))
