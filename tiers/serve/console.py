"""The web console: look a customer up, try an order, see the tier distribution.

The page at / holds no data, so a browser can open it without a key; it asks for the key once,
keeps it in sessionStorage for the visit and sends it in the X-API-Key header when it fetches
the fragments below, which are rendered here (sandboxed Jinja2, autoescaped) from the same
views as the JSON API. Scripts, styles and plotly.js are served by this server: nothing comes
from the network.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from tiers.serve import models as m
from tiers.serve import views

if TYPE_CHECKING:
    from tiers.serve.service import Service

STATIC = {"console.js": "text/javascript", "console.css": "text/css",
          "docs.js": "text/javascript"}


@lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import PackageLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(loader=PackageLoader("tiers.serve", "templates"),
                               autoescape=True, undefined=StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


@lru_cache(maxsize=1)
def plotly_js_gzip() -> bytes:
    import plotly.offline

    return gzip.compress(plotly.offline.get_plotlyjs().encode("utf-8"), compresslevel=6,
                         mtime=0)


@lru_cache(maxsize=8)
def static_file(name: str) -> bytes:
    return resources.files("tiers.serve").joinpath("static", name).read_bytes()


def _fragment(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def tier_chart(dist: m.DistributionView) -> str:
    from tiers.report.charts import tier_distribution
    from tiers.report.data import TierRow

    return tier_distribution([TierRow(t.tier, t.name, t.customers, 0.0, t.share)
                              for t in dist.tiers])


def add_console(app: FastAPI, service: Service, auth: Any) -> None:
    loaded = service.loaded

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def console() -> HTMLResponse:
        return HTMLResponse(render("console.html.j2", ruleset=loaded.name,
                                   description=loaded.model.description or "",
                                   max_orders=m.MAX_ORDERS))

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        headers = {"Cache-Control": "public, max-age=86400"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(plotly_js_gzip(), media_type="text/javascript",
                            headers={**headers, "Content-Encoding": "gzip",
                                     "Vary": "Accept-Encoding"})
        return Response(gzip.decompress(plotly_js_gzip()), media_type="text/javascript",
                        headers=headers)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC:
            raise views.ApiError(404, "no such file")
        return Response(static_file(name), media_type=STATIC[name],
                        headers={"Cache-Control": "no-cache"})

    @app.get("/console/customers/{customer_id}", dependencies=[auth], include_in_schema=False)
    def customer(customer_id: str) -> HTMLResponse:
        _check_id(customer_id)
        view = views.customer(service, customer_id)
        return _fragment(render("customer.html.j2", c=view, currency=loaded.model.currency))

    @app.post("/console/customers/{customer_id}/simulate", dependencies=[auth],
              include_in_schema=False)
    def simulate(customer_id: str, body: m.SimulateIn) -> HTMLResponse:
        _check_id(customer_id)
        view = views.simulation(service, customer_id, body)
        return _fragment(render("simulation.html.j2", s=view, currency=loaded.model.currency))

    @app.get("/console/tiers", dependencies=[auth], include_in_schema=False)
    def tiers() -> HTMLResponse:
        dist = views.distribution(service)
        return _fragment(render("tiers.html.j2", d=dist, chart=tier_chart(dist)))


def _check_id(customer_id: str) -> None:
    if not customer_id or len(customer_id) > m.MAX_ID:
        raise views.ApiError(422, "the customer id is not valid", [
            {"path": "path.customer_id", "message": f"must be 1 to {m.MAX_ID} characters"}])
