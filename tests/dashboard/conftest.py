"""Dashboard fixtures: sign in through the real form, like a browser does."""
from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD, next_path: str | None = None, **extra):
    """GET the form (for its CSRF token), then POST it. Returns the POST response."""
    page = client.get("/login")
    form = {"email": email, "password": password, "csrf_token": form_token(page.get_data(as_text=True)), **extra}
    if next_path is not None:
        form["next"] = next_path
    return client.post("/login", data=form)


def cookie(client, name: str):
    return client.get_cookie(name)


@pytest.fixture
def manager(app, world):
    """A test client signed in as establishment A's manager (cookies only, no bearer header)."""
    client = app.test_client()
    assert sign_in(client, world.a.manager_email).status_code == 302
    return client


@pytest.fixture
def agent(app, world):
    client = app.test_client()
    assert sign_in(client, world.a.agent_email).status_code == 302
    return client


# The browser and the live server are the queue pages' own fixtures, reused as is.
from tests.queues.conftest import browser, queues_live_server  # noqa: E402,F401
