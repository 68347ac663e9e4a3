"""The establishment's settings API.

  GET  /api/settings/calling (staff);   PUT|PATCH /api/settings/calling (manager)
  GET  /api/theme (staff);              PUT /api/theme (manager);  GET /api/theme.css (staff)
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from kiosk.auth.access import manager_required, staff_required
from kiosk.establishments import services
from kiosk.establishments import theme as theme_rules
from kiosk.establishments.schemas import CallingSettingsSchema, ThemeOutSchema, ThemeSchema
from kiosk.observability.openapi import document
from kiosk.web import json_body

bp = Blueprint("establishments", __name__)

staff = staff_required()

calling_settings_schema = CallingSettingsSchema()
theme_schema = ThemeSchema()
theme_out_schema = ThemeOutSchema()


@bp.get("/api/settings/calling")
@document(responses={200: calling_settings_schema})
@staff
def get_calling_settings() -> dict:
    return calling_settings_schema.dump(services.calling_settings())


@bp.route("/api/settings/calling", methods=["PUT", "PATCH"])
@document(body=calling_settings_schema, responses={200: calling_settings_schema},
          summary="Set the calling rule (PUT: both values; PATCH: either)")
@manager_required
def update_calling_settings() -> dict:
    # PUT sets both values; PATCH takes either.
    changes = calling_settings_schema.load(json_body(), partial=request.method == "PATCH")
    return calling_settings_schema.dump(services.update_calling_settings(changes))


@bp.get("/api/theme")
@document(responses={200: theme_out_schema})
@staff
def get_theme() -> dict:
    return theme_out_schema.dump(services.get_theme())


@bp.put("/api/theme")
@document(body=theme_schema, responses={200: theme_out_schema})
@manager_required
def put_theme() -> dict:
    return theme_out_schema.dump(services.update_theme(theme_schema.load(json_body())))


@bp.get("/api/theme.css")
@staff
def theme_css() -> Response:
    """The establishment's CSS variables, for the dashboard pages (inline styles are forbidden)."""
    response = Response(theme_rules.stylesheet(services.current_establishment().theme), mimetype="text/css")
    response.headers["Cache-Control"] = "private, max-age=3600"  # linked with ?v=<theme version>
    return response
