"""The TV bundle stays small: old Smart TVs on slow Wi-Fi load it at every boot."""
from __future__ import annotations

import gzip
import os
import re

from tests.display.conftest import ROOT

BUNDLE = ("frontend/display/waiting-display.js", "frontend/display/waiting-display.css", "frontend/display/sw.js")
LIMIT = 10 * 1024


def test_the_display_bundle_is_under_10_kb_gzipped():
    sizes = {}
    for path in BUNDLE:
        with open(os.path.join(ROOT, path), "rb") as f:
            sizes[path] = len(gzip.compress(f.read(), compresslevel=9))
    assert sum(sizes.values()) < LIMIT, sizes


def test_the_display_script_avoids_syntax_newer_than_es2017():
    with open(os.path.join(ROOT, BUNDLE[0]), encoding="utf-8") as f:
        source = re.sub(r"/\*.*?\*/|//[^\n]*", "", f.read(), flags=re.S)
    newer = (
        (r"\?\.", "optional chaining (ES2020)"), (r"\?\?", "nullish coalescing (ES2020)"),
        (r"\{\s*\.\.\.|,\s*\.\.\.\w+\s*\}", "object rest/spread (ES2018)"),
        (r"\.finally\(", "Promise.finally (ES2018)"), (r"for\s+await", "async iteration (ES2018)"),
        (r"\(\?<[=!a-zA-Z]", "regexp lookbehind/named groups (ES2018)"), (r"catch\s*\{", "optional catch binding (ES2019)"),
        (r"\.flat(Map)?\(|Object\.fromEntries|\.matchAll\(|\.replaceAll\(", "ES2019+ built-ins"),
        (r"\bimport\b|\bexport\b", "modules"),
    )
    for pattern, feature in newer:
        assert not re.search(pattern, source), feature


def test_the_display_css_animates_only_transform_and_opacity():
    with open(os.path.join(ROOT, BUNDLE[1]), encoding="utf-8") as f:
        css = f.read()
    keyframes = re.findall(r"@keyframes[^{]+\{((?:[^{}]*\{[^}]*\})*)\s*\}", css)
    assert keyframes
    for block in keyframes:
        properties = set(re.findall(r"([a-z-]+)\s*:", block))
        assert properties <= {"transform", "opacity"}, properties
    assert "infinite" not in css  # nothing runs while the screen is idle
    assert "transition" not in css or "transition: transform" in css
