"""The contact vault: raw channel addresses encrypted with Fernet, decrypted only to send.

Key rotation: ``security.vault_key`` may hold several keys, newest first, separated by commas
("NEW,OLD"). New addresses are sealed with the first; any of them opens. `parentvoice keys
rotate-vault` then re-seals every stored address with the first key, after which the old ones
can be dropped from the environment (README, "Rotating keys").
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.errors import ConfigError


def vault_keys(key: bytes) -> list[bytes]:
    """The keys in a ``security.vault_key`` value, newest first."""
    return [part.strip() for part in key.split(b",") if part.strip()]


class Vault:
    """Encrypts and decrypts addresses with the configured key(s)."""

    def __init__(self, key: bytes) -> None:
        try:
            fernets = [Fernet(part) for part in vault_keys(key)]
        except ValueError as exc:
            raise ConfigError("security.vault_key is not a valid Fernet key") from exc
        if not fernets:
            raise ConfigError("security.vault_key is empty")
        self._fernet = MultiFernet(fernets)

    def seal(self, address: str) -> bytes:
        """Encrypt an address for storage (with the newest key)."""
        return self._fernet.encrypt(address.encode())

    def open(self, sealed: bytes) -> str:
        """Decrypt an address to send a message; raises ConfigError if no key matches."""
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken as exc:
            raise ConfigError("the contact vault cannot be read with security.vault_key") from exc

    def reseal(self, sealed: bytes) -> bytes:
        """The same address sealed with the newest key (its original time kept)."""
        try:
            return self._fernet.rotate(sealed)
        except InvalidToken as exc:
            raise ConfigError("the contact vault cannot be read with security.vault_key") from exc
