"""Helpers for the queue pages' browser tests (Debian's chromium through Playwright)."""
from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# Records CSP violations, sounds played and vibrations asked for.
PROBE = """
window.__csp = []; window.__played = []; window.__vibrated = []; window.__statusAt = {};
document.addEventListener('DOMContentLoaded', function () {
  // When the page itself shows a new status (ms since the epoch, same clock as the test).
  new MutationObserver(function () {
    window.__statusAt[document.body.dataset.status] = Date.now();
  }).observe(document.body, { attributes: true, attributeFilter: ['data-status'] });
});
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
(function () {
  var play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (!this.muted) { window.__played.push(this.src); }
    return play.apply(this, arguments);
  };
  Object.defineProperty(navigator, 'vibrate', { configurable: true, value: function (p) {
    window.__vibrated.push(Date.now()); return true; } });
})();
"""


def wait_until(page, expression: str, timeout: float = 3.0) -> None:
    """Poll a JS expression from Python: wait_for_function evals in the page, which the CSP forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(20)


def css(page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"el => getComputedStyle(el).getPropertyValue('{prop}').trim()")
