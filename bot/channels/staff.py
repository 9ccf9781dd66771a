"""Where staff are told about safeguarding alerts: a Telegram chat, and/or a webhook.

A staff notification is an outbox row like any other (written in the same transaction as the
alert), on one of the ``STAFF_CHANNELS``. The sender delivers it to the address in config rather
than to a participant: the Telegram channel's bot posts into the staff chat, and ``WebhookSender``
POSTs JSON to an HTTPS endpoint (an e-mail relay, a Teams or Slack workflow, a case system), signed
with HMAC-SHA256 so the receiver can tell it came from us.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from bot.channels.base import Outbound
from bot.errors import PermanentDelivery, RetryableDelivery

__all__ = ["STAFF_CHANNELS", "STAFF_TELEGRAM", "STAFF_WEBHOOK", "WebhookSender", "signature"]

STAFF_TELEGRAM = "staff_telegram"
STAFF_WEBHOOK = "staff_webhook"
STAFF_CHANNELS = (STAFF_TELEGRAM, STAFF_WEBHOOK)
SIGNATURE_HEADER = "X-ParentVoice-Signature"


def signature(secret: str, body: bytes) -> str:
    """The value of the signature header for ``body``: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """POSTs ``{"event": "safeguarding_alert", "text": ...}`` to the configured URL."""

    name = STAFF_WEBHOOK

    def __init__(self, secret: str, timeout: float = 10.0) -> None:
        self._secret = secret
        self._http = httpx.AsyncClient(timeout=timeout)

    async def send(self, address: str, message: Outbound) -> str:
        body = json.dumps(
            {"event": "safeguarding_alert", "text": message.text}, ensure_ascii=False
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        try:
            response = await self._http.post(address, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise RetryableDelivery(f"staff webhook unreachable: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableDelivery(f"staff webhook answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentDelivery(f"staff webhook refused the alert: {response.status_code}")
        return str(response.headers.get("X-Request-Id", ""))

    async def close(self) -> None:
        await self._http.aclose()
