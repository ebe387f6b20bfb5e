"""The FastAPI application: JSON API under /v1, the console at /, the API docs at /docs.

FastAPI rather than bare Starlette: the request and response models below are the validation
and the OpenAPI description at once, and its validation errors carry the field path. Its
Swagger UI is not used: it loads from a CDN, and the server must work offline (see
tiers.serve.docs_page).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tiers.serve import models as m
from tiers.serve import views
from tiers.serve.auth import URL_KEY_NAMES, ApiKeys, presented_key
from tiers.serve.middleware import AccessLog, BodyLimit, Headers, error_json
from tiers.serve.views import ApiError

if TYPE_CHECKING:
    from tiers.serve.service import Service

log = logging.getLogger("tiers.serve")

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": m.ErrorView, "description": "no valid API key"},
    404: {"model": m.ErrorView, "description": "unknown customer"},
    413: {"model": m.ErrorView, "description": f"body over {m.MAX_BODY:,} bytes"},
    422: {"model": m.ErrorView, "description": "malformed request; `errors` names the fields"},
    503: {"model": m.ErrorView, "description": "no run recorded yet, or being evaluated"},
}


Id = Annotated[str, Path(min_length=1, max_length=m.MAX_ID,
                         description="the customer id, as in the data")]
Limit = Annotated[int, Query(ge=1, le=100, description="how many runs")]


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _json(model: Any, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def create_app(service: Service, keys: ApiKeys, *, cors_origins: list[str] | None = None,
               max_body: int = m.MAX_BODY) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title=f"tiers serve: {service.loaded.name}",
        description="Customer tiers of the ruleset, read only: look a customer up, simulate "
                    "orders, the tier distribution and the recorded runs. Send the API key "
                    "in `Authorization: Bearer KEY` or `X-API-Key: KEY`.",
        version="1", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.service = service

    async def require_key(request: Request) -> None:  # async: no thread-pool hand-over
        if any(name.lower() in URL_KEY_NAMES for name in request.query_params):
            raise ApiError(401, "API keys are accepted in the Authorization: Bearer or "
                                "X-API-Key header only, never in the URL (URLs end up in "
                                "logs)", headers={"WWW-Authenticate": "Bearer"})
        if not keys.valid(presented_key(request.headers)):
            raise ApiError(401, "a valid API key is needed: send it as `Authorization: "
                                "Bearer KEY` or `X-API-Key: KEY`",
                           headers={"WWW-Authenticate": "Bearer"})

    Auth = Depends(require_key)

    # ---- errors: one JSON shape, never a traceback --------------------------------------

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        return Response(error_json(exc.status, exc.message, exc.errors), exc.status,
                        media_type="application/json", headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        json_body = "json" in request.headers.get("content-type", "")
        for err in exc.errors():
            loc = tuple(err.get("loc") or ())
            if loc == ("body",) and not json_body:
                errors.append({"path": "body", "message": "must be JSON, sent with the header "
                               "Content-Type: application/json"})
                continue
            if err.get("type") == "json_invalid":
                errors.append({"path": "body", "message": "is not valid JSON "
                               f"({err.get('ctx', {}).get('error', 'syntax error')})"})
                continue
            errors.append({"path": _path(loc), "message": str(err.get("msg", "is invalid"))})
        return Response(error_json(422, "the request is not valid", errors), 422,
                        media_type="application/json")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "no such endpoint; see /docs",
                   405: "method not allowed for this endpoint"}.get(exc.status_code,
                                                                  str(exc.detail))
        return Response(error_json(exc.status_code, message), exc.status_code,
                        media_type="application/json", headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s: %s: %s", request.method, request.url.path,
                  type(exc).__name__, exc)
        return Response(error_json(500, "internal error; the server log has the details"),
                        500, media_type="application/json")

    # ---- the API -------------------------------------------------------------------------

    @app.get("/healthz", response_model=m.HealthView, tags=["health"],
             responses={503: {"model": m.HealthView, "description": "store unreachable"}})
    def healthz() -> Response:
        """Liveness, and whether the state store answers. Needs no key."""
        status, body = views.health(service)
        return _json(body, status)

    @app.get("/v1/customers/{customer_id}", response_model=m.CustomerView,
             dependencies=[Auth], responses=ERRORS, tags=["customers"])
    async def get_customer(customer_id: Id) -> Response:
        """The customer's tier as of the last recorded run: the same explanation as
        `tiers explain --format json` (metrics, policies, retention, segments, events,
        distance to the next tier), plus the row the state store holds now."""
        # on the event loop, not a worker thread: a dict look-up, one row and one indexed
        # store read cost less than the hand-over to the thread pool
        return Response(views.customer_json(service, customer_id),
                        media_type="application/json")

    @app.post("/v1/customers/{customer_id}/simulate", response_model=m.SimulationView,
              dependencies=[Auth], responses=ERRORS, tags=["customers"])
    def simulate(customer_id: Id, body: m.SimulateIn) -> Response:
        """The tier, segments and events the customer would have with these orders added,
        evaluated by the ruleset's engine. Works for a customer not in the data yet."""
        return _json(views.simulation(service, customer_id, body))

    @app.get("/v1/tiers", response_model=m.DistributionView, dependencies=[Auth],
             responses=ERRORS, tags=["runs"])
    def tiers() -> Response:
        """Customers per tier after the last recorded run."""
        return _json(views.distribution(service))

    @app.get("/v1/runs", response_model=m.RunsView, dependencies=[Auth], responses=ERRORS,
             tags=["runs"])
    def runs(limit: Limit = 20) -> Response:
        """The most recent runs of the ruleset, newest first."""
        return _json(views.runs(service, limit))

    from tiers.serve.console import add_console
    from tiers.serve.docs_page import add_docs

    add_console(app, service, Auth)
    add_docs(app)

    wrapped: Any = app
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        wrapped = CORSMiddleware(wrapped, allow_origins=cors_origins,
                                 allow_methods=["GET", "POST"],
                                 allow_headers=["Authorization", "X-API-Key", "Content-Type"],
                                 allow_credentials=False, max_age=600)
    return AccessLog(BodyLimit(Headers(wrapped), max_body))
