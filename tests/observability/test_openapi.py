"""GET /openapi.json: every JSON route declares its marshmallow schemas; schemathesis finds no 500."""
from __future__ import annotations

import io
import json

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from kiosk.devices.signing import signed_headers
from kiosk.observability.openapi import IGNORED_METHODS, is_json_route, openapi_path, undeclared_routes
from tests.factories import PASSWORD

# Routes that are not JSON on purpose: pages, assets, the WebSocket, the Prometheus text.
NOT_JSON = ("/static/", "/ws/", "/dashboard", "/login", "/logout", "/lang/", "/metrics")
NOT_JSON_EXACT = {"/t/<token>", "/display/<token>", "/display/sw.js"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.content_type.startswith("application/json")
    return response.get_json()


def test_document_is_openapi_3_with_both_security_schemes(document):
    assert document["openapi"].startswith("3.")
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["deviceSignature"]["type"] == "apiKey" and schemes["deviceSignature"]["in"] == "header"
    assert schemes["deviceSignature"]["name"] == "X-Signature"
    operation_ids = [op["operationId"] for ops in document["paths"].values() for m, op in ops.items()
                     if m != "parameters"]
    assert len(operation_ids) == len(set(operation_ids))
    for ops in document["paths"].values():
        for method, op in ops.items():
            if method != "parameters":
                assert op["responses"] and any(code.startswith("2") for code in op["responses"])


def test_every_json_route_is_in_the_document(app, document):
    missing, unclassified = [], []
    for rule in app.url_map.iter_rules():
        if is_json_route(rule):
            path, _ = openapi_path(rule.rule)
            for method in rule.methods - IGNORED_METHODS:
                if method.lower() not in document["paths"].get(path, {}):
                    missing.append(f"{method} {rule.rule}")
        elif not (rule.rule.startswith(NOT_JSON) or rule.rule in NOT_JSON_EXACT
                  or rule.rule.endswith((".css", ".svg", ".csv", ".js"))):
            unclassified.append(rule.rule)
    assert not missing, f"JSON routes missing from /openapi.json: {missing}"
    assert not unclassified, f"routes neither documented nor known pages/assets: {unclassified}"
    for required in ("/auth/login", "/iot/payments", "/iot/register", "/api/queues", "/stats/revenue/daily",
                     "/health", "/health/ready"):
        assert required in document["paths"], required


def test_operations_carry_schemas_security_and_path_parameters(document):
    login = document["paths"]["/auth/login"]["post"]
    assert login["security"] == []
    ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(body["required"]) == {"email", "password"} and body["additionalProperties"] is False
    payment = document["paths"]["/iot/payments"]["post"]
    assert payment["security"] == [{"deviceId": [], "deviceTimestamp": [], "deviceNonce": [], "deviceSignature": []}]
    assert "202" in payment["responses"] and "requestBody" in payment
    assert document["paths"]["/api/queues"]["get"]["security"] == [{"bearerAuth": []}]
    daily = document["paths"]["/stats/revenue/daily"]["get"]
    assert {p["name"] for p in daily["parameters"] if p["in"] == "query"} >= {"from", "to"}
    ticket = document["paths"]["/api/tickets/{ticket_id}"]
    params = ticket.get("parameters", []) + ticket["get"].get("parameters", [])
    assert {"in": "path", "name": "ticket_id", "required": True, "schema": {"type": "string"}} in params
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert login["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_every_json_route_declares_its_schemas(app):
    """Each JSON route states its body, query and success statuses with ``document(...)``
    next to the route; nothing is guessed from the view's source. A route added without
    a declaration fails here (the lead adds them when merging a branch)."""
    assert undeclared_routes(app) == [], (
        "JSON routes without @document(body=..., responses={2xx: Schema}) next to the route")


def test_declared_schemas_are_the_ones_the_views_use(document):
    """Spot checks that the declarations match the code: the success statuses and the
    list wrappers the views really answer (these were wrong or missing when inferred)."""
    paths = document["paths"]
    payment = paths["/iot/payments"]["post"]["responses"]
    assert payment["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/PaymentAccepted")
    assert payment["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PaymentStatus")
    assert {"200", "201"} <= set(paths["/iot/tickets"]["post"]["responses"])
    call_next = paths["/api/queues/{queue_id}/call-next"]["post"]["responses"]
    assert "content" not in call_next["204"]
    queues = paths["/api/queues"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    listed = document["components"]["schemas"][queues.rsplit("/", 1)[-1]]
    assert listed["properties"]["queues"]["items"]["$ref"].endswith("/Queue")
    assert paths["/api/queues/{queue_id}/tickets"]["post"]["requestBody"]["required"] is False
    assert paths["/iot/register"]["post"]["security"] == [{"bearerAuth": []}, {}]


def test_undeclared_view_gets_a_rule_only_operation_and_is_reported(database_url, redis_url):
    """Stricter than before: an undeclared view is no longer given schemas guessed from
    its source. It still gets a valid operation from its rule alone (path parameters,
    security by prefix, default errors, a generic 200), so /openapi.json keeps working in
    production, but it is marked ``x-undeclared`` and ``undeclared_routes`` names it:
    ``test_every_json_route_declares_its_schemas`` then fails. A declared view gets
    exactly what it declared."""
    from kiosk import create_app
    from kiosk.observability.openapi import document as declare
    from tests.conftest import make_config

    fresh = create_app(make_config(database_url, redis_url))

    @fresh.get("/api/things/<int:thing_id>")
    def bare_thing(thing_id):
        return {}

    @fresh.post("/api/things")
    @declare(summary="Create a thing", responses={201: "Created"})
    def declared_thing():
        return {}, 201

    doc = fresh.test_client().get("/openapi.json").get_json()
    bare = doc["paths"]["/api/things/{thing_id}"]
    assert bare["parameters"][0] == {"in": "path", "name": "thing_id", "required": True,
                                     "schema": {"type": "integer"}}
    assert bare["get"]["security"] == [{"bearerAuth": []}] and "200" in bare["get"]["responses"]
    assert bare["get"]["x-undeclared"] is True and "requestBody" not in bare["get"]
    declared = doc["paths"]["/api/things"]["post"]
    assert declared["summary"] == "Create a thing" and "x-undeclared" not in declared
    assert declared["responses"]["201"] == {"description": "Created"}
    assert undeclared_routes(fresh) == ["GET /api/things/<int:thing_id> (bare_thing)"]


def test_a_declaration_must_state_its_success_status():
    from kiosk.auth.schemas import LoginSchema
    from kiosk.observability.openapi import document as declare

    with pytest.raises(TypeError):
        declare(body=LoginSchema, responses={400: "Bad"})
    with pytest.raises(TypeError):
        declare(responses={200: object()})


# --- fuzzing ---------------------------------------------------------------------------

class AuthenticatingMiddleware:
    """Lets generated requests reach the code behind the guards: a manager's JWT on
    staff routes, a valid v1 signature (fresh nonce) on device routes."""

    def __init__(self, wsgi_app, token: str, device_id: str, secret: str):
        self.wsgi_app, self.token, self.device_id, self.secret = wsgi_app, token, device_id, secret

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(("/api/", "/stats/", "/iot/register")):
            environ["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        elif path.startswith("/iot/"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            query = environ.get("QUERY_STRING", "")
            signed_path = path.encode("latin-1").decode("utf-8", "replace") + (f"?{query}" if query else "")
            for name, value in signed_headers(self.device_id, self.secret, environ.get("REQUEST_METHOD", "GET"),
                                              signed_path, body).items():
                environ["HTTP_" + name.upper().replace("-", "_")] = value
        return self.wsgi_app(environ, start_response)


@pytest.fixture
def fuzz_target(app, world):
    login = app.test_client().post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD})
    original = app.wsgi_app
    app.wsgi_app = AuthenticatingMiddleware(original, login.get_json()["access_token"], world.a.device_id,
                                            world.a.device_secret)
    app.config["RATELIMIT_ENABLED"] = False
    app.extensions.pop("openapi", None)
    from tests.security.test_retry_after import _tracking_token

    app.config["_FUZZ_IDS"] = {
        "queue_id": world.a.queue_id, "ticket_id": world.a.extra["ticket_id"], "device_id": world.a.device_id,
        "display_id": world.a.display_id, "token": _tracking_token(app, world)}
    yield app
    app.config.pop("_FUZZ_IDS", None)
    app.wsgi_app = original
    app.config["RATELIMIT_ENABLED"] = True


def _with_real_ids(strategy, ids: dict):
    """Half the cases use ids that exist, so the code past the 404 is fuzzed too."""
    from hypothesis import strategies as st

    def substitute(case):
        if case.path_parameters:
            case.path_parameters = {k: ids.get(k, v) for k, v in case.path_parameters.items()}
        return case

    return st.one_of(strategy, strategy.map(substitute))


@pytest.mark.slow
def test_fuzzed_requests_never_get_a_server_error(fuzz_target):
    """schemathesis over every documented operation, a few examples each (a CI-sized budget).

    Run operation by operation from this test rather than with ``schema.parametrize``:
    schemathesis' lazy pytest loader does not work with this pytest version.
    """
    from hypothesis import given

    api = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_target)
    failures, operations = [], 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=4, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        @given(case=_with_real_ids(operation.as_strategy(), fuzz_target.config["_FUZZ_IDS"]))
        def run(case):
            response = case.call_and_validate(checks=[not_a_server_error])
            if response.status_code >= 400 and response.headers.get("Content-Type", [""])[0].startswith(
                    "application/json"):
                body = json.loads(response.text)
                assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
