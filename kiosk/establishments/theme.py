"""Per-establishment theme: defaults, readability (WCAG contrast) and CSS variables.

Pure functions, shared by the ticket page, the TV display and the dashboard:

- ``resolve(theme)`` -> the full theme (defaults filled in, colours normalised);
- ``css_variables(theme)`` -> ``{"--kiosk-primary": "#0b3d91", ...}``;
- ``stylesheet(theme)`` -> a ``:root { ... }`` block, served as a same-origin
  stylesheet because the CSP forbids inline styles;
- ``sound_urls(theme)`` -> ``{"standard": url | None, "vip": url | None}``.

Text is drawn in a fixed colour on each theme colour (``TEXT_ON``): white on
the primary and VIP colours, near-black on the accent. A theme is accepted
only if each pair reaches the WCAG AA ratio for normal text, 4.5:1.
"""
from __future__ import annotations

import hashlib
import json
import re

from flask_babel import gettext as _

HEX_PATTERN = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
HEX_PATTERN_RE = re.compile(HEX_PATTERN)
MIN_CONTRAST = 4.5
COLOUR_KEYS = ("primary", "accent", "vip")
TEXT_ON = {"primary": "#ffffff", "accent": "#1a1a1a", "vip": "#ffffff"}
# Same keys and defaults as the TV display's theme.
DEFAULT_THEME = {"primary": "#0b3d91", "accent": "#ffb400", "vip": "#c8102e", "logo_url": None,
                 "sound": "chime"}
# Each choice has a distinct VIP sound; "none" keeps pages silent (vibration stays).
SOUNDS = {
    "chime": {"standard": "/static/sounds/call-standard.wav", "vip": "/static/sounds/call-vip.wav"},
    "soft": {"standard": "/static/theme/sounds/soft-standard.wav", "vip": "/static/theme/sounds/soft-vip.wav"},
    "none": {"standard": None, "vip": None},
}


def normalise_hex(colour: str) -> str:
    """``#ABC`` -> ``#aabbcc``; raises ValueError on anything that is not a hex colour."""
    if not isinstance(colour, str) or not HEX_PATTERN_RE.match(colour):
        raise ValueError(f"not a hex colour: {colour!r}")
    digits = colour[1:].lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of an sRGB hex colour (0 black .. 1 white)."""
    digits = normalise_hex(colour)[1:]
    channels = []
    for i in (0, 2, 4):
        c = int(digits[i:i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio, from 1.0 (same luminance) to 21.0 (black on white)."""
    a, b = relative_luminance(first), relative_luminance(second)
    lighter, darker = max(a, b), min(a, b)
    return (lighter + 0.05) / (darker + 0.05)


def contrast_problem(name: str, colour: str) -> str | None:
    """A message for people when text on this theme colour would be hard to read, else None."""
    text = TEXT_ON[name]
    ratio = contrast_ratio(colour, text)
    if ratio >= MIN_CONTRAST:
        return None
    return _("Text in %(text)s on this colour has a contrast of %(ratio).2f:1; it needs at least %(min).1f:1.",
             text=text, ratio=ratio, min=MIN_CONTRAST)


def resolve(theme: dict | None) -> dict:
    """The full theme: stored values over defaults; unreadable or malformed colours fall back."""
    resolved = dict(DEFAULT_THEME)
    for key, value in (theme or {}).items():
        if key in COLOUR_KEYS:
            try:
                value = normalise_hex(value)
            except ValueError:
                continue
            if contrast_ratio(value, TEXT_ON[key]) < MIN_CONTRAST:
                continue
            resolved[key] = value
        elif key == "sound" and value in SOUNDS:
            resolved[key] = value
        elif key == "logo_url" and (value is None or (isinstance(value, str) and value.startswith("https://"))):
            resolved[key] = value
    return resolved


def version(theme: dict | None) -> str:
    """A short fingerprint that changes when the resolved theme does (for cache busting)."""
    encoded = json.dumps(resolve(theme), sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:12]


def css_variables(theme: dict | None) -> dict[str, str]:
    """CSS custom properties for a theme; pages style themselves only through these."""
    t = resolve(theme)
    return {
        "--kiosk-primary": t["primary"],
        "--kiosk-on-primary": TEXT_ON["primary"],
        "--kiosk-accent": t["accent"],
        "--kiosk-on-accent": TEXT_ON["accent"],
        "--kiosk-vip": t["vip"],
        "--kiosk-on-vip": TEXT_ON["vip"],
    }


def stylesheet(theme: dict | None) -> str:
    """A ``:root`` block with the theme's variables (values are validated hex: safe to emit)."""
    lines = "".join(f"  {name}: {value};\n" for name, value in css_variables(theme).items())
    return f":root {{\n{lines}}}\n"


def sound_urls(theme: dict | None) -> dict[str, str | None]:
    return dict(SOUNDS[resolve(theme)["sound"]])


def public_theme(theme: dict | None) -> dict:
    """The theme as APIs and pages show it."""
    t = resolve(theme)
    return {**t, "text": dict(TEXT_ON), "version": version(theme)}
