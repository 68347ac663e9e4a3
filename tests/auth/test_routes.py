from __future__ import annotations

import jwt as pyjwt

from tests.factories import PASSWORD


def test_login_returns_a_bearer_token_with_tenant_and_role(client, world, app):
    response = client.post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    claims = pyjwt.decode(body["access_token"], app.config["JWT_SECRET_KEY"], algorithms=["HS256"])
    assert claims["establishment_id"] == world.a.id
    assert claims["role"] == "manager" and claims["sub"] and claims["exp"]


def test_email_is_case_insensitive(client, world):
    response = client.post("/auth/login", json={"email": world.a.agent_email.upper(), "password": PASSWORD})
    assert response.status_code == 200


def test_wrong_password_and_unknown_email_answer_the_same(client, world):
    wrong = client.post("/auth/login", json={"email": world.a.manager_email, "password": "nope"})
    unknown = client.post("/auth/login", json={"email": "nobody@example.test", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert wrong.get_json()["error"]["code"] == "invalid_credentials"


def test_login_validation_errors_are_per_field(client):
    response = client.post("/auth/login", json={"email": "not-an-email"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]) == {"email", "password"}


def test_login_is_locked_after_repeated_failures_for_that_email(client, world):
    for _ in range(5):
        assert client.post("/auth/login", json={"email": world.a.manager_email, "password": "x"}).status_code == 401
    locked = client.post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.get_json()["error"]["code"] == "rate_limited"
    assert int(locked.headers["Retry-After"]) > 0
    # Another account from the same IP is not locked by it.
    assert client.post("/auth/login", json={"email": world.a.agent_email, "password": PASSWORD}).status_code == 200
