"""The interactive API docs (``/docs``), served whole from this server.

FastAPI's own ``/docs`` loads Swagger UI from a CDN, so it is blank on a machine without
internet and trusts another origin with a page of ours. Here the files come from the
``swagger-ui-bundle-v2`` package under ``/static/docs/<version>/``, and the page gets the
pages' security headers: its one inline script (Swagger UI's start-up call) is allowed by its
hash, everything else only from this origin. ReDoc, which needs more than that, is off.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from memoryos_server.errors import NotFound

DOCS_PATH = "/docs"

# The files the page uses, with their types; nothing else of the package is served.
ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@cache
def swagger_ui_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path  # imported on first use, not at start-up

    return Path(str(swagger_ui_path))


def assets_prefix() -> str:
    """``/static/docs/swagger-ui-5.31.0``: the version in the address, so a browser may keep
    the files for good and an upgrade is fetched anew."""
    return f"/static/docs/{swagger_ui_dir().name}"


def script_hashes(page: str) -> list[str]:
    """CSP sources for the page's inline scripts: the SHA-256 of each, as browsers compute it."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(page)
    ]


def docs_headers(response: Response, hashes: list[str]) -> None:
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self' {' '.join(hashes)}; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH)
def docs_page(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    assets = root + assets_prefix()
    page = get_swagger_ui_html(
        openapi_url=root + (request.app.openapi_url or "/openapi.json"),
        title="MemoryOS API",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon-32x32.png",
        oauth2_redirect_url=None,
        # No badge fetched from the public validator: nothing leaves this origin.
        swagger_ui_parameters={"validatorUrl": None},
    )
    response = HTMLResponse(page.body, status_code=200)
    docs_headers(response, script_hashes(bytes(page.body).decode()))
    return response


@router.get("/static/docs/{version}/{name}")
def docs_asset(version: str, name: str) -> FileResponse:
    if version != swagger_ui_dir().name or name not in ASSETS:
        raise NotFound("no such file")
    response = FileResponse(swagger_ui_dir() / name, media_type=ASSETS[name])
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def install_docs(app: FastAPI) -> None:
    """Before the ``/static`` mount, which would otherwise answer ``/static/docs/…`` itself."""
    app.include_router(router)


__all__ = ["DOCS_PATH", "install_docs"]
