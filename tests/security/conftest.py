from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def session_app_stays_default(app):
    """Tests that build a second app (other settings) leave the session app's Celery as the default."""
    yield
    app.extensions["celery"].set_default()
