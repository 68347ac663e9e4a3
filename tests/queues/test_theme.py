"""Theme rules: WCAG contrast, normalisation, defaults and CSS variables."""
from __future__ import annotations

import pytest

from kiosk.establishments import theme


@pytest.mark.parametrize(("first", "second", "expected"), [
    ("#000000", "#ffffff", 21.0),
    ("#ffffff", "#000000", 21.0),   # symmetric
    ("#777777", "#777777", 1.0),
    ("#777777", "#ffffff", 4.48),   # the classic "grey that just fails AA"
    ("#767676", "#ffffff", 4.54),   # ...and the one that just passes
    ("#0000ff", "#ffffff", 8.59),
    ("#ff0000", "#ffffff", 4.0),
    ("#fff", "#000", 21.0),         # short hex
])
def test_contrast_ratio_matches_wcag_reference_values(first, second, expected):
    assert theme.contrast_ratio(first, second) == pytest.approx(expected, abs=0.01)


def test_relative_luminance_extremes_and_the_linear_segment():
    assert theme.relative_luminance("#000000") == 0.0
    assert theme.relative_luminance("#ffffff") == pytest.approx(1.0)
    # Channel 10/255 = 0.039 is below 0.04045: the linear part of the sRGB curve.
    assert theme.relative_luminance("#0a0a0a") == pytest.approx((10 / 255) / 12.92)


@pytest.mark.parametrize("bad", ["", "red", "#12", "#12345", "#1234567", "123456", "#ggg", None, 123])
def test_normalise_hex_refuses_non_hex(bad):
    with pytest.raises(ValueError):
        theme.normalise_hex(bad)


def test_normalise_hex_expands_and_lowercases():
    assert theme.normalise_hex("#AbC") == "#aabbcc"
    assert theme.normalise_hex("#0B3D91") == "#0b3d91"


def test_contrast_problem_names_the_text_colour_and_ratio():
    assert theme.contrast_problem("primary", "#0b3d91") is None
    message = theme.contrast_problem("primary", "#ffdd00")
    assert "#ffffff" in message and "4.5" in message
    assert theme.contrast_problem("accent", "#ffdd00") is None  # dark text on yellow is fine
    assert theme.contrast_problem("accent", "#222222") is not None


def test_defaults_are_readable():
    for key in theme.COLOUR_KEYS:
        assert theme.contrast_ratio(theme.DEFAULT_THEME[key], theme.TEXT_ON[key]) >= theme.MIN_CONTRAST


def test_resolve_fills_defaults_and_drops_unreadable_or_malformed_values():
    resolved = theme.resolve({"primary": "#FFDD00", "accent": "#fc0", "vip": "nope", "sound": "trumpet",
                              "logo_url": "http://insecure.example/logo.png", "extra": "x"})
    assert resolved == {**theme.DEFAULT_THEME, "accent": "#ffcc00"}
    assert theme.resolve(None) == theme.DEFAULT_THEME


def test_css_variables_and_version():
    variables = theme.css_variables({"primary": "#1d4ed8"})
    assert variables["--kiosk-primary"] == "#1d4ed8" and variables["--kiosk-on-primary"] == "#ffffff"
    assert set(variables) == {"--kiosk-primary", "--kiosk-on-primary", "--kiosk-accent", "--kiosk-on-accent",
                              "--kiosk-vip", "--kiosk-on-vip"}
    assert theme.version({"primary": "#1d4ed8"}) != theme.version(None)
    assert theme.version({"primary": "#1D4ED8"}) == theme.version({"primary": "#1d4ed8"})


def test_sound_urls():
    assert theme.sound_urls(None) == {"standard": "/static/sounds/call-standard.wav",
                                      "vip": "/static/sounds/call-vip.wav"}
    assert theme.sound_urls({"sound": "none"}) == {"standard": None, "vip": None}
