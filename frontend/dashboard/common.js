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

  window.KioskDashboard = { csrf: csrf, api: api, readConfig: readConfig };
})();
