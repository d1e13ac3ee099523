"""Logos that other parties register (an organisation in the directory, a Passport agent).

A page that hot-links a logo from its owner's site tells that site who is looking at it (the
address of a person who has not consented to anything yet). So a logo is fetched once, when
it is registered, through ``services/outbound.py`` (the address policy, the timeout, no
redirects), kept only if it is a PNG, JPEG or WebP image of at most 256 KB, stored, and served
from our own origin with headers that make it only ever an image. Anything else is not an
error: the pages show the owner's initials, and the registering call is told why.

The type is judged from the image's first bytes, never from what the other server said. The
image is then decoded (Pillow, those three formats only, with a cap on its pixels before any is
decoded) and written again as a PNG of at most 512 px a side: what is stored and served is
only pixels, with no metadata (a photo's location), no trailing bytes and nothing crafted for a
browser's decoder. A file that does not decode is refused. It is served with
``X-Content-Type-Options: nosniff`` and a sandboxing CSP besides.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from memoryos_server.errors import OutboundCallFailed
from memoryos_server.services.outbound import OutboundHttp

LOGO_MAX_BYTES = 256 * 1024
LOGO_TYPES = ("image/png", "image/jpeg", "image/webp")
LOGO_MAX_SIDE = 512  # pixels; a larger logo is scaled down
LOGO_MAX_PIXELS = 4096 * 4096  # larger is refused before decoding (a small file can claim a huge image)

# What the logo route answers with besides the image: cached, never sniffed, never a document.
LOGO_HEADERS = {
    "Cache-Control": "public, max-age=3600",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def logo_type(image: bytes) -> str | None:
    """The image type from its first bytes (never from what the server said): PNG, JPEG, WebP."""
    if image.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if image.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(image) >= 12 and image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        return "image/webp"
    return None


def reencoded(image: bytes) -> bytes | None:
    """``image`` decoded and written again as a PNG (RGBA, at most ``LOGO_MAX_SIDE`` a side), or
    None when it is not a PNG, JPEG or WebP that decodes."""
    try:
        with Image.open(io.BytesIO(image), formats=("PNG", "JPEG", "WEBP")) as opened:
            if opened.width * opened.height > LOGO_MAX_PIXELS:
                return None
            opened.load()
            pixels = opened.convert("RGBA")
        pixels.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE))
        written = io.BytesIO()
        pixels.save(written, format="PNG", optimize=True)
        return written.getvalue()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError):
        return None


def initials(name: str) -> str:
    """"Acme Support" → "AS", "acme" → "A": what the pages show without a logo."""
    words = [word for word in re.split(r"[\s\-_.]+", name) if word]
    return "".join(word[0] for word in words[:2]).upper() or "?"


@dataclass(frozen=True)
class FetchedLogo:
    """The image and its type, or why there is none (``problem``). Both empty: no URL given."""

    image: bytes | None = None
    content_type: str | None = None
    problem: str | None = None

    @property
    def stored(self) -> bool:
        return self.image is not None and self.content_type is not None


class LogoFetcher:
    def __init__(self, outbound: OutboundHttp) -> None:
        self.outbound = outbound

    def fetch(self, url: str | None) -> FetchedLogo:
        """Fetch ``url`` once. Never raises for what the other server does."""
        if not url:
            return FetchedLogo()
        try:
            reply = self.outbound.request("GET", url, headers={"Accept": ", ".join(LOGO_TYPES)}, max_bytes=LOGO_MAX_BYTES)
        except OutboundCallFailed as failed:
            return FetchedLogo(problem=f"the logo could not be fetched: {failed}")
        if reply.status != 200:
            return FetchedLogo(problem=f"the logo could not be fetched: the server answered {reply.status}")
        if logo_type(reply.body) is None:
            return FetchedLogo(problem="the logo is not a PNG, JPEG or WebP image")
        image = reencoded(reply.body)
        if image is None:
            return FetchedLogo(problem="the logo is not an image that can be read (a PNG, JPEG or WebP that decodes)")
        return FetchedLogo(image=image, content_type="image/png")
