"""Small values kept in the browser between two requests, sealed so only this server reads them.

Flash messages and the email a sign-in code was sent to travel in cookies rather than in a
server-side store, so any worker can serve the next request. Each value is encrypted and
authenticated (AES-GCM, the cookie's name as associated data, so one cookie cannot be replayed
as another) and carries its own expiry.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Request, Response

_NONCE_BYTES = 12
_MAX_COOKIE_CHARS = 3000  # well under the 4 KB browsers keep per cookie


class SealedCookie:
    def __init__(self, key: bytes, name: str, *, max_age: int, path: str = "/") -> None:
        self._aead = AESGCM(key)
        self.name = name
        self.max_age = max_age
        self.path = path

    def seal(self, value: dict[str, Any]) -> str:
        payload = json.dumps({"v": value, "exp": int(time.time()) + self.max_age}, separators=(",", ":")).encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, payload, self.name.encode())
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, raw: str | None) -> dict[str, Any] | None:
        """The value, or None when absent, tampered with, sealed for another cookie, or expired."""
        if not raw or len(raw) > _MAX_COOKIE_CHARS:
            return None
        try:
            sealed = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            payload = self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], self.name.encode())
            data = json.loads(payload)
        except (binascii.Error, ValueError, InvalidTag):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("v"), dict) or data.get("exp", 0) < time.time():
            return None
        value: dict[str, Any] = data["v"]
        return value

    def read(self, request: Request) -> dict[str, Any] | None:
        return self.open(request.cookies.get(self.name))

    def store(self, request: Request, response: Response, value: dict[str, Any]) -> None:
        response.set_cookie(
            self.name,
            self.seal(value),
            max_age=self.max_age,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path=self.path,
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(self.name, path=self.path)
