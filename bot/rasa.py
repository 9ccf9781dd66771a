"""The app's client for the Rasa server: send redacted text, get the bot's messages back.

Rasa sees only redacted text and pseudonyms. Errors become ``RasaUnavailable`` (retry later) or
``RasaError`` (Rasa answered, but not usefully).
"""

from __future__ import annotations

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


class RasaClient:
    """Talks to ``rasa run`` over HTTP with the shared token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def send(self, sender_id: str, text: str, message_id: str | None = None) -> BotTurn:
        """Deliver one (already redacted) message for ``sender_id`` and collect the bot's reply.

        With ``message_id``, sending the same message again returns the first answer instead of
        running the turn twice (Rasa's channel keeps the last answer per sender).
        """
        body = {"sender": sender_id, "message": text}
        if message_id is not None:
            body["message_id"] = message_id
        try:
            resp = await self._http.post("/webhooks/parentvoice/webhook", json=body)
        except httpx.TransportError as exc:
            raise RasaUnavailable(f"cannot reach Rasa: {type(exc).__name__}") from exc
        if resp.status_code >= 500 or resp.status_code == 404:
            raise RasaUnavailable(f"Rasa answered {resp.status_code}")
        if resp.status_code != 200:
            raise RasaError(f"Rasa answered {resp.status_code}")
        try:
            items = resp.json()
        except ValueError as exc:
            raise RasaError("Rasa answered with something that is not JSON") from exc
        return parse_turn(items)

    async def parse(self, text: str) -> Parse:
        """Classify one (already redacted) text without running a dialogue turn."""
        try:
            resp = await self._http.post(
                "/model/parse", params={"token": self._token}, json={"text": text}
            )
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
        """Rasa's /status (model loaded, fingerprint); raises ``RasaUnavailable``."""
        try:
            resp = await self._http.get("/status", params={"token": self._token}, timeout=3.0)
            resp.raise_for_status()
            result: dict[str, Any] = resp.json()
            return result
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(f"Rasa status unavailable: {type(exc).__name__}") from exc


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
