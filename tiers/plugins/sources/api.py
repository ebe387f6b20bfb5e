"""`api`: records from a JSON-over-HTTP API, page by page, into Arrow batches.

Each page's records are turned into one Arrow batch of text columns; parsing, rejects and
duplicates then run columnar like for every other source. A record's position ("page 3,
record 17") is what the rejects file shows as its source and line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field

from tiers.core.errors import Problem
from tiers.core.hookspecs import hookimpl
from tiers.core.interfaces import ComponentConfig
from tiers.plugins.sources.options import TableOptions
from tiers.plugins.sources.quality import FILE, INVALID, LINE, SourceError
from tiers.plugins.sources.redact import SECRET_NAME, redact_text, redact_url
from tiers.plugins.sources.table_source import TableSource

if TYPE_CHECKING:
    import httpx
    import ibis.expr.types as ir
    import pyarrow as pa

    from tiers.plugins.sources.http_client import Credentials

log = logging.getLogger("tiers.sources.api")

class BearerAuth(ComponentConfig):
    type: Literal["bearer"]
    token_env: str = Field(description="environment variable holding the token")


class HeaderAuth(ComponentConfig):
    type: Literal["header"]
    header: str = Field(description="header name, e.g. X-Api-Key")
    value_env: str = Field(description="environment variable holding the value")


class BasicAuth(ComponentConfig):
    type: Literal["basic"]
    username_env: str
    password_env: str


Auth = Annotated[BearerAuth | HeaderAuth | BasicAuth, Field(discriminator="type")]


class Pagination(ComponentConfig):
    type: Literal["none", "page", "offset", "cursor", "link"] = "none"
    param: str | None = Field(
        default=None, description="query parameter: page (page), offset (offset), cursor")
    size_param: str | None = Field(default=None, description="page size parameter, e.g. limit")
    size: int = Field(default=100, ge=1, description="records asked per page")
    start: int = Field(default=1, description="first page number (page pagination)")
    cursor_path: str = Field(default="next_cursor",
                             description="dotted path of the next cursor in the response")


class ApiConfig(TableOptions):
    url: str = Field(description="the endpoint returning JSON")
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    auth: Auth | None = None
    records_path: str = Field(
        default="", description="dotted path of the record list in each response, e.g. "
                                "data.items ('' = the response is the list)")
    pagination: Pagination = Field(default_factory=Pagination)
    since: str | None = Field(default=None, description="only records changed since this value")
    since_param: str = Field(default="since")
    timeout: float = Field(default=30.0, gt=0, description="seconds per request")
    retries: int = Field(default=5, ge=0)
    backoff: float = Field(default=0.5, ge=0, description="first retry delay in seconds")
    max_backoff: float = Field(default=30.0, ge=0)
    rate_limit: float | None = Field(default=None, gt=0, description="requests per second")
    max_pages: int = Field(default=100_000, ge=1, description="stop a pagination that loops")


def dig(data: Any, path: str) -> Any:
    """``data["a"]["b"]`` for path ``"a.b"``; None when a step is missing."""
    for step in [p for p in path.split(".") if p]:
        if not isinstance(data, dict):
            return None
        data = data.get(step)
    return data


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def records_to_batch(records: list[Any], columns: dict[str, str]) -> pa.RecordBatch:
    """One page of records -> a batch of text columns plus the record's validity.

    ``columns`` maps output column -> dotted path in the record; keys not mapped are kept
    under their own name. A record that is not a JSON object is kept as an invalid row.
    """
    import pyarrow as pa

    names: dict[str, str] = dict(columns)
    mapped_paths = set(columns.values())
    for record in records:
        if isinstance(record, dict):
            for key in record:
                if key not in mapped_paths and key not in names:
                    names[key] = key
    data: dict[str, list[str | None]] = {name: [] for name in names}
    invalid: list[str | None] = []
    for record in records:
        ok = isinstance(record, dict)
        invalid.append(None if ok else "record_not_object")
        for name, path in names.items():
            data[name].append(_text(dig(record, path)) if ok else None)
    arrays = [pa.array(v, pa.string()) for v in data.values()]
    arrays.append(pa.array(invalid, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=[*names, INVALID])


class ApiSource(TableSource):
    name = "api"
    description = "JSON records over HTTP with auth, pagination, retries and rate limits"
    Config: ClassVar[type[ApiConfig]] = ApiConfig

    def __init__(self, config: Any, context: Any):
        super().__init__(config, context)
        self.pages: list[str] = []  # page URLs, redacted
        self._credentials: Credentials | None = None
        self.notes: list[str] = []  # what the run should know, e.g. credentials withheld

    def describe(self) -> str:
        return redact_url(self.config.url, self.secret_values()).split("?", 1)[0]

    def secret_params(self) -> list[str]:
        """Query parameters that hold a secret: written as ``${VAR}`` in the ruleset, or named
        like one (api_key, token...). They are sent to the configured origin only."""
        raw = getattr(self.context.lines, "_values", {})
        loc = (*self.context.loc, "params")
        return [name for name in self.config.params
                if "${" in str(raw.get((*loc, name), "")) or SECRET_NAME.search(name)]

    def secret_values(self) -> list[str]:
        """Every credential this source knows of, to keep out of messages and files."""
        from urllib.parse import urlsplit

        values = [str(self.config.params[n]) for n in self.secret_params()]
        auth = self.config.auth
        for attr in ("token_env", "value_env", "password_env"):
            var = getattr(auth, attr, None)
            if var and os.environ.get(var):
                values.append(os.environ[var])
        with contextlib.suppress(ValueError):
            values.append(urlsplit(self.config.url).password or "")
        return [v for v in values if v]

    def origins(self) -> list[str]:
        return self.pages or [self.describe()]

    def check(self) -> list[Problem]:
        problems = []
        auth = self.config.auth
        if auth is not None:
            for attr in ("token_env", "value_env", "username_env", "password_env"):
                var = getattr(auth, attr, None)
                if var and not os.environ.get(var):
                    problems.append(self.context.problem(
                        f"environment variable {var} (for the API credentials) is not set",
                        "auth", attr, hint=f"export {var}=... before running tiers"))
        return problems

    def _client(self) -> httpx.Client:
        import httpx

        # no credentials on the client itself: they are added per request, for their origin
        return httpx.Client(headers={"Accept": "application/json"},
                            timeout=self.config.timeout, follow_redirects=False)

    def credentials(self) -> Credentials:
        import httpx

        from tiers.plugins.sources.http_client import Credentials, origin_of

        headers: dict[str, str] = {}
        auth = self.config.auth
        basic = None
        if isinstance(auth, BearerAuth):
            headers["Authorization"] = f"Bearer {self._env(auth.token_env)}"
        elif isinstance(auth, HeaderAuth):
            headers[auth.header] = self._env(auth.value_env)
        elif isinstance(auth, BasicAuth):
            basic = httpx.BasicAuth(self._env(auth.username_env), self._env(auth.password_env))
        return Credentials(origin_of(self.config.url), headers, basic, self.secret_values())

    def _env(self, name: str) -> str:
        value = os.environ.get(name)
        if not value:
            raise SourceError(f"{self.label}: environment variable {name} is not set\n"
                              f"    fix: export {name}=... (the API credentials)")
        return value

    def _decode(self, response: httpx.Response, page: int) -> Any:
        kind = response.headers.get("content-type", "").split(";")[0].strip() or "no type"
        try:
            body = response.json()
        except ValueError:
            start = redact_text(response.text[:60].replace("\n", " "), self.secret_values())
            raise SourceError(
                f"{self.label}: page {page} is {kind}, not JSON (starts {start!r})\n"
                "    fix: check `url` (a login or error page is often HTML) and the "
                "credentials") from None
        return body

    def _records(self, body: Any, page: int) -> list[Any]:
        records = dig(body, self.config.records_path) if self.config.records_path else body
        if not isinstance(records, list):
            where = f"`{self.config.records_path}`" if self.config.records_path else "the top"
            keys = ", ".join(body) if isinstance(body, dict) else type(body).__name__
            raise SourceError(
                f"{self.label}: page {page} has no list of records at {where} "
                f"(found: {keys})\n"
                "    fix: set `records_path` to the dotted path of the list, e.g. data.items")
        return records

    def pages_of_records(self) -> Iterator[tuple[str, list[Any]]]:
        """(page URL, records) for every page, following the declared pagination."""
        from tiers.plugins.sources.http_client import HttpError, RateLimiter, RetryPolicy, get

        cfg = self.config
        pag = cfg.pagination
        policy = RetryPolicy(cfg.retries, cfg.backoff, cfg.max_backoff)
        limiter = RateLimiter(cfg.rate_limit)
        params: dict[str, Any] | None = dict(cfg.params)
        if cfg.since:
            params[cfg.since_param] = cfg.since
        if pag.type in ("page", "offset") and pag.size_param:
            params[pag.size_param] = pag.size
        assert params is not None
        url: str | None = cfg.url
        number = pag.start if pag.type == "page" else 0
        creds = self._credentials = self.credentials()
        with self._client() as client:
            for page in range(1, cfg.max_pages + 1):
                if pag.type == "page":
                    params[pag.param or "page"] = number
                elif pag.type == "offset":
                    params[pag.param or "offset"] = number
                try:
                    response = get(client, url or cfg.url, params, policy, limiter,
                                   credentials=creds)
                except HttpError as exc:
                    raise SourceError(f"{self.label}: page {page}: {exc}") from None
                records = self._records(self._decode(response, page), page)
                yield str(response.url), records
                if pag.type == "none":
                    return
                if pag.type == "page":
                    if len(records) < pag.size:
                        return
                    number += 1
                elif pag.type == "offset":
                    if len(records) < pag.size:
                        return
                    number += len(records)
                elif pag.type == "cursor":
                    cursor = dig(response.json(), pag.cursor_path)
                    if cursor in (None, "") or not records:
                        return
                    params[pag.param or "cursor"] = cursor
                elif pag.type == "link":
                    nxt = response.links.get("next", {}).get("url")
                    if not nxt:
                        return
                    # the next link carries every parameter; sending params would drop it. It
                    # may point at another origin: get() sends no credentials there
                    url, params = str(response.url.join(nxt)), None
        raise SourceError(f"{self.label}: still paginating after {cfg.max_pages} pages\n"
                          "    fix: check the pagination settings, or raise `max_pages`")

    def fetch(self) -> pa.Table:
        try:
            return self._fetch()
        except SourceError as exc:
            raise SourceError(redact_text(str(exc), self.secret_values())) from None
        except Exception as exc:  # httpx or JSON surprises: their text may hold a URL
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise SourceError(
                f"{self.label}: {type(exc).__name__}: "
                f"{redact_text(text, self.secret_values())}\n"
                "    fix: check `url`, `pagination` and `records_path`") from None
        finally:
            self._say_withheld()

    def _say_withheld(self) -> None:
        creds = self._credentials
        if creds is None or not creds.withheld:
            return
        from tiers.plugins.sources.http_client import show_origin

        for where, n in creds.withheld.items():
            note = (f"credentials withheld from {n:,} request{'s' if n != 1 else ''} to "
                    f"{where} (only {show_origin(creds.origin)} receives them)")
            if note not in self.notes:
                self.notes.append(note)
                log.warning("%s: %s", self.label, note)

    def _fetch(self) -> pa.Table:
        import pyarrow as pa

        self.pages = []
        secrets = self.secret_values()
        tables = []
        for index, (url, records) in enumerate(self.pages_of_records()):
            self.pages.append(redact_url(url, secrets))
            batch = records_to_batch(records, self.config.columns)
            n = batch.num_rows
            table = pa.Table.from_batches([batch])
            table = table.append_column(FILE, pa.array([index] * n, pa.int32()))
            tables.append(table.append_column(LINE, pa.array(range(1, n + 1), pa.int64())))
        if not tables:
            return pa.table({INVALID: pa.array([], pa.string()), FILE: pa.array([], pa.int32()),
                             LINE: pa.array([], pa.int64())})
        # pages may differ in keys: missing columns become NULL
        return pa.concat_tables(tables, promote_options="default")

    def raw(self, con: Any) -> ir.Table:
        import ibis

        table = ibis.memtable(self.fetch())
        # the record paths were mapped while reading: fields already bear tiers' names
        return table

    def row_check(self, con: Any, only: Sequence[str] | None = None) -> Any:
        check = super().row_check(con, only)
        check.options = check.options.model_copy(update={"columns": {}})
        check.secrets = self.secret_values()
        return check

    def load(self, con: Any) -> ir.Table:
        self.notes = []
        try:
            return super().load(con)
        finally:
            if self.report is not None:
                self.report.notes = list(self.notes)


@hookimpl
def register_sources(register: Any) -> None:
    register(ApiSource)
