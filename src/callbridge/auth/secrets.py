"""The installation's secret key, and encryption at rest of what Callbridge must keep (CRM tokens, client secrets).

The key comes from configuration (`CALLBRIDGE_SECRET_KEY`); when it is empty, a random key is generated
into `<data_dir>/secret_key` on first start (readable by the owner only) and reused afterwards.
Encryption is Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key derived with HKDF
from the secret key, so the secret key may be any string and other uses of it get other keys.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from callbridge.config import Settings

KEY_FILE = "secret_key"


def load_secret_key(settings: Settings) -> str:
    """The configured secret key, else the one kept in data_dir (generated there the first time)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(key + "\n")
    return key


def derive_key(secret_key: str, purpose: str) -> bytes:
    """32 bytes for one purpose, derived from the secret key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"callbridge:{purpose}".encode())
    return hkdf.derive(secret_key.encode("utf-8"))


class DecryptionFailed(Exception):
    """The data was not encrypted with this key (the secret key changed) or was altered."""


class TokenCipher:
    """Encrypts short secrets for storage; each value is authenticated, so tampering is detected."""

    def __init__(self, secret_key: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, "tokens-at-rest")))

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode("utf-8")
        except InvalidToken as error:
            raise DecryptionFailed("stored secret cannot be decrypted: was CALLBRIDGE_SECRET_KEY changed?") from error
