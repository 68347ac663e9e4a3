"""``GET /openapi.json``: an OpenAPI 3 document built from the app's own routes.

Every JSON route of ``app.url_map`` is documented (see ``is_json_route``),
whether or not its package declared anything, so a route cannot be missing:

- path parameters, tags and the security scheme come from the rule itself
  (``/iot/*`` device signature, ``/api/*`` and ``/stats/*`` bearer JWT);
- the request body, query and response schemas are read from the view's
  source (``XSchema().load(json_body())``, ``.load(request.args)``,
  ``XSchema().dump(...)``), so the marshmallow schemas that validate a
  request are the ones published;
- a package may say more, next to its route, with ``document``::

      @bp.post("/things")
      @document(body=ThingCreateSchema, responses={201: ThingSchema}, summary="Create a thing")
      def create_thing(): ...

  or, from anywhere, ``document(endpoint="bp.create_thing", ...)``.
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema, fields

JSON_PREFIXES = ("/api/", "/iot/", "/auth/", "/stats/", "/health")
NOT_JSON_SUFFIXES = (".css", ".svg", ".js", ".csv", ".png", ".html")
IGNORED_METHODS = {"HEAD", "OPTIONS"}
DEVICE_SECURITY = {"deviceId": [], "deviceTimestamp": [], "deviceNonce": [], "deviceSignature": []}

_registry: dict[str, dict] = {}


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def document(view: Callable | None = None, *, endpoint: str | None = None, **meta: Any):
    """Declare what the source cannot tell: ``body``, ``query``, ``responses``
    (``{status: Schema | description}``), ``summary``, ``tags``, ``security``.
    """
    meta = {k: v for k, v in meta.items() if v is not None}
    if endpoint is not None:
        _registry.setdefault(endpoint, {}).update(meta)
        return None

    def apply(function: Callable) -> Callable:
        function.__dict__.setdefault("_openapi", {}).update(meta)
        return function

    return apply(view) if callable(view) else apply


def is_json_route(rule) -> bool:
    path = rule.rule
    if path.endswith(NOT_JSON_SUFFIXES) or path.startswith(("/static", "/ws/")):
        return False
    return path.startswith(JSON_PREFIXES) or path.endswith(".json")


# --- what a view's source says ----------------------------------------------------------

# ``XSchema(...).load(...)`` or a module-level instance: ``x_schema.load(...)``.
_LOAD = re.compile(r"\b(\w+)(?:\([^()]*\))?\.load\(\s*([^\n]*)")
_DUMP = re.compile(r"\b(\w+)(?:\(([^()]*)\))?\.dump\(")


_HELPER_CALL = re.compile(r"return\s+(_?[a-z]\w*)\(")


def _source(view: Callable) -> tuple[str, dict]:
    """The view's source, plus that of the module's own helpers it returns through."""
    function = inspect.unwrap(view)
    try:
        source, namespace = inspect.getsource(function), function.__globals__
    except (OSError, TypeError):
        return "", {}
    for name in dict.fromkeys(_HELPER_CALL.findall(source)):
        helper = namespace.get(name)
        if inspect.isfunction(helper) and helper.__module__ == function.__module__:
            try:
                source += "\n" + inspect.getsource(helper)
            except (OSError, TypeError):
                pass
    return source, namespace


def _schema(name: str, namespace: dict):
    candidate = namespace.get(name)
    if inspect.isclass(candidate) and issubclass(candidate, Schema):
        return candidate
    return candidate if isinstance(candidate, Schema) else None


def inferred(view: Callable) -> dict:
    source, namespace = _source(view)
    bodies, query, responses = [], None, []
    for name, argument in _LOAD.findall(source):
        schema = _schema(name, namespace)
        if schema is None or "request.form" in argument:
            continue
        if "request.args" in argument:
            query = schema
        elif schema not in bodies:
            bodies.append(schema)
    for name, arguments in _DUMP.findall(source):
        schema = _schema(name, namespace)
        if schema is not None:
            many = inspect.isclass(schema) and "many=True" in (arguments or "")
            responses.append(schema(many=True) if many else schema)
    return {"bodies": bodies, "query": query, "dumps": responses}


def _explicit(view: Callable, endpoint: str) -> dict:
    meta: dict = {}
    function = view
    while function is not None:
        meta = {**function.__dict__.get("_openapi", {}), **meta}
        function = getattr(function, "__wrapped__", None)
    return {**meta, **_registry.get(endpoint, {})}


# --- building the document ---------------------------------------------------------------

_CONVERTERS = {"int": {"type": "integer"}, "float": {"type": "number"}, "uuid": {"type": "string", "format": "uuid"}}
_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def openapi_path(rule: str) -> tuple[str, list[dict]]:
    parameters = []
    for converter, name in _PARAM.findall(rule):
        schema = _CONVERTERS.get(converter, {"type": "string"})
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule), parameters


def _security(path: str) -> list[dict]:
    if path == "/iot/register":
        return [{"bearerAuth": []}, {}]  # a manager's JWT, or a claim code in the body
    if path.startswith("/iot/"):
        return [DEVICE_SECURITY]
    if path.startswith(("/api/", "/stats/")):
        return [{"bearerAuth": []}]
    return []


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


_CREATED = re.compile(r"(?:,|return)\s*(201|202)\b")


def _success_status(view: Callable) -> str:
    """201/202 when the view's source returns it, else 200."""
    statuses = _CREATED.findall(_source(view)[0])
    return statuses[0] if statuses else "200"


def _responses(view: Callable, method: str, path: str, meta: dict, found: dict, security: list,
               has_params: bool) -> dict:
    responses: dict[str, Any] = {}
    declared = meta.get("responses") or {}
    for status, value in declared.items():
        if isinstance(value, dict):
            responses[str(status)] = value
        elif isinstance(value, str):
            responses[str(status)] = {"description": value}
        else:
            responses[str(status)] = {"description": "OK", "content": {"application/json": {"schema": value}}}
    if not any(s.startswith("2") for s in responses):
        success = {"description": "OK"}
        if found["dumps"]:
            success["content"] = {"application/json": {"schema": found["dumps"][0]}}
        elif path.endswith(".json") or path.startswith(JSON_PREFIXES):
            success["content"] = {"application/json": {"schema": {"type": "object"}}}
        responses[_success_status(view)] = success
    has_input = bool(meta.get("body") or found["bodies"] or meta.get("query") or found["query"])
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
    for status, description in defaults.items():
        responses.setdefault(status, _error(description))
    return responses


def _operation(spec: APISpec, app: Flask, rule, method: str, path_params: list) -> dict:
    view = app.view_functions[rule.endpoint]
    meta = _explicit(view, rule.endpoint)
    found = inferred(view)
    security = meta.get("security", _security(rule.rule))
    operation: dict[str, Any] = {
        "operationId": f"{rule.endpoint}.{method.lower()}",
        "tags": meta.get("tags") or [rule.endpoint.split(".")[0]],
        "security": security,
    }
    doc = inspect.getdoc(inspect.unwrap(view)) or ""
    summary = meta.get("summary") or (doc.splitlines()[0] if doc else rule.endpoint.split(".")[-1].replace("_", " "))
    operation["summary"] = str(summary)[:120]
    if doc:
        operation["description"] = doc
    query = meta.get("query") or found["query"]
    if query is not None:
        operation["parameters"] = [{"in": "query", "schema": query}]
    bodies = [meta["body"]] if meta.get("body") else found["bodies"]
    if bodies and method in ("POST", "PUT", "PATCH", "DELETE"):
        schema = bodies[0] if len(bodies) == 1 else {"oneOf": [_ref(spec, b) for b in bodies]}
        operation["requestBody"] = {"required": rule.rule not in _OPTIONAL_BODIES,
                                    "content": {"application/json": {"schema": schema}}}
    operation["responses"] = _responses(view, method, rule.rule, meta, found, security, bool(path_params))
    return operation


_OPTIONAL_BODIES = {"/api/queues/<queue_id>/tickets"}


def _ref(spec: APISpec, schema) -> dict:
    """A $ref to a schema (registered on first use), for oneOf lists the plugin does not walk."""
    plugin = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
    return plugin.converter.resolve_nested_schema(schema)


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
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not is_json_route(rule):
            continue
        path, params = openapi_path(rule.rule)
        _, operations = paths.setdefault(path, (params, {}))
        for method in sorted(rule.methods - IGNORED_METHODS):
            operations[method.lower()] = _operation(spec, app, rule, method, params)
    for path, (params, operations) in paths.items():
        spec.path(path=path, operations=operations, parameters=params or None)
    return spec.to_dict()


def openapi_document(app: Flask) -> dict:
    """Built once per app (routes do not change after start)."""
    cached = app.extensions.get("openapi")
    if cached is None:
        cached = app.extensions["openapi"] = build_spec(app)
    return cached
