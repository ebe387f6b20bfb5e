"""`tiers serve RULESET`: the HTTP API and console over a ruleset and its state store."""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tiers.cli.common import load, reported
from tiers.cli.options import StateOpt
from tiers.core.errors import TiersError, UsageError
from tiers.core.words import counted

CORS_ENV = "TIERS_CORS_ORIGINS"
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def cors_origins(given: list[str] | None, environ: dict[str, str] | None = None) -> list[str]:
    """Origins allowed to call the API from a browser: the option, else $TIERS_CORS_ORIGINS
    (comma-separated); none by default."""
    env = os.environ if environ is None else environ
    values = list(given or []) or [v for v in env.get(CORS_ENV, "").split(",")]
    origins = [v.strip().rstrip("/") for v in values if v.strip()]
    for origin in origins:
        if origin == "*":
            raise UsageError("--cors-origin '*' would let every web site call the API from "
                             "its visitors' browsers; list the shop's origins instead, e.g. "
                             "--cors-origin https://shop.example")
        if not ORIGIN.match(origin):
            raise UsageError(f"--cors-origin {origin!r} is not an origin; write "
                             "scheme://host[:port] without a path, e.g. https://shop.example")
    return origins


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything slow starts so a taken port fails fast."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio only turns Nagle off (TCP_NODELAY) on accepted
    # sockets whose protocol says TCP; without it every keep-alive answer waits ~40 ms for
    # the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = "pick another with --port" if exc.errno in (98, 48) else \
            "check --host (an address of this machine, e.g. 127.0.0.1 or 0.0.0.0)"
        raise TiersError(f"cannot listen on {host}:{port}: {exc.strerror}; {hint}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name, lvl in (("tiers.serve", logging.INFO), ("tiers.serve.access", level),
                      ("uvicorn", logging.WARNING), ("uvicorn.error", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(lvl)
        logger.propagate = False


def _quiet_exit(base: Any) -> Any:
    """uvicorn's Server, except that after a clean stop on Ctrl-C or SIGTERM the command ends
    normally (exit 0) instead of re-raising the signal at itself."""
    import contextlib

    class Server(base):  # type: ignore[misc, valid-type]
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            with super().capture_signals():
                try:
                    yield
                finally:
                    captured = getattr(self, "_captured_signals", None)
                    if isinstance(captured, list):
                        captured.clear()

    return Server


def serve(
    ruleset: Annotated[Path, typer.Argument(help="Ruleset YAML file.", show_default=False)],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).",
                                      min=0, max=65535)] = 8000,
    state: StateOpt = None,
    cors_origin: Annotated[list[str] | None, typer.Option(
        "--cors-origin", help="A web origin allowed to call the API from a browser "
                              "(repeat for several; default: $TIERS_CORS_ORIGINS, else none)."
    )] = None,
    poll: Annotated[float, typer.Option(
        "--poll", help="Seconds between checks of the store for a new run.", min=0.1)] = 2.0,
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log", help="Log one line per request (never the query "
                                             "string).")] = True,
) -> None:
    """Serve the ruleset over HTTP: customer lookups and simulated orders (JSON API and a
    web console), the tier distribution and the runs. Read only; API keys from
    $TIERS_API_KEYS."""
    with reported():
        import uvicorn

        from tiers.serve.app import create_app
        from tiers.serve.auth import ENV_VAR, keys_from_env
        from tiers.serve.service import Service
        from tiers.serve.state import StoreReader
        from tiers.store.location import redact, resolve_url
        from tiers.store.store import StateStore

        keys = keys_from_env()
        origins = cors_origins(cors_origin)
        loaded = load(ruleset)
        url = resolve_url(loaded.file, loaded.model.state, state)
        StateStore(url, create=False).dispose()  # refuses a store of another schema version
        sock = bind(host, port)
        _logging(logging.INFO if access_log else logging.WARNING)
        service = Service(loaded, StoreReader(url, loaded.name), poll=poll)
        typer.echo(f"state store {redact(url)}")
        snap = service.load(say=typer.echo)
        if snap.lookups is None:
            typer.echo(f"no run of {loaded.name} is recorded yet: lookups answer 503 until "
                       f"`tiers run {ruleset}` records one (simulations work now)")
        else:
            typer.echo(f"{len(snap.lookups.index):,} customers as of "
                       f"{snap.lookups.as_of:%Y-%m-%d} (run {snap.lookups.run.id}), ready in "
                       f"{sum(snap.timings.values()):.1f} s")
        app = create_app(service, keys, cors_origins=origins)
        address, actual = sock.getsockname()[:2]
        shown = f"[{address}]" if ":" in address else address
        typer.echo(f"authenticate with the header `Authorization: Bearer KEY` or "
                   f"`X-API-Key: KEY`, KEY one of the {counted(len(keys), 'key')} in "
                   f"${ENV_VAR}")
        if address not in ("127.0.0.1", "::1", "localhost"):
            typer.echo("not only on this machine: put a TLS proxy in front, API keys must not "
                       "travel in clear text")
        if origins:
            typer.echo(f"browsers may call the API from: {', '.join(origins)}")
        # the last line before serving: the socket already accepts connections
        typer.echo(f"listening on http://{shown}:{actual} (console /, API docs /docs)")
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                server_header=False, timeout_graceful_shutdown=10)
        server = _quiet_exit(uvicorn.Server)(config)
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
        typer.echo("stopped")
        if not server.started:
            raise typer.Exit(1)

