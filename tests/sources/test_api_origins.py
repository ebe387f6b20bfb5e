"""Credentials go to the configured origin only. Two real HTTP servers on 127.0.0.1, on two
ports, are two origins: a next-page link or a redirect to the other one is followed without
the auth headers or secret query values, and the run says so; no file or message shows a
secret."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from werkzeug import Request, Response

from tests.sources.conftest import read_rejects, rows
from tiers.plugins.sources.quality import SourceError

TOKEN = "tok-7f3a9c"
KEY = "key-51d0e2"
RECORDS = [{"order_id": f"O{i}", "customer_id": "C1", "amount": "10",
            "order_ts": "2026-03-01"} for i in range(4)]
BAD = {"order_id": "B1", "customer_id": "C1", "amount": "lots", "order_ts": "2026-03-01"}


@pytest.fixture
def other():
    """A second server: same host, another port, so another origin."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", TOKEN)
    monkeypatch.setenv("SHOP_KEY", KEY)


def recorder(seen: list[Request], body, status: int = 200, headers=None):
    def handler(request: Request) -> Response:
        seen.append(request)
        import json

        return Response(json.dumps(body), status=status, headers=headers or {},
                        content_type="application/json")

    return handler


def no_secret_in(request: Request) -> bool:
    text = str(request.url) + "".join(f"{k}: {v}\n" for k, v in request.headers.items())
    return TOKEN not in text and KEY not in text and "Authorization" not in request.headers


def test_link_to_another_origin_gets_no_bearer_token(httpserver, other, source_from, con):
    first, second = [], []
    httpserver.expect_request("/orders").respond_with_handler(recorder(
        first, RECORDS[:2], headers={"Link": f'<{other.url_for("/orders")}?p=2>; rel="next"'}))
    other.expect_request("/orders").respond_with_handler(recorder(second, RECORDS[2:]))
    src = source_from(f"type: api\nurl: {httpserver.url_for('/orders')}\n"
                      "auth: {type: bearer, token_env: SHOP_TOKEN}\n"
                      "pagination: {type: link}")
    assert len(rows(src.load(con))) == 4
    assert first[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert len(second) == 1 and no_secret_in(second[0])
    other_origin = f"http://127.0.0.1:{other.port}"
    assert src.report.notes == [
        f"credentials withheld from 1 request to {other_origin} "
        f"(only http://127.0.0.1:{httpserver.port} receives them)"]
    assert "credentials withheld from 1 request" in src.report.summary()


def test_cross_origin_redirect_drops_the_api_key_header(httpserver, other, source_from, con):
    seen = []
    httpserver.expect_request("/orders").respond_with_data(
        "", status=302, headers={"Location": other.url_for("/mirror")})
    other.expect_request("/mirror").respond_with_handler(recorder(seen, RECORDS))
    src = source_from(f"type: api\nurl: {httpserver.url_for('/orders')}\n"
                      "auth: {type: header, header: X-Api-Key, value_env: SHOP_KEY}")
    assert len(rows(src.load(con))) == 4
    assert len(seen) == 1 and "X-Api-Key" not in seen[0].headers and no_secret_in(seen[0])


def test_cross_origin_redirect_drops_basic_auth(httpserver, other, source_from, con,
                                                monkeypatch):
    monkeypatch.setenv("SHOP_USER", "ann")
    seen = []
    httpserver.expect_request("/orders").respond_with_data(
        "", status=307, headers={"Location": other.url_for("/mirror")})
    other.expect_request("/mirror").respond_with_handler(recorder(seen, RECORDS))
    src = source_from(f"type: api\nurl: {httpserver.url_for('/orders')}\n"
                      "auth: {type: basic, username_env: SHOP_USER, password_env: SHOP_KEY}")
    assert len(rows(src.load(con))) == 4
    assert no_secret_in(seen[0])


def test_same_origin_redirect_keeps_the_credentials(httpserver, source_from, con):
    seen = []
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/new"})
    httpserver.expect_request("/new").respond_with_handler(recorder(seen, RECORDS))
    src = source_from(f"type: api\nurl: {httpserver.url_for('/old')}\n"
                      "auth: {type: header, header: X-Api-Key, value_env: SHOP_KEY}")
    assert len(rows(src.load(con))) == 4
    assert seen[0].headers["X-Api-Key"] == KEY and not src.report.notes


def test_a_secret_param_echoed_into_a_redirect_is_not_forwarded(httpserver, other,
                                                                source_from, con):
    seen = []

    def redirect(request: Request) -> Response:
        # a server that hands its own query string on to a mirror
        target = other.url_for("/mirror") + "?" + request.query_string.decode()
        return Response("", status=302, headers={"Location": target})

    httpserver.expect_request("/orders").respond_with_handler(redirect)
    other.expect_request("/mirror").respond_with_handler(recorder(seen, RECORDS))
    src = source_from(f"type: api\nurl: {httpserver.url_for('/orders')}\n"
                      "params: {api_key: '${SHOP_KEY}', region: eu}")
    assert len(rows(src.load(con))) == 4
    assert no_secret_in(seen[0]) and seen[0].args.get("region") == "eu"


def test_a_401_from_another_origin_says_no_credentials_were_sent(httpserver, other,
                                                                 source_from, con):
    httpserver.expect_request("/orders").respond_with_data(
        "", status=302, headers={"Location": other.url_for("/mirror")})
    other.expect_request("/mirror").respond_with_data("no", status=401)
    src = source_from(f"type: api\nurl: {httpserver.url_for('/orders')}\n"
                      "auth: {type: bearer, token_env: SHOP_TOKEN}")
    with pytest.raises(SourceError) as err:
        src.load(con)
    text = str(err.value)
    assert f"HTTP 401 UNAUTHORIZED from http://127.0.0.1:{other.port}/mirror" in text
    assert "tiers sent no credentials there" in text and TOKEN not in text


def test_an_api_key_in_params_never_reaches_the_rejects_file(httpserver, source_from, con):
    seen = []
    httpserver.expect_request("/orders").respond_with_handler(
        recorder(seen, [*RECORDS, BAD, {**BAD, "order_id": f"echo {KEY}"}]))
    src = source_from(f"type: api\nurl: {httpserver.url_for('/orders')}\n"
                      "params: {api_key: '${SHOP_KEY}', page_size: 50}\nmax_reject_share: 0.5")
    assert len(rows(src.load(con))) == 4
    assert seen[0].args["api_key"] == KEY  # the configured origin does get it
    text = Path(src.report.rejects_file).read_text(encoding="utf-8")
    assert KEY not in text and "api_key=***" in text and "page_size=50" in text
    assert [r["order_id"] for r in read_rejects(src.report.rejects_file)] == ["B1", "echo ***"]


def test_params_named_like_secrets_are_masked_even_without_env(httpserver, source_from, con):
    httpserver.expect_request("/orders").respond_with_json([*RECORDS, BAD])
    src = source_from(f"type: api\nurl: {httpserver.url_for('/orders')}\n"
                      "params: {access_token: plain-1234}\nmax_reject_share: 0.5")
    src.load(con)
    (bad,) = read_rejects(src.report.rejects_file)
    assert "plain-1234" not in bad["source"] and "access_token=***" in bad["source"]


def test_userinfo_password_is_never_shown(httpserver, source_from, con):
    httpserver.expect_request("/orders").respond_with_data("down", status=500)
    url = httpserver.url_for("/orders").replace("http://", "http://ann:hunter2@")
    src = source_from(f"type: api\nurl: '{url}'\nretries: 0")
    assert "hunter2" not in src.label and "ann:***@" in src.label
    with pytest.raises(SourceError) as err:
        src.load(con)
    assert "hunter2" not in str(err.value) and "HTTP 500" in str(err.value)


def test_connection_errors_show_the_url_redacted(source_from, con):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    src = source_from(f"type: api\nurl: http://127.0.0.1:{port}/orders\nretries: 0\n"
                      "params: {api_key: '${SHOP_KEY}'}")
    with pytest.raises(SourceError) as err:
        src.load(con)
    assert "cannot connect to" in str(err.value) and KEY not in str(err.value)
    assert "api_key=***" in str(err.value)


def test_debug_output_holds_no_secret(httpserver, other, tmp_path):
    """`tiers --debug run` prints a traceback: it must not carry the token or the key."""
    httpserver.expect_request("/orders").respond_with_data(
        "", status=302, headers={"Location": other.url_for("/mirror") + f"?api_key={KEY}"})
    other.expect_request("/mirror").respond_with_data("no", status=403)
    (tmp_path / "r.yaml").write_text(textwrap.dedent(f"""\
        name: shop
        sources:
          orders:
            type: api
            url: {httpserver.url_for('/orders')}
            params: {{api_key: '${{SHOP_KEY}}'}}
            auth: {{type: bearer, token_env: SHOP_TOKEN}}
        tiers: [{{id: a}}, {{id: b}}]
        policies: [{{type: spend, thresholds: {{b: 100}}}}]
        """))
    env = {**os.environ, "SHOP_TOKEN": TOKEN, "SHOP_KEY": KEY}
    res = subprocess.run([sys.executable, "-m", "tiers", "--debug", "run",
                          str(tmp_path / "r.yaml")], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode != 0
    assert "Traceback" in res.stderr and "HTTP 403" in res.stderr
    assert TOKEN not in res.stderr + res.stdout and KEY not in res.stderr + res.stdout
