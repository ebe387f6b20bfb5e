"""The API docs at /docs, rendered here from the app's own OpenAPI description.

FastAPI's Swagger UI and ReDoc pages load their scripts from a CDN, which fails offline and
would send every reader's browser to another origin. Vendoring Swagger UI (about 1.5 MB of
JavaScript, from another package to keep up to date) only to list five endpoints is not worth
it, so this page is plain server-rendered HTML: each operation with its parameters, bodies,
answers and a curl example, every schema, and a small "try it" form (docs.js) that sends
requests with the key kept in sessionStorage, as the console does. /openapi.json stays
available for code generators and other tools.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

EXAMPLE_BODIES = {
    "SimulateIn": {"orders": [{"amount": 759.68, "order_ts": "2026-11-20T15:30:00"}]},
}


def type_of(schema: dict[str, Any]) -> str:
    """A short type name: 'string', 'array of OrderIn', 'integer | null'."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(type_of(s) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        return f"object of {type_of(extra) if isinstance(extra, dict) else 'any'}"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind)


def _constraints(schema: dict[str, Any]) -> str:
    words = {"minLength": "at least {} characters", "maxLength": "at most {} characters",
             "minimum": ">= {}", "maximum": "<= {}", "maxItems": "at most {} items",
             "default": "default {}"}
    return ", ".join(w.format(json.dumps(schema[k])) for k, w in words.items() if k in schema)


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                       "type": type_of(p.get("schema", {})),
                       "constraints": _constraints(p.get("schema", {})),
                       "description": p.get("description") or p.get("schema", {}).get(
                           "description", "")}
                      for p in op.get("parameters", [])]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            body_type = type_of(body["schema"]) if body else None
            responses = [{"status": status, "description": r.get("description", ""),
                          "type": type_of(r.get("content", {}).get("application/json", {})
                                          .get("schema", {})) if r.get("content") else ""}
                         for status, r in op.get("responses", {}).items()]
            example = json.dumps(EXAMPLE_BODIES.get(body_type or "", {}), ensure_ascii=False)
            out.append({"method": method.upper(), "path": path, "id": op.get("operationId", ""),
                        "summary": op.get("summary", ""),
                        "description": op.get("description", ""), "params": params,
                        "body": body_type, "example": example if body_type else "",
                        "responses": responses, "public": path == "/healthz"})
    return out


def schemas(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        fields = [{"name": k, "type": type_of(v), "required": k in required,
                   "constraints": _constraints(v), "description": v.get("description", "")}
                  for k, v in schema.get("properties", {}).items()]
        out.append({"name": name, "description": schema.get("description", ""),
                    "fields": fields, "open": schema.get("additionalProperties") is True})
    return out


def add_docs(app: FastAPI) -> None:
    from tiers.serve.console import render

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        spec = app.openapi()
        base = str(request.base_url).rstrip("/")
        return HTMLResponse(render("docs.html.j2", title=spec["info"]["title"],
                                   description=spec["info"].get("description", ""),
                                   operations=operations(spec), schemas=schemas(spec),
                                   base=base))
