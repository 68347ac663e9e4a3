/* Kiosk waiting-room TV. Plain ES5 + Promise/fetch (old Smart TV browsers).
 * Contract: ARCHITECTURE.md s.5 "Display WebSocket protocol" and the TV hooks
 * (body[data-connection], [data-latest-call]). Runs unattended for months:
 * reconnects with backoff + jitter, resyncs on every reconnect or seq gap,
 * polls state.json when WebSockets keep failing, shows a badge when stale,
 * boots from the last saved state when offline, reloads itself when broken. */
(function () {
  'use strict';
  var body = document.body, ds = body.dataset, store = window.localStorage;
  var qs = {};
  location.search.replace(/[?&]([^=&]+)=([^&]*)/g, function (m, k, v) { qs[k] = decodeURIComponent(v); });
  function num(name, def) { var v = parseFloat(qs[name]); return v > 0 ? v : def; }
  // Query overrides exist for tests and installers; production uses the page's data-*.
  var STALE = num('stale', +ds.stale || 45) * 1000, POLL = num('poll', +ds.poll || 5) * 1000;
  var BACKOFF_MAX = num('backoff', 30) * 1000, WS_FAILS_BEFORE_POLL = 3;
  var KEY = 'kd:state:' + ds.token, RELOADS = 'kd:reloads', SOUND = 'kd:sound';
  var state = null, lastSeq = -1, awaiting = true, lastMsgAt = 0, contact = false, failed = false, revoked = false;
  var ws = null, wsLive = false, wsMsgAt = 0, wsFails = 0, attempt = 0, wsTimer = 0;
  var pollTimer = 0, polling = false, pingEvery = 15000, bootAt = Date.now(), lastCallAt = 0;
  var announced = {}, rendered = {};
  var $ = function (sel) { return document.querySelector(sel); };

  function save(k, v) { try { store.setItem(k, v); } catch (e) { /* full or disabled: not fatal */ } }
  function load(k) { try { return store.getItem(k); } catch (e) { return null; } }
  function fmt(s) { var a = [].slice.call(arguments, 1); return s.replace(/%s/g, function () { return a.shift(); }); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function hhmm(t) {
    var o = { hour: '2-digit', minute: '2-digit' };
    try { return new Date(t).toLocaleTimeString(document.documentElement.lang, Object.assign({ timeZone: ds.timezone }, o)); }
    catch (e) { return new Date(t).toLocaleTimeString([], o); }
  }

  /* ---------- rendering: only sections whose data changed touch the DOM ---------- */
  function section(name, data, draw) {
    var k = JSON.stringify(data);
    if (rendered[name] === k) return;
    rendered[name] = k;
    draw(data);
  }
  function fill(node, items) {
    while (node.firstChild) node.removeChild(node.firstChild);
    items.forEach(function (i) { node.appendChild(i); });
  }
  function codeChip(t) {
    var c = el('li', 'chip' + (t.vip || t.kind === 'VIP' ? ' vip' : ''), t.code);
    if (t.counter) c.appendChild(el('small', null, ' ' + t.counter));
    return c;
  }
  function render() {
    if (!state) return;
    var th = state.theme || {}, root = document.documentElement.style;
    section('theme', th, function () {
      ['primary', 'accent', 'vip'].forEach(function (k) { if (th[k]) root.setProperty('--kiosk-' + k, th[k]); });
      var logo = $('[data-logo]');
      if (th.logo_url) { logo.src = th.logo_url; logo.hidden = false; } else logo.hidden = true;
    });
    section('name', state.establishment && state.establishment.name, function (n) { if (n) $('[data-name]').textContent = n; });
    var latest = (state.recent_calls || [])[0] || null;
    section('latest', latest, function (t) {
      // Idle (no call yet today): the welcome shows; the "now calling" block only once there is a call.
      document.body.setAttribute('data-idle', t ? 'false' : 'true');
      $('[data-welcome]').hidden = !!t;
      $('[data-calling]').hidden = !t;
      $('[data-latest-call]').textContent = t ? t.code : '';
      $('[data-latest-counter]').textContent = t && t.counter ? fmt(ds.lCounter, t.counter) : '';
      $('[data-latest-vip]').hidden = !(t && t.kind === 'VIP');
      var box = $('[data-latest]');
      box.classList.toggle('vip', !!(t && t.kind === 'VIP'));
      // One short transform/opacity animation per call; nothing runs while idle.
      box.classList.remove('flash');
      void box.offsetWidth;
      if (t && Date.now() - lastCallAt < 5000) box.classList.add('flash');
    });
    section('serving', state.now_serving || [], function (list) {
      fill($('[data-serving]'), list.map(function (t) {
        var row = el('li', t.kind === 'VIP' ? 'vip' : '');
        row.appendChild(el('span', 'counter', fmt(ds.lCounter, t.counter || '')));
        row.appendChild(el('span', 'code', t.code));
        return row;
      }));
    });
    section('recent', (state.recent_calls || []).slice(1), function (list) {
      fill($('[data-recent]'), list.map(codeChip));
    });
    section('queues', state.queues || [], function (queues) {
      fill($('[data-queues]'), queues.map(function (q) {
        var box = el('div', 'queue'), head = el('p', 'queue-head', q.name + ' ');
        head.appendChild(el('span', 'count', fmt(ds.lWaiting, q.waiting)));
        box.appendChild(head);
        var ol = el('ol', 'chips');
        fill(ol, (q.next || []).map(codeChip));
        box.appendChild(ol);
        return box;
      }));
    });
  }

  /* ---------- state ---------- */
  function persist() { save(KEY, JSON.stringify({ at: lastMsgAt || Date.now(), state: state })); }
  function remember(t, count) {
    if (Object.keys(announced).length > 500) { // months on air: keep only what is on screen
      announced = {};
      ((state && state.recent_calls) || []).forEach(function (c) { announced[c.ticket_id] = c.call_count || 'event'; });
    }
    announced[t.ticket_id] = count;
  }
  function applySnapshot(m, fromPoll) {
    if (m.refresh && !awaiting && m.seq < lastSeq) return; // older than what we have
    var first = !state;
    state = m; lastSeq = m.seq; awaiting = false;
    if (m.ping_interval) pingEvery = m.ping_interval * 1000;
    // Calls made while we were away are announced, if recent; not at boot.
    var now = m.server_time ? m.server_time * 1000 : Date.now();
    (m.recent_calls || []).slice().reverse().forEach(function (t) {
      var seen = announced[t.ticket_id], fresh = now - Date.parse(t.called_at) < 60000;
      if (!first && fresh && (seen === undefined || (typeof seen === 'number' && seen < t.call_count))) announce(t);
      remember(t, t.call_count);
    });
    render(); persist();
  }
  function without(list, id) { return (list || []).filter(function (t) { return t.ticket_id !== id; }); }
  function applyEvent(m) {
    if (typeof m.seq === 'number') {
      if (m.seq <= lastSeq) return;                            // already covered by a snapshot
      if (lastSeq >= 0 && m.seq > lastSeq + 1) resync();      // gap: fetch the truth, apply this meanwhile
      lastSeq = m.seq;
    }
    if (!state) return;
    var t = m.ticket;
    if (m.type === 'called' && t) {
      t.called_at = new Date().toISOString();
      state.now_serving = without(state.now_serving, t.ticket_id).filter(function (s) { return s.counter !== t.counter; });
      state.now_serving.push(t);
      state.now_serving.sort(function (a, b) { return String(a.counter).localeCompare(String(b.counter), undefined, { numeric: true }); });
      state.recent_calls = [t].concat(without(state.recent_calls, t.ticket_id)).slice(0, 8);
      (state.queues || []).forEach(function (q) { q.next = without(q.next, t.ticket_id); });
      announce(t); remember(t, 'event');
    } else if (m.type === 'day_closed') {
      resync();                                                // the day ended: take the server's whole state
    } else if (m.type === 'ticket' && /SERVED|NO_SHOW|CANCELLED|EXPIRED/.test(m.status)) {
      state.now_serving = without(state.now_serving, m.ticket_id);
      (state.queues || []).forEach(function (q) { q.next = without(q.next, m.ticket_id); });
    } else if (m.type === 'queue') {
      (state.queues || []).forEach(function (q) {
        if (q.id !== m.queue_id) return;
        if (typeof m.waiting === 'number') q.waiting = m.waiting;
        if (Array.isArray(m.next)) q.next = m.next; // the server's calling order, as of this change
      });
    } else if (m.type === 'theme' && m.theme) {
      state.theme = Object.assign({ sounds: state.theme && state.theme.sounds }, m.theme);
    }
    render(); persist();
  }
  function onMessage(m, fromPoll) {
    lastMsgAt = Date.now(); contact = true;
    if (m.type === 'snapshot') applySnapshot(m, fromPoll); else applyEvent(m);
    tick();
  }

  /* ---------- sound ---------- */
  var chimes = {};
  function soundUrl(k) {
    var s = state && state.theme && state.theme.sounds, u = s ? s[k] : '/static/sounds/call-' + k + '.wav';
    // Prefer the versioned copy the service worker keeps.
    return u && (ds.assets.split(' ').filter(function (a) { return a.split('?')[0] === u; })[0] || u);
  }
  function chime(vip) {
    var src = soundUrl(vip ? 'vip' : 'standard');
    if (!src) return;
    var a = chimes[src] || (chimes[src] = new Audio(src));
    a.currentTime = 0;
    var p = a.play();
    if (p && p.catch) p.catch(function () { $('[data-sound-overlay]').hidden = false; });
  }
  function announce(t) {
    lastCallAt = Date.now();
    var th = (state && state.theme) || {};
    if (th.sound === 'none') return;
    chime(t.kind === 'VIP');
    if ((th.speech || qs.speech === '1') && window.speechSynthesis && window.SpeechSynthesisUtterance) {
      setTimeout(function () {
        var u = new SpeechSynthesisUtterance(fmt(ds.lSay, t.code, t.counter || ''));
        u.lang = document.documentElement.lang;
        speechSynthesis.speak(u);
      }, 1200);
    }
  }
  function enableSound() {
    save(SOUND, 'on');
    $('[data-sound-overlay]').hidden = true;
    ['vip', 'standard'].forEach(function (k) { // a muted play inside the gesture unlocks audio
      var src = soundUrl(k), a = src && (chimes[src] || (chimes[src] = new Audio(src)));
      if (!a) return;
      a.muted = true;
      var p = a.play(), done = function () { a.pause(); a.muted = false; };
      if (p && p.then) p.then(done, done); else done();
    });
  }

  /* ---------- transports ---------- */
  function resync() {
    awaiting = true;
    if (ws && wsLive) ws.send('{"type":"resync"}'); else fetchState();
  }
  function dropWs() {
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(); } catch (e) { /* already gone */ }
    ws = null; wsLive = false;
  }
  function connect() {
    clearTimeout(wsTimer);
    if (revoked) return;
    dropWs();
    awaiting = true;
    var sock = ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + ds.wsPath);
    sock.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      wsMsgAt = Date.now();
      if (m.type === 'ping') { sock.send(JSON.stringify({ type: 'pong', t: m.t })); lastMsgAt = wsMsgAt; contact = true; return tick(); }
      if (m.type === 'snapshot' && !wsLive) { wsLive = true; wsFails = 0; attempt = 0; stopPolling(); }
      onMessage(m, false);
    };
    // A handshake that never completes (a frozen server, a cut link) must not stall reconnection.
    setTimeout(function () { if (ws === sock && !wsLive) sock.onclose(); }, Math.min(10000, STALE));
    sock.onclose = sock.onerror = function () {
      if (ws !== sock) return;
      if (!wsLive) wsFails++;
      failed = true;
      dropWs();
      if (wsFails >= WS_FAILS_BEFORE_POLL) startPolling(); else fetchState();
      retry();
      tick();
    };
  }
  function retry() {
    // Exponential backoff with full jitter; keeps trying even while polling works.
    var d = Math.min(BACKOFF_MAX, 1000 * Math.pow(2, attempt++));
    wsTimer = setTimeout(connect, d / 2 + Math.random() * d / 2);
  }
  function fetchState() {
    return fetch(ds.stateUrl, { cache: 'no-store', credentials: 'omit' }).then(function (r) {
      if (r.status === 404) return revoke();
      if (!r.ok) throw new Error('state ' + r.status);
      return r.json().then(function (m) { if (!wsLive) onMessage(m, true); });
    }).catch(function () { failed = true; tick(); });
  }
  function startPolling() {
    if (polling) return;
    polling = true;
    (function loop() {
      if (!polling) return;
      fetchState().then(function () { pollTimer = setTimeout(loop, POLL * (0.8 + Math.random() * 0.4)); });
    })();
  }
  function stopPolling() { polling = false; clearTimeout(pollTimer); }
  function revoke() {
    revoked = true; stopPolling(); dropWs(); clearTimeout(wsTimer);
    try { store.removeItem(KEY); } catch (e) { /* nothing to clean */ }
    var r = $('[data-revoked]');
    r.textContent = ds.lRevoked; r.hidden = false;
    body.setAttribute('data-connection', 'offline');
  }

  /* ---------- health: connection state, badge, watchdogs ---------- */
  var shown = {};
  function attr(name, value) { if (shown[name] !== value) { shown[name] = value; body.setAttribute(name, value); } }
  function tick() {
    if (revoked) return;
    var now = Date.now(), quiet = now - lastMsgAt, conn;
    // A WebSocket that heard nothing for two pings is dead even if the browser has not noticed.
    if (ws && wsLive && now - wsMsgAt > pingEvery * 2 + 5000) { dropWs(); retry(); }
    if (navigator.onLine === false || (!contact && failed)) conn = 'offline';
    else if (!contact) conn = 'reconnecting';
    else if (quiet >= STALE) conn = 'stale';
    else conn = wsLive || polling ? 'live' : 'reconnecting';
    attr('data-connection', conn);
    attr('data-transport', wsLive ? 'ws' : polling ? 'poll' : 'none');
    var badge = $('[data-badge]'), text = '';
    if (conn === 'stale' || (conn === 'offline' && contact)) text = fmt(ds.lLost, hhmm(lastMsgAt));
    else if (conn === 'offline' && state) text = fmt(ds.lOffline, hhmm(savedAt || now));
    if (badge.textContent !== text) { badge.textContent = text; badge.hidden = !text; }
    var clock = hhmm(now);
    if (shown.clock !== clock) { shown.clock = clock; $('[data-clock]').textContent = clock; }
  }

  function critical(reason) {
    // Reload to recover, but never more than 3 times in 10 minutes (a reload loop burns the TV).
    var now = Date.now(), list;
    try { list = JSON.parse(load(RELOADS) || '[]'); } catch (e) { list = []; }
    list = list.filter(function (t) { return now - t < 600000; });
    if (list.length >= 3) return;
    list.push(now); save(RELOADS, JSON.stringify(list));
    setTimeout(function () { location.reload(); }, 1000 + Math.random() * 2000);
    critical = function () {};
    window.kdReloadReason = reason;
  }
  function selfCheck() {
    // The screen must show what the state says; if not, something is wedged.
    var latest = state && (state.recent_calls || [])[0], node = $('[data-latest-call]');
    if (!node || (latest && node.textContent !== latest.code)) critical('broken state');
  }
  var reloadMinute = Math.floor(Math.random() * 60);
  var reloadHour = qs.reload_hour !== undefined ? +qs.reload_hour : +ds.reloadHour;
  function dailyReload() {
    // Once a day at a quiet hour (minute spread per TV), only if the server answers and no call is recent.
    var d = new Date(), now = d.getTime();
    if (d.getHours() !== reloadHour || d.getMinutes() !== reloadMinute || now - bootAt < 3600000) return;
    if (now - lastCallAt < 600000 || now - lastMsgAt > STALE) return;
    location.reload();
  }

  /* ---------- boot ---------- */
  window.onerror = function () { critical('error'); };
  window.addEventListener('unhandledrejection', function () { critical('rejection'); });
  var savedAt = 0;
  try {
    var saved = JSON.parse(load(KEY) || 'null');
    if (saved && saved.state) {
      savedAt = saved.at; state = saved.state; lastSeq = -1;
      (state.recent_calls || []).forEach(function (t) { remember(t, t.call_count); });
      render();
    }
  } catch (e) { /* a corrupt save is ignored */ }
  if (load(SOUND) !== 'on') $('[data-sound-overlay]').hidden = false;
  document.addEventListener('click', enableSound);
  document.addEventListener('keydown', enableSound);
  window.addEventListener('online', function () { if (!wsLive) connect(); });
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register(ds.swUrl, { scope: '/display/' }).then(function () {
      if (!window.caches) return;
      var assets = ds.assets.split(' ');
      return caches.open('kd-shell').then(function (c) {
        return c.addAll([location.pathname + location.search].concat(assets)).then(function () { return c.keys(); })
          .then(function (keys) { // drop files of older releases
            keys.forEach(function (r) {
              var u = new URL(r.url);
              if (u.pathname.indexOf('/static/') === 0 && assets.indexOf(u.pathname + u.search) < 0) c.delete(r);
            });
          });
      });
    }).catch(function () { /* no offline shell (insecure origin): localStorage still works */ });
  }
  connect();
  tick();
  setInterval(tick, 1000);
  setInterval(selfCheck, 30000);
  setInterval(dailyReload, 30000);
})();
