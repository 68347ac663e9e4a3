/* Display service worker (scope /display/): keeps the TV page shell for
 * offline boots. Pages: network first, cached copy when the network fails
 * (a 404 means revoked: the copy is dropped). Static files (versioned URLs):
 * cache first, kept on first use. state.json and the WebSocket are never cached. */
'use strict';
var CACHE = 'kd-shell';
self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (e) { e.waitUntil(self.clients.claim()); });
self.addEventListener('fetch', function (e) {
  var req = e.request, url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== location.origin) return;
  if (req.mode === 'navigate' && url.pathname.indexOf('/display/') === 0) {
    e.respondWith(caches.open(CACHE).then(function (c) {
      return fetch(req).then(function (r) {
        if (r.ok) c.put(req, r.clone()); else if (r.status === 404) c.delete(req);
        return r;
      }, function () {
        return c.match(req).then(function (hit) { return hit || Response.error(); });
      });
    }));
  } else if (url.pathname.indexOf('/static/') === 0) {
    e.respondWith(caches.open(CACHE).then(function (c) {
      return c.match(req).then(function (hit) {
        return hit || fetch(req).then(function (r) { if (r.status === 200) c.put(req, r.clone()); return r; });
      });
    }));
  }
});
