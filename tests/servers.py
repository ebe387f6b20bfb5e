"""Real servers on 127.0.0.1 for the action tests: an SMTP sink and an HTTP receiver."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SmtpSink:
    """Collects messages; ``trap_at`` (1-based) makes that message hang, then be refused
    without being kept, so a test can kill the sender mid-batch."""

    messages: list[Any] = field(default_factory=list)
    trap_at: int | None = None
    trapped: threading.Event = field(default_factory=threading.Event)
    seen: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.seen += 1
        if self.trap_at is not None and self.seen == self.trap_at:
            self.trapped.set()
            await asyncio.sleep(30)
            return "451 try again later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)
        return "250 OK"


def start_smtp(sink: SmtpSink, auth: tuple[str, str] | None = None) -> Any:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    kwargs: dict[str, Any] = {}
    if auth is not None:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (auth_data.login.decode(), auth_data.password.decode()) == auth
            if ok:
                sink.logins.append(auth)
            return AuthResult(success=ok)

        kwargs = {"authenticator": authenticator, "auth_require_tls": False,
                  "auth_required": True}
    with socket.socket() as probe:  # a free port: the controller checks it by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller


@dataclass
class Receiver:
    """Records every POST; ``script`` maps a path to the statuses to answer in turn."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    fail_customers: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self) -> list[str]:
        return [r["headers"]["Idempotency-Key"] for r in self.requests]


def start_http(receiver: Receiver) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            data = json.loads(body)
            with receiver.lock:
                receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "body": body, "json": data})
                statuses = receiver.script.get(self.path)
                status = statuses.pop(0) if statuses else 200
            if data.get("customer_id") in receiver.fail_customers:
                status = 400
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"nope")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
