"""The JSON API of `tiers serve`, over HTTP against a real server process."""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest

from .test_serve_process import (
    KEY,
    OTHER_KEY,
    record_run,
    retail,  # noqa: F401 - fixture
    server,  # noqa: F401 - fixture
    start_server,
    workspace,
)

AS_OF = "2026-11-21"


def store_of(ruleset) -> sqlite3.Connection:
    return sqlite3.connect(ruleset.parent / ".tiers" / "state.db")


def explain_json(cli, ruleset, customer_id: str, as_of: str = AS_OF) -> dict:
    res = cli("explain", ruleset, customer_id, "--as-of", as_of, "--format", "json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def without_store_fields(answer: dict) -> dict:
    return {k: v for k, v in answer.items()
            if k not in ("recorded", "latest_run", "evaluated_run")}


def sample_ids(ruleset) -> list[str]:
    """One customer per tier, one held in a tier, and one with a birthday event."""
    with store_of(ruleset) as db:
        ids = [r[0] for r in db.execute(
            "SELECT min(customer_id) FROM current_tiers GROUP BY tier ORDER BY tier")]
        held = db.execute("SELECT min(customer_id) FROM current_tiers "
                          "WHERE held_until IS NOT NULL").fetchone()[0]
        birthday = db.execute("SELECT min(customer_id) FROM ledger "
                              "WHERE event = 'birthday'").fetchone()[0]
    return [i for i in dict.fromkeys([*ids, held, birthday]) if i]


# ---- lookups ------------------------------------------------------------------------------

def test_lookup_is_the_explanation_of_tiers_explain(server, retail, cli):  # noqa: F811
    ids = sample_ids(retail)
    assert len(ids) >= 4
    with server.client() as c:
        for customer_id in ids:
            answer = c.get(f"/v1/customers/{customer_id}")
            assert answer.status_code == 200
            body = answer.json()
            assert without_store_fields(body) == explain_json(cli, retail, customer_id)
            assert body["evaluated_run"] == body["latest_run"] == {"id": 1, "as_of": AS_OF}


def test_lookup_carries_the_recorded_row(server, retail):  # noqa: F811
    with store_of(retail) as db:
        cid, tier, since, held, segments = db.execute(
            "SELECT customer_id, tier, since, held_until, segments FROM current_tiers "
            "WHERE tier = 'vip' ORDER BY customer_id LIMIT 1").fetchone()
    with server.client() as c:
        body = c.get(f"/v1/customers/{cid}").json()
    rec = body["recorded"]
    assert rec["tier"] == tier and rec["tier_name"] == "VIP会员"
    assert rec["since"].replace("T", " ").startswith(since[:19])
    assert (rec["held_until"] is None) == (held is None)
    assert rec["segments"] == (segments.split("\x1f") if segments else [])
    assert rec["changed_in_run"] == 1
    # the explanation of an unchanged customer agrees with the store
    assert body["tier"] == rec["tier"] and body["tier_event"] == "retained"


def test_distribution_and_runs_come_from_the_store(server, retail):  # noqa: F811
    with store_of(retail) as db:
        counts = dict(db.execute("SELECT tier, count(*) FROM current_tiers GROUP BY tier"))
        run_ids = [r[0] for r in db.execute("SELECT id FROM runs ORDER BY id DESC")]
    with server.client() as c:
        dist = c.get("/v1/tiers").json()
        runs = c.get("/v1/runs", params={"limit": 5}).json()["runs"]
    assert dist["run"] == {"id": 1, "as_of": AS_OF}
    assert {t["tier"]: t["customers"] for t in dist["tiers"]} == counts
    assert [t["name"] for t in dist["tiers"]] == ["普通会员", "高级会员", "VIP会员"]
    assert dist["customers"] == sum(counts.values())
    assert abs(sum(t["share"] for t in dist["tiers"]) - 1) < 1e-9
    assert [r["id"] for r in runs] == run_ids
    assert runs[0]["status"] == "done" and runs[0]["customers"] == sum(counts.values())
    assert runs[0]["events"]["entered"] == sum(counts.values())


def test_a_new_run_is_visible_without_a_restart(tmp_path, cli):
    ruleset = workspace(tmp_path)
    record_run(ruleset)
    s = start_server(ruleset)
    try:
        with s.client() as c:
            before = c.get("/v1/tiers").json()
            assert before["run"]["id"] == 1
            record_run(ruleset, "--as-of", "2027-03-01")
            # at once: the runs, the distribution and the recorded rows
            runs = c.get("/v1/runs").json()["runs"]
            assert [r["id"] for r in runs] == [2, 1]
            after = c.get("/v1/tiers").json()
            assert after["run"] == {"id": 2, "as_of": "2027-03-01"}
            with store_of(ruleset) as db:
                counts = dict(db.execute("SELECT tier, count(*) FROM current_tiers "
                                         "GROUP BY tier"))
                changed = db.execute("SELECT customer_id, tier FROM current_tiers "
                                     "WHERE updated_run = 2 ORDER BY customer_id").fetchone()
            assert {t["tier"]: t["customers"] for t in after["tiers"]} == counts
            assert counts != {t["tier"]: t["customers"] for t in before["tiers"]}
            body = c.get(f"/v1/customers/{changed[0]}").json()
            assert body["latest_run"]["id"] == 2
            assert body["recorded"]["tier"] == changed[1]
            assert body["recorded"]["changed_in_run"] == 2
            # and the explanation follows as soon as the new run is evaluated
            deadline = time.monotonic() + 180
            while body["evaluated_run"]["id"] != 2 and time.monotonic() < deadline:
                time.sleep(0.5)
                body = c.get(f"/v1/customers/{changed[0]}").json()
            assert body["evaluated_run"] == {"id": 2, "as_of": "2027-03-01"}
            assert without_store_fields(body) == explain_json(cli, ruleset, changed[0],
                                                              "2027-03-01")
    finally:
        assert s.stop() == 0
    assert "now answering from run 2" in s.log_text()


# ---- keys -------------------------------------------------------------------------------

def test_every_data_endpoint_needs_a_key(server):  # noqa: F811
    calls = [("GET", "/v1/customers/C00001", None), ("GET", "/v1/tiers", None),
             ("GET", "/v1/runs", None), ("POST", "/v1/customers/C00001/simulate",
                                         {"orders": [{"amount": 10}]}),
             ("GET", "/console/customers/C00001", None), ("GET", "/console/tiers", None)]
    with server.client(key=None) as anon:
        for method, path, body in calls:
            for headers in ({}, {"X-API-Key": "wrong-key-000000000000"},
                            {"Authorization": "Bearer wrong-key-000000000000"},
                            {"Authorization": f"Basic {KEY}"}):
                res = anon.request(method, path, json=body, headers=headers)
                assert res.status_code == 401, (method, path, headers)
                assert res.json()["error"]["status"] == 401
            for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {OTHER_KEY}"}):
                res = anon.request(method, path, json=body, headers=headers)
                assert res.status_code == 200, (method, path, res.text)
        # what holds no data opens without a key
        for path in ("/healthz", "/", "/docs", "/openapi.json", "/static/console.js"):
            assert anon.get(path).status_code == 200, path


def test_answers_are_not_cached_or_framed(server):  # noqa: F811
    with server.client() as c:
        res = c.get("/v1/customers/C00001")
        page = c.get("/")
    assert res.headers["cache-control"] == "no-store"
    assert res.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_cors_is_off_unless_configured(server, retail):  # noqa: F811
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "x-api-key"}
    with server.client() as c:
        res = c.options("/v1/tiers", headers=preflight)
        get = c.get("/v1/tiers", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in res.headers
    assert "access-control-allow-origin" not in get.headers
    s = start_server(retail, "--cors-origin", "https://shop.example")
    try:
        with s.client() as c:
            ok = c.options("/v1/tiers", headers=preflight)
            other = c.options("/v1/tiers", headers={**preflight,
                                                    "Origin": "https://evil.example"})
            get = c.get("/v1/tiers", headers={"Origin": "https://shop.example"})
    finally:
        s.stop()
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://shop.example"
    assert "x-api-key" in ok.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert get.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-credentials" not in get.headers


# ---- bad input ----------------------------------------------------------------------------

def errors_of(res: httpx.Response) -> dict[str, str]:
    body = res.json()["error"]
    return {e["path"]: e["message"] for e in body["errors"]}


def test_unknown_customer_is_404(server):  # noqa: F811
    with server.client() as c:
        res = c.get("/v1/customers/NO-SUCH-CUSTOMER")
        sim = c.post("/v1/customers/NO-SUCH-CUSTOMER/simulate", json={"orders": []})
    assert res.status_code == 404
    assert "'NO-SUCH-CUSTOMER' is not in the data of retail" in res.json()["error"]["message"]
    assert sim.status_code == 404
    assert "no orders were given" in sim.json()["error"]["message"]


@pytest.mark.parametrize(("body", "path", "words"), [
    ({"orders": [{"amount": "abc"}]}, "body.orders[0].amount", "decimal"),
    ({"orders": [{"amount": True}]}, "body.orders[0].amount", "decimal"),
    ({"orders": [{"amount": 1.234}]}, "body.orders[0].amount", "2 decimal places"),
    ({"orders": [{"amount": 10}, {"amount": 2e12}]}, "body.orders[1].amount", "less than"),
    ({"orders": [{"amount": 10, "order_ts": "yesterday"}]}, "body.orders[0].order_ts",
     "datetime"),
    ({"orders": [{"amount": 10, "order_ts": "2099-01-01"}]}, "body.orders[0].order_ts",
     "a year ahead"),
    ({"orders": [{"amount": 10, "price": 3}]}, "body.orders[0].price", "Extra"),
    ({"orders": [{}]}, "body.orders[0].amount", "required"),
    ({}, "body.orders", "required"),
    ({"orders": {"amount": 10}}, "body.orders", "list"),
    ({"orders": [{"amount": 10}] * 101}, "body.orders", "at most 100"),
    ({"orders": [{"amount": 10, "order_ts": "2026-11-25T10:00:00"}], "as_of": "2026-11-25"},
     "body.as_of", "not after order 0"),
    ({"orders": [{"amount": 10, "order_ts": "2026-11-01T10:00:00"}], "as_of": "2026-11-02"},
     "body.as_of", "before the last recorded run"),
    ([1, 2], "body", "dictionary"),
])
def test_bad_simulation_bodies_are_422_with_the_field(server, body, path, words):  # noqa: F811
    with server.client() as c:
        res = c.post("/v1/customers/C00001/simulate", json=body)
    assert res.status_code == 422, res.text
    errors = errors_of(res)
    assert path in errors, errors
    assert words.lower() in errors[path].lower()


def test_malformed_json_and_content_type(server):  # noqa: F811
    with server.client() as c:
        broken = c.post("/v1/customers/C00001/simulate", content=b'{"orders": [',
                        headers={"Content-Type": "application/json"})
        form = c.post("/v1/customers/C00001/simulate", content=b"orders=1",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        long_id = c.get("/v1/customers/" + "x" * 201)
        limit = c.get("/v1/runs", params={"limit": 0})
        limit_text = c.get("/v1/runs", params={"limit": "many"})
        nowhere = c.get("/v1/nowhere")
        method = c.delete("/v1/customers/C00001")
    assert broken.status_code == 422 and "not valid JSON" in errors_of(broken)["body"]
    assert form.status_code == 422 and "Content-Type: application/json" in errors_of(form)[
        "body"]
    assert long_id.status_code == 422 and "path.customer_id" in errors_of(long_id)
    assert limit.status_code == 422 and "query.limit" in errors_of(limit)
    assert limit_text.status_code == 422 and "query.limit" in errors_of(limit_text)
    assert nowhere.status_code == 404 and nowhere.json()["error"]["message"].endswith("/docs")
    assert method.status_code == 405


def test_oversize_bodies_are_413_before_parsing(server):  # noqa: F811
    big = json.dumps({"orders": [{"amount": 1}], "pad": "x" * 40_000}).encode()

    def chunks():
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    with server.client() as c:
        declared = c.post("/v1/customers/C00001/simulate", content=big,
                          headers={"Content-Type": "application/json"})
        chunked = c.post("/v1/customers/C00001/simulate", content=chunks(),
                         headers={"Content-Type": "application/json"})
        # a body just under the limit is parsed (and refused for its extra field)
        small = c.post("/v1/customers/C00001/simulate",
                       json={"orders": [{"amount": 1}], "pad": "x" * 30_000})
    assert declared.status_code == 413
    assert "32,768 bytes" in declared.json()["error"]["message"]
    assert chunked.status_code == 413
    assert small.status_code == 422 and "body.pad" in errors_of(small)


def test_no_bad_input_gets_a_500(server):  # noqa: F811
    bodies = [b"", b"null", b"0", b'"x"', b"{}", b'{"orders": null}', b'{"orders": [null]}',
              b'{"orders": [{"amount": null}]}', b'{"orders": [{"amount": "1e9999"}]}',
              b'{"orders": [{"amount": "NaN"}]}', b'{"orders": [{"amount": 1, '
              b'"order_ts": 99999999999999}]}', b'{"orders": [{"amount": 1, '
              b'"order_ts": "0001-01-01"}]}', b'{"as_of": "9999-12-31", "orders": []}',
              b'{"orders": [{"amount": 1}], "as_of": "nope"}', "{\"orders\": [\"\u00e9\"]}"
              .encode(), b"\xff\xfe", b'{"orders": [' + b"[" * 5000]
    ids = ["C00001", "%00", "..", "a b", "%E4%B8%AD", "C00001%0A", "-"]
    with server.client() as c:
        for cid in ids:
            assert c.get(f"/v1/customers/{cid}").status_code < 500, cid
            for body in bodies:
                res = c.post(f"/v1/customers/{cid}/simulate", content=body,
                             headers={"Content-Type": "application/json"})
                assert res.status_code < 500, (cid, body[:40], res.text)
                assert res.headers["content-type"].startswith("application/json")
    assert "Traceback" not in server.log_text()


# ---- docs ---------------------------------------------------------------------------------

def test_docs_work_offline(server):  # noqa: F811
    with server.client(key=None) as c:
        spec = c.get("/openapi.json").json()
        page = c.get("/docs")
    assert set(spec["paths"]) == {"/healthz", "/v1/customers/{customer_id}",
                                  "/v1/customers/{customer_id}/simulate", "/v1/tiers",
                                  "/v1/runs"}
    assert page.status_code == 200
    html = page.text
    for op in ("GET /v1/customers/{customer_id}", "POST /v1/customers/{customer_id}/simulate",
               "GET /v1/tiers", "GET /v1/runs", "GET /healthz"):
        assert op in html
    assert 'id="schema-SimulateIn"' in html and "at most 100 items" in html
    # every script and style is this server's own
    for attr in ('src="http', "src='http", 'href="https://', "cdn", "unpkg", "jsdelivr"):
        assert attr not in html.replace(server.url, "")


def test_reads_never_write_the_store(server, retail):  # noqa: F811
    def fingerprint() -> list:
        with store_of(retail) as db:
            return [db.execute(f"SELECT count(*), max({col}) FROM {table}").fetchone()
                    for table, col in (("runs", "finished_at"), ("current_tiers", "since"),
                                       ("tier_history", "at"), ("ledger", "updated_at"),
                                       ("coupons", "issued_at"), ("secrets", "created_at"))]

    before = fingerprint()
    with server.client() as c:
        for cid in ("C00001", "C00002", "BRAND-NEW"):
            c.get(f"/v1/customers/{cid}")
            c.post(f"/v1/customers/{cid}/simulate", json={"orders": [{"amount": 6000}]})
        c.get("/v1/tiers")
        c.get("/v1/runs")
    assert fingerprint() == before
