/* Shared by the dashboard pages: JSON calls with the JWT cookie and the CSRF header.
 * The JWT cookie is HttpOnly; its CSRF twin (csrf_access_token) is readable and is
 * echoed in X-CSRF-TOKEN on every write (double submit, checked by the server). */
(function () {
  "use strict";

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrf_access_token=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  /* Resolves {status, body}; rejects only on a network failure. A 401 means the
   * session ended: back to the sign-in page, then here. */
  function api(method, url, body) {
    var headers = { "Accept": "application/json" };
    if (method !== "GET") { headers["X-CSRF-TOKEN"] = csrf(); }
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    return fetch(url, {
      method: method, credentials: "same-origin", headers: headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      }
      if (r.status === 204) { return { status: r.status, body: null }; }
      return r.json().catch(function () { return null; }).then(function (b) { return { status: r.status, body: b }; });
    });
  }

  function readConfig(el) {
    try { return JSON.parse(el.getAttribute("data-config") || "{}"); } catch (e) { return {}; }
  }

  /* Money in minor units, formatted with the spec the server derived from Babel
   * (dashboard/services.money_format_spec), so pages and CSV exports agree. */
  function moneyFormat(spec) {
    function group(intPart) {
      var out = "";
      while (intPart.length > 3) {
        out = spec.group + intPart.slice(-3) + out;
        intPart = intPart.slice(0, -3);
      }
      return intPart + out;
    }
    function money(minor) {
      var negative = minor < 0;
      var digits = String(Math.abs(Math.round(minor)));
      var fraction = "";
      if (spec.digits > 0) {
        while (digits.length <= spec.digits) { digits = "0" + digits; }
        fraction = spec.decimal + digits.slice(-spec.digits);
        digits = digits.slice(0, -spec.digits);
      }
      return (negative ? "-" : "") + spec.prefix + group(digits) + fraction + spec.suffix;
    }
    /* The value of an <input type=number> ("1500", "3.5") in minor units, or null.
     * Strings, not floats: 0.1 + 0.2 must never decide what a cash box held. */
    function parse(value) {
      var m = /^(\d{1,12})(?:\.(\d+))?$/.exec(String(value || "").trim());
      if (!m) { return null; }
      var fraction = m[2] || "";
      if (fraction.length > spec.digits) { return null; }
      while (fraction.length < spec.digits) { fraction += "0"; }
      return parseInt(m[1] + fraction, 10);
    }
    /* Minor units back to an <input type=number> value. */
    function input(minor) {
      if (!spec.digits) { return String(minor); }
      var digits = String(minor);
      while (digits.length <= spec.digits) { digits = "0" + digits; }
      return digits.slice(0, -spec.digits) + "." + digits.slice(-spec.digits);
    }
    return { money: money, group: group, parse: parse, input: input,
             step: spec.digits ? Math.pow(10, -spec.digits).toFixed(spec.digits) : "1" };
  }

  window.KioskDashboard = { csrf: csrf, api: api, readConfig: readConfig, moneyFormat: moneyFormat };
})();
