"""ASGI middleware: the request body limit, the access log and response headers.

Plain ASGI rather than Starlette's BaseHTTPMiddleware: the body limit must act on the byte
stream before anything parses it, chunked bodies included, and the access log must see the
path without its query string.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

access = logging.getLogger("tiers.serve.access")

Scope = dict[str, Any]
Receive = Any
Send = Any

HTML_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def error_json(status: int, message: str, errors: list[dict[str, str]] | None = None) -> bytes:
    return json.dumps({"error": {"status": status, "message": message,
                                 "errors": errors or []}}, ensure_ascii=False).encode()


async def _send_error(send: Send, status: int, message: str) -> None:
    body = error_json(status, message)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413: by Content-Length before reading, and by
    counting while reading (chunked transfer); the app then gets the body already read."""

    def __init__(self, app: Any, limit: int):
        self.app = app
        self.limit = limit

    def _too_large(self) -> str:
        return (f"the request body is larger than {self.limit:,} bytes; send fewer orders "
                "per simulation")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _send_error(send, 400, "the Content-Length header is not a number")
                return
            if size > self.limit:
                await _send_error(send, 413, self._too_large())
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _send_error(send, 413, self._too_large())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class AccessLog:
    """One line per request: method, path (never the query string), status, milliseconds."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if access.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("-", 0)
                access.info('%s "%s %s" %d %.1f ms', client[0], scope["method"],
                            scope.get("path", ""), status,
                            (time.perf_counter() - started) * 1000)


class Headers:
    """Responses are not cached or framed; pages may load only this server's own files."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY"),
                         (b"content-security-policy", HTML_POLICY.encode())]
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers + [h for h in extra
                                                            if h[0] not in names]}
            await send(message)

        await self.app(scope, receive, sending)
