"""The api source against a real HTTP server on 127.0.0.1 that paginates, rate-limits,
fails transiently and serves malformed pages."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest
from werkzeug import Request, Response

from tests.sources.conftest import read_rejects, rows
from tiers.plugins.sources.quality import RejectsError, SourceError

ORDERS = [{"id": f"O{i:03d}", "customer": {"id": f"C{i % 4}"}, "total": f"{10 + i}.50",
           "created_at": f"2026-03-{1 + i % 28:02d}T10:00:00Z"} for i in range(23)]
MAPPING = """
columns: {order_id: id, customer_id: customer.id, amount: total, order_ts: created_at}
"""


def api(url: str, extra: str = "") -> str:
    return f"type: api\nurl: {url}\nbackoff: 0.01\n" + MAPPING + extra


def as_json(body, status=200, headers=None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {},
                    content_type="application/json")


def test_page_number_pagination_loads_every_record(httpserver, source_from, con):
    seen = []

    def handler(request: Request) -> Response:
        page, size = int(request.args["page"]), int(request.args["per_page"])
        seen.append(page)
        return as_json({"data": {"items": ORDERS[(page - 1) * size: page * size]}})

    httpserver.expect_request("/orders").respond_with_handler(handler)
    src = source_from(api(httpserver.url_for("/orders"),
                          "records_path: data.items\npagination: {type: page, size_param: "
                          "per_page, size: 10}"))
    got = rows(src.load(con))
    assert [r["order_id"] for r in got] == [o["id"] for o in ORDERS]
    assert got[0]["customer_id"] == "C0" and got[0]["amount"] == Decimal("10.50")
    assert seen == [1, 2, 3]  # the short third page ends the walk


def test_offset_pagination(httpserver, source_from, con):
    def handler(request: Request) -> Response:
        offset, limit = int(request.args["offset"]), int(request.args["limit"])
        return as_json(ORDERS[offset: offset + limit])

    httpserver.expect_request("/orders").respond_with_handler(handler)
    src = source_from(api(httpserver.url_for("/orders"),
                          "pagination: {type: offset, size_param: limit, size: 7}"))
    assert src.load(con).count().execute() == len(ORDERS)


def test_cursor_pagination(httpserver, source_from, con):
    def handler(request: Request) -> Response:
        start = int(request.args.get("after", "0"))
        nxt = start + 9 if start + 9 < len(ORDERS) else None
        return as_json({"results": ORDERS[start: start + 9], "meta": {"next": nxt}})

    httpserver.expect_request("/orders").respond_with_handler(handler)
    src = source_from(api(httpserver.url_for("/orders"),
                          "records_path: results\npagination: {type: cursor, param: after, "
                          "cursor_path: meta.next}"))
    assert src.load(con).count().execute() == len(ORDERS)
    assert len(src.pages) == 3


def test_link_header_pagination(httpserver, source_from, con):
    def handler(request: Request) -> Response:
        page = int(request.args.get("p", "1"))
        headers = {}
        if page < 3:
            headers["Link"] = f"</orders?p={page + 1}>; rel=\"next\""
        return as_json(ORDERS[(page - 1) * 8: page * 8], headers=headers)

    httpserver.expect_request("/orders").respond_with_handler(handler)
    src = source_from(api(httpserver.url_for("/orders"), "pagination: {type: link}"))
    assert src.load(con).count().execute() == len(ORDERS)


def test_auth_headers_come_from_the_environment(httpserver, source_from, con, monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", "s3cret")
    httpserver.expect_request("/orders", headers={"Authorization": "Bearer s3cret"}
                              ).respond_with_json(ORDERS[:2])
    src = source_from(api(httpserver.url_for("/orders"),
                          "auth: {type: bearer, token_env: SHOP_TOKEN}"))
    assert src.load(con).count().execute() == 2


def test_header_and_basic_auth(httpserver, source_from, con, monkeypatch):
    monkeypatch.setenv("KEY", "k1")
    monkeypatch.setenv("USER", "ann")
    monkeypatch.setenv("PASS", "pw")
    httpserver.expect_request("/a", headers={"X-Api-Key": "k1"}).respond_with_json(ORDERS[:1])
    httpserver.expect_request("/b", headers={"Authorization": "Basic YW5uOnB3"}
                              ).respond_with_json(ORDERS[:3])
    a = source_from(api(httpserver.url_for("/a"),
                        "auth: {type: header, header: X-Api-Key, value_env: KEY}"))
    assert a.load(con).count().execute() == 1
    b = source_from(api(httpserver.url_for("/b"),
                        "auth: {type: basic, username_env: USER, password_env: PASS}"))
    assert b.load(con).count().execute() == 3


def test_unset_credential_variable_is_a_validation_problem(tmp_path, monkeypatch):
    from tiers.core.errors import RulesetError
    from tiers.core.plugins import get_plugin_manager
    from tiers.ruleset.loader import load_ruleset

    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    (tmp_path / "r.yaml").write_text(
        "name: x\nsources:\n  orders:\n    type: api\n    url: http://127.0.0.1:9/o\n"
        "    auth: {type: bearer, token_env: NOPE_TOKEN}\n"
        "tiers: [{id: a}, {id: b}]\npolicies: [{type: spend, thresholds: {b: 100}}]\n")
    _, registry = get_plugin_manager(entry_points=False)
    with pytest.raises(RulesetError, match="environment variable NOPE_TOKEN"):
        load_ruleset(tmp_path / "r.yaml", registry=registry)


def test_since_is_sent_for_incremental_loads(httpserver, source_from, con):
    httpserver.expect_request("/orders", query_string={"updated_since": "2026-03-01"}
                              ).respond_with_json(ORDERS[:4])
    src = source_from(api(httpserver.url_for("/orders"),
                          "since: '2026-03-01'\nsince_param: updated_since"))
    assert src.load(con).count().execute() == 4


def test_transient_failures_are_retried(httpserver, source_from, con):
    calls = []

    def handler(request: Request) -> Response:
        calls.append(1)
        if len(calls) <= 2:
            return Response("upstream down", status=503)
        return as_json(ORDERS[:5])

    httpserver.expect_request("/orders").respond_with_handler(handler)
    src = source_from(api(httpserver.url_for("/orders")))
    assert src.load(con).count().execute() == 5
    assert len(calls) == 3


def test_429_waits_for_retry_after(httpserver, source_from, con):
    stamps = []

    def handler(request: Request) -> Response:
        stamps.append(time.monotonic())
        if len(stamps) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return as_json(ORDERS[:2])

    httpserver.expect_request("/orders").respond_with_handler(handler)
    src = source_from(api(httpserver.url_for("/orders")))
    assert src.load(con).count().execute() == 2
    assert stamps[1] - stamps[0] >= 0.9  # the server asked for one second


def test_rate_limit_spaces_requests(httpserver, source_from, con):
    stamps = []

    def handler(request: Request) -> Response:
        stamps.append(time.monotonic())
        page = int(request.args["page"])
        return as_json(ORDERS[(page - 1) * 5: page * 5])

    httpserver.expect_request("/orders").respond_with_handler(handler)
    src = source_from(api(httpserver.url_for("/orders"),
                          "rate_limit: 10\npagination: {type: page, size: 5}"))
    assert src.load(con).count().execute() == len(ORDERS)
    # 10 per second: five requests span at least four intervals of 0.1 s (arrival jitter aside)
    assert len(stamps) == 5 and stamps[-1] - stamps[0] >= 0.35


def test_persistent_5xx_gives_up_with_the_status(httpserver, source_from, con):
    httpserver.expect_request("/orders").respond_with_data("boom", status=500)
    src = source_from(api(httpserver.url_for("/orders"), "retries: 2"))
    with pytest.raises(SourceError) as err:
        src.load(con)
    assert "HTTP 500" in str(err.value) and "after 3 attempts" in str(err.value)


@pytest.mark.parametrize(("status", "expected"), [
    (401, "refused the credentials"), (404, "no such endpoint; check `url`")])
def test_client_errors_are_not_retried_and_explained(httpserver, source_from, con, status,
                                                     expected):
    httpserver.expect_oneshot_request("/orders").respond_with_data("no", status=status)
    with pytest.raises(SourceError) as err:
        source_from(api(httpserver.url_for("/orders"))).load(con)
    assert f"HTTP {status}" in str(err.value) and expected in str(err.value)


def test_html_instead_of_json(httpserver, source_from, con):
    httpserver.expect_request("/orders").respond_with_data(
        "<html><body>Please log in</body></html>", content_type="text/html")
    with pytest.raises(SourceError, match=r"page 1 is text/html, not JSON \(starts '<html>"):
        source_from(api(httpserver.url_for("/orders"))).load(con)


def test_redirect_loop(httpserver, source_from, con):
    httpserver.expect_request("/orders").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/orders")})
    with pytest.raises(SourceError, match="redirect loop"):
        source_from(api(httpserver.url_for("/orders"))).load(con)


def test_hanging_server_times_out(httpserver, source_from, con):
    release = threading.Event()

    def handler(request: Request) -> Response:
        release.wait(3)
        return as_json([])

    httpserver.expect_request("/orders").respond_with_handler(handler)
    try:
        with pytest.raises(SourceError, match=r"no answer .* within the timeout"):
            source_from(api(httpserver.url_for("/orders"), "timeout: 0.3\nretries: 0")
                        ).load(con)
    finally:
        release.set()


def test_page_without_the_record_list(httpserver, source_from, con):
    httpserver.expect_request("/orders").respond_with_json({"error": "maintenance"})
    with pytest.raises(SourceError) as err:
        source_from(api(httpserver.url_for("/orders"), "records_path: data.items")).load(con)
    assert "no list of records at `data.items` (found: error)" in str(err.value)


def test_malformed_records_are_rejected_with_page_and_position(httpserver, source_from, con):
    page = [*ORDERS[:3], "not a record", {"id": "X1", "total": "12"},
            {"id": "X2", "customer": {"id": "C9"}, "total": "lots",
             "created_at": "2026-03-01T00:00:00Z"}]
    httpserver.expect_request("/orders").respond_with_json(page)
    src = source_from(api(httpserver.url_for("/orders"), "max_reject_share: 0.9"))
    assert [r["order_id"] for r in rows(src.load(con))] == ["O000", "O001", "O002"]
    assert src.report.rejected == {"record_not_object": 1, "missing_customer_id": 1,
                                   "unparseable_amount": 1}
    bad = {r["line"]: r for r in read_rejects(src.report.rejects_file)}
    assert bad["4"]["reason"] == "record_not_object"
    assert bad["6"]["amount"] == "lots" and "/orders" in bad["6"]["source"]


def test_too_many_bad_records_stop_the_run(httpserver, source_from, con):
    httpserver.expect_request("/orders").respond_with_json(
        [*ORDERS[:3], {"id": "X", "customer": {"id": "C1"}, "total": "NaN",
                       "created_at": "2026-03-01"}])
    with pytest.raises(RejectsError, match="non_finite_amount 1"):
        source_from(api(httpserver.url_for("/orders"))).load(con)


def test_numbers_and_nested_values_in_records(httpserver, source_from, con):
    httpserver.expect_request("/orders").respond_with_json([
        {"id": 7, "customer": {"id": 42}, "total": 1280.5, "created_at": "2026-03-01",
         "tags": ["vip", "app"]}])
    (row,) = rows(source_from(api(httpserver.url_for("/orders"))).load(con))
    assert (row["order_id"], row["customer_id"], row["amount"]) == ("7", "42", Decimal("1280.50"))
    assert json.loads(row["tags"]) == ["vip", "app"]
