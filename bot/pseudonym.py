"""Participant pseudonyms: HMAC-SHA256(secret key, channel + address). Also the Rasa sender id.

Key rotation: ``security.pseudonym_key`` may hold several keys, newest first, separated by commas
("NEW,OLD"). Pseudonyms are made with the first. A parent still known by a pseudonym made with an
older key is found by it, and re-keyed, when they next write (bot/pipeline.py); `parentvoice keys
rotate-pseudonyms` re-keys everyone whose address is still in the contact vault, after which the
old keys can be dropped (DEPLOYMENT.md, "Rotating keys").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def pseudonym_keys(value: bytes) -> list[bytes]:
    """The keys in a ``security.pseudonym_key`` value, newest first (empty parts kept, as "")."""
    return [part.strip() for part in value.split(b",")]


def pseudonym(key: bytes, channel: str, address: str) -> str:
    """A stable, non-reversible id for one address on one channel (64 hex characters)."""
    return hmac.new(key, f"{channel}:{address}".encode(), hashlib.sha256).hexdigest()


def former_pseudonyms(old_keys: Sequence[bytes], channel: str, address: str) -> list[str]:
    """The pseudonyms this address had under each older key, newest first."""
    return [pseudonym(key, channel, address) for key in old_keys]
