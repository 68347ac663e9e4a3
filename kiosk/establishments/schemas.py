"""What managers send to set the establishment's calling rule and theme."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from kiosk.establishments import theme as theme_rules


class CallingSettingsSchema(Schema):
    vip_streak_max = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=50))
    max_standard_wait_min = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=24 * 60))


class ThemeSchema(Schema):
    """A theme as a manager sets it. Every colour must stay readable (WCAG AA)."""

    primary = fields.String(required=True, validate=validate.Regexp(theme_rules.HEX_PATTERN,
                                                                    error=_l("Use a hex colour like #0b3d91.")))
    accent = fields.String(required=True, validate=validate.Regexp(theme_rules.HEX_PATTERN,
                                                                   error=_l("Use a hex colour like #ffb400.")))
    vip = fields.String(required=True, validate=validate.Regexp(theme_rules.HEX_PATTERN,
                                                                error=_l("Use a hex colour like #8a1538.")))
    logo_url = fields.String(load_default=None, allow_none=True, validate=validate.And(
        validate.Length(max=500), validate.URL(schemes={"https"}, require_tld=True,
                                               error=_l("Use an https:// address of an image."))))
    sound = fields.String(load_default=theme_rules.DEFAULT_THEME["sound"],
                          validate=validate.OneOf(list(theme_rules.SOUNDS),
                                                  error=_l("Choose one of: {choices}.")))

    @validates_schema
    def _readable(self, data: dict, **_kwargs) -> None:
        errors = {}
        for name in theme_rules.COLOUR_KEYS:
            if name not in data or not theme_rules.HEX_PATTERN_RE.match(data[name]):
                continue  # the field's own message covers it
            problem = theme_rules.contrast_problem(name, data[name])
            if problem:
                errors[name] = [problem]
        if errors:
            raise ValidationError(errors)


class ThemeOutSchema(ThemeSchema):
    text = fields.Dict(keys=fields.String(), values=fields.String(),
                       metadata={"description": "text colour used on each theme colour"})
    version = fields.String()
