"""Participant pseudonyms: HMAC-SHA256(secret key, channel + address). Also the Rasa sender id."""

from __future__ import annotations

import hashlib
import hmac


def pseudonym(key: bytes, channel: str, address: str) -> str:
    """A stable, non-reversible id for one address on one channel (64 hex characters)."""
    return hmac.new(key, f"{channel}:{address}".encode(), hashlib.sha256).hexdigest()
