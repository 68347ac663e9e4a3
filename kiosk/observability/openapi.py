"""``GET /openapi.json``: an OpenAPI 3 document built from the url_map and declarations.

Every JSON route of ``app.url_map`` (see ``is_json_route``) is in the document.

- From the rule itself: path parameters, the tag (the blueprint), the security
  scheme by path prefix (``/iot/*`` device signature, ``/api/*`` and ``/stats/*``
  bearer JWT) and the default error responses.
- Declared next to the route with ``document``: the request body, the query, and
  every success status with its schema. Declare the schema objects the view itself
  loads and dumps (module-level instances), so the two cannot drift::

      queue_create_schema, queue_schema = QueueCreateSchema(), QueueSchema()

      @bp.post("/api/queues")
      @document(body=queue_create_schema, responses={201: queue_schema})
      @manager_required
      def create_queue() -> tuple[dict, int]:
          data = queue_create_schema.load(json_body())
          return queue_schema.dump(services.create_queue(...)), 201

Nothing is read from a view's source. A JSON route without a declaration still
gets an operation from its rule (the document stays valid in production), marked
``x-undeclared`` and logged; ``undeclared_routes`` lists them, and
``tests/observability/test_openapi.py`` fails on any.
"""
from __future__ import annotations

import http
import inspect
import logging
import re
from typing import Any, Callable, Iterable, Mapping

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema, fields

logger = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/iot/", "/auth/", "/stats/", "/health")
NOT_JSON_SUFFIXES = (".css", ".svg", ".js", ".csv", ".png", ".html")
IGNORED_METHODS = {"HEAD", "OPTIONS"}
BEARER_AUTH = {"bearerAuth": []}
DEVICE_SECURITY = {"deviceId": [], "deviceTimestamp": [], "deviceNonce": [], "deviceSignature": []}
WITH_BODY = ("POST", "PUT", "PATCH", "DELETE")


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


# --- declarations ------------------------------------------------------------------------

SchemaLike = type[Schema] | Schema
Declared = SchemaLike | str | dict


def _is_schema(value: Any) -> bool:
    return isinstance(value, Schema) or (inspect.isclass(value) and issubclass(value, Schema))


def json_object(description: str) -> dict:
    """A response that is a JSON object with no marshmallow schema (a snapshot, this document)."""
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


def document(*, responses: Mapping[int, Declared], body: SchemaLike | list[SchemaLike] | None = None,
             body_required: bool = True, query: SchemaLike | None = None, summary: str | None = None,
             tags: list[str] | None = None, security: list[dict] | None = None) -> Callable:
    """Declare a route's operation, next to the route.

    ``responses`` maps each status the view answers to a marshmallow schema (JSON
    content), a description (no body, e.g. ``{204: "Nothing to do"}``) or a full
    response object; at least one success status is required. ``body`` is the
    request body (a list of schemas means any one of them), ``query`` the query
    string; ``security`` overrides the one derived from the path.

    :raise TypeError: at import time, for a declaration that states no success
        status or gives something that is not a schema.
    """
    statuses = {str(status): value for status, value in responses.items()}
    if not any(status.startswith("2") for status in statuses):
        raise TypeError("document(responses=...) must state the success status, e.g. {200: XSchema}")
    for status, value in statuses.items():
        if not (_is_schema(value) or isinstance(value, (str, dict))):
            raise TypeError(f"response {status}: a marshmallow schema, a description or a response object")
    bodies = body if isinstance(body, list) else [body] if body is not None else []
    if not all(_is_schema(b) for b in bodies) or (query is not None and not _is_schema(query)):
        raise TypeError("body and query must be marshmallow schemas")
    declared = {"responses": statuses, "bodies": bodies, "body_required": body_required, "query": query,
                "summary": summary, "tags": tags, "security": security}

    def apply(view: Callable) -> Callable:
        view._openapi = declared  # a new dict: functools.wraps shares __dict__ entries by reference
        return view

    return apply


def declaration(view: Callable) -> dict | None:
    """What ``document`` declared on the view or on any function it wraps."""
    function = view
    while function is not None:
        declared = getattr(function, "_openapi", None)
        if declared is not None:
            return declared
        function = getattr(function, "__wrapped__", None)
    return None


def is_json_route(rule) -> bool:
    path = rule.rule
    if path.endswith(NOT_JSON_SUFFIXES) or path.startswith(("/static", "/ws/")):
        return False
    return path.startswith(JSON_PREFIXES) or path.endswith(".json")


def _json_rules(app: Flask) -> Iterable:
    return (rule for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule) if is_json_route(rule))


def undeclared_routes(app: Flask) -> list[str]:
    """``"METHOD /rule (endpoint)"`` for every JSON route whose view has no ``document`` declaration."""
    return [f"{method} {rule.rule} ({rule.endpoint})" for rule in _json_rules(app)
            if declaration(app.view_functions[rule.endpoint]) is None
            for method in sorted(rule.methods - IGNORED_METHODS)]


# --- what the rule says ---------------------------------------------------------------------

_CONVERTERS = {"int": {"type": "integer"}, "float": {"type": "number"}, "uuid": {"type": "string", "format": "uuid"}}
_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")  # over the rule string, e.g. /api/<int:thing_id>


def openapi_path(rule: str) -> tuple[str, list[dict]]:
    parameters = []
    for converter, name in _PARAM.findall(rule):
        schema = _CONVERTERS.get(converter, {"type": "string"})
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule), parameters


def _security(path: str) -> list[dict]:
    if path.startswith("/iot/"):
        return [DEVICE_SECURITY]
    if path.startswith(("/api/", "/stats/")):
        return [BEARER_AUTH]
    return []


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


def _default_errors(method: str, path: str, security: list, has_input: bool, has_params: bool) -> dict:
    defaults = {"429": "rate_limited (with Retry-After)",
                "503": "service_unavailable: a dependency is down (with Retry-After)"}
    if has_input:
        defaults["400"] = "validation_error / invalid_json"
    if method in ("POST", "PUT", "PATCH"):
        defaults.update({"400": "validation_error / invalid_json", "413": "payload_too_large",
                         "415": "unsupported_media_type"})
    if any(security):
        defaults["401"] = "unauthorized / invalid_token / token_expired / missing_signature / invalid_signature"
        defaults["403"] = "forbidden / device_disabled"
    if has_params or any(security):
        defaults["404"] = "not_found (unknown or other tenant's id)"
    if method in ("POST", "PUT", "PATCH") and path.startswith(("/api/", "/iot/")):
        defaults["409"] = "conflict / invalid_transition"
        defaults["422"] = "idempotency_mismatch / unprocessable"
    return {status: _error(description) for status, description in defaults.items()}


# --- building the document ---------------------------------------------------------------

def _declared_response(status: str, value: Declared) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return {"description": value}
    phrase = http.HTTPStatus(int(status)).phrase if status.isdigit() else "OK"
    return {"description": phrase, "content": {"application/json": {"schema": value}}}


def _undeclared() -> dict:
    return {"responses": {"200": json_object("Undeclared: this route has no document(...) declaration")},
            "bodies": [], "body_required": True, "query": None, "summary": None, "tags": None, "security": None}


def _ref(spec: APISpec, schema: SchemaLike) -> dict:
    """A $ref to a schema (registered on first use), for oneOf lists the plugin does not walk."""
    plugin = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
    return plugin.converter.resolve_nested_schema(schema)


def _operation(spec: APISpec, app: Flask, rule, method: str, path_params: list) -> dict:
    view = app.view_functions[rule.endpoint]
    declared = declaration(view)
    undeclared = declared is None
    declared = declared or _undeclared()
    security = declared["security"] if declared["security"] is not None else _security(rule.rule)
    doc = inspect.getdoc(inspect.unwrap(view)) or ""
    summary = declared["summary"] or (doc.splitlines()[0] if doc else rule.endpoint.split(".")[-1].replace("_", " "))
    operation: dict[str, Any] = {
        "operationId": f"{rule.endpoint}.{method.lower()}",
        "tags": declared["tags"] or [rule.endpoint.split(".")[0]],
        "security": security,
        "summary": str(summary)[:120],
    }
    if doc:
        operation["description"] = doc
    if undeclared:
        operation["x-undeclared"] = True
    if declared["query"] is not None:
        operation["parameters"] = [{"in": "query", "schema": declared["query"]}]
    bodies = declared["bodies"]
    if bodies and method in WITH_BODY:
        schema = bodies[0] if len(bodies) == 1 else {"oneOf": [_ref(spec, b) for b in bodies]}
        operation["requestBody"] = {"required": declared["body_required"],
                                    "content": {"application/json": {"schema": schema}}}
    responses = {status: _declared_response(status, value) for status, value in declared["responses"].items()}
    has_input = bool(bodies or declared["query"] is not None)
    for status, response in _default_errors(method, rule.rule, security, has_input, bool(path_params)).items():
        responses.setdefault(status, response)
    operation["responses"] = responses
    return operation


def build_spec(app: Flask) -> dict:
    spec = APISpec(
        title="Kiosk API", version=str(app.config.get("RELEASE") or "dev"), openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Paid priority queueing. Errors: {\"error\": {\"code\", \"message\", \"details\"}}."},
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for name, header in (("deviceId", "X-Device-Id"), ("deviceTimestamp", "X-Timestamp"),
                         ("deviceNonce", "X-Nonce"), ("deviceSignature", "X-Signature")):
        spec.components.security_scheme(name, {"type": "apiKey", "in": "header", "name": header,
                                               "description": "Signing scheme v1 (docs/devices.md)"})
    spec.components.schema("Error", schema=ErrorSchema)
    paths: dict[str, tuple[list, dict]] = {}
    for rule in _json_rules(app):
        path, params = openapi_path(rule.rule)
        _, operations = paths.setdefault(path, (params, {}))
        for method in sorted(rule.methods - IGNORED_METHODS):
            operations[method.lower()] = _operation(spec, app, rule, method, params)
    for path, (params, operations) in paths.items():
        spec.path(path=path, operations=operations, parameters=params or None)
    missing = undeclared_routes(app)
    if missing:
        logger.warning("openapi: JSON routes without a document(...) declaration: %s", ", ".join(missing))
    return spec.to_dict()


def openapi_document(app: Flask) -> dict:
    """Built once per app (routes do not change after start)."""
    cached = app.extensions.get("openapi")
    if cached is None:
        cached = app.extensions["openapi"] = build_spec(app)
    return cached
