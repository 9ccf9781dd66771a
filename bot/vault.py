"""The contact vault: raw channel addresses encrypted with Fernet, decrypted only to send."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from bot.errors import ConfigError


class Vault:
    """Encrypts and decrypts addresses with the configured key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ConfigError("security.vault_key is not a valid Fernet key") from exc

    def seal(self, address: str) -> bytes:
        """Encrypt an address for storage."""
        return self._fernet.encrypt(address.encode())

    def open(self, sealed: bytes) -> str:
        """Decrypt an address to send a message; raises ConfigError if the key does not match."""
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken as exc:
            raise ConfigError("the contact vault cannot be read with security.vault_key") from exc
