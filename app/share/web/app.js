// SecureCam Share viewer page. Wire contract: docs/SHARE.md (session cookie API,
// /api/cameras polled every 2 s, live JPEG frames over the /ws WebSocket).
// No framework and no build step; the page runs under a strict CSP (no inline script/style).
'use strict';

(() => {
  const POLL_MS = 2000;              // camera list / state badges
  const PING_MS = 2000;              // clock-offset pings once settled
  const QUICK_PINGS = 4;             // ... and this many quick ones right after connecting
  const QUICK_PING_MS = 250;
  const OFFSET_SAMPLES = 8;          // offset from the fastest round trip of the last 8 pongs
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const GOOD_CONNECTION_MS = 5000;   // a connection open this long resets the back-off
  const FPS_WINDOW_MS = 2000;
  const TEXT_EVERY_MS = 500;         // tile bottom line re-rendered at most this often

  const $ = (id) => document.getElementById(id);
  const el = {
    boot: $('boot'), loginView: $('login-view'), login: $('login'), name: $('name'),
    password: $('password'), loginError: $('login-error'), loginSubmit: $('login-submit'),
    wallView: $('wall-view'), wall: $('wall'), wallEmpty: $('wall-empty'), viewer: $('viewer'),
    status: $('status'), logout: $('logout'), wallFullscreen: $('wall-fullscreen'),
    backdrop: $('backdrop'), template: $('tile-template'),
  };

  // Same clock for pings and for "shown" instants: monotonic, but in epoch milliseconds.
  const clientNow = () => performance.timeOrigin + performance.now();
  const decoder = new TextDecoder();

  // Everything belonging to one logged-in session. `epoch` grows each time we go back to the
  // login form, so late answers from an earlier session are recognised and dropped.
  let epoch = 0;
  let pollTimer = null;
  let refreshTimer = null;
  let refreshDueAt = 0;
  const tiles = new Map();           // camera name -> tile state (see makeTile)
  let cameraNames = null;            // names from the last /api/cameras, null before the first
  let large = null;                  // the tile shown in the large view, or null

  // ---------------------------------------------------------------- HTTP API

  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', cache: 'no-store', headers: {} };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    let data = {};
    try { data = await res.json(); } catch (e) { /* empty or non-JSON body */ }
    return { status: res.status, data: data || {} };
  }

  const errorText = (r, fallback) =>
    (r.data && typeof r.data.error === 'string' && r.data.error) || `${fallback} (HTTP ${r.status})`;

  // ---------------------------------------------------------------- login / session

  function showLogin(message) {
    epoch += 1;
    stopSession();
    el.boot.hidden = true;
    el.wallView.hidden = true;
    el.loginView.hidden = false;
    el.loginError.textContent = message || '';
    el.password.value = '';
    (el.name.value ? el.password : el.name).focus();
  }

  // Any 401 means "log in again".
  function sessionEnded(r) {
    showLogin(errorText(r, 'your session has ended; please log in again'));
  }

  function showWall(session) {
    el.boot.hidden = true;
    el.loginView.hidden = true;
    el.loginError.textContent = '';
    el.password.value = '';
    el.wallView.hidden = false;
    el.viewer.textContent = session.viewer ? `signed in as ${session.viewer}` : '';
    scheduleRefresh(session.refresh_in);
    poll();
    connect();
  }

  function stopSession() {
    clearTimeout(pollTimer);
    clearTimeout(refreshTimer);
    refreshDueAt = 0;
    disconnect();
    closeLarge();
    if (fullscreenElement()) exitFullscreen();
    for (const t of tiles.values()) dropTile(t);
    tiles.clear();
    cameraNames = null;
    el.wallEmpty.hidden = true;
  }

  let loginLockTimer = null;
  el.login.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (el.loginSubmit.disabled) return;
    el.loginSubmit.disabled = true;
    el.loginError.textContent = '';
    let r;
    try {
      r = await api('POST', '/api/login', { name: el.name.value.trim(), password: el.password.value });
    } catch (e) {
      el.loginError.textContent = 'cannot reach the server';
      el.loginSubmit.disabled = false;
      return;
    }
    if (r.status === 200) {
      el.loginSubmit.disabled = false;
      showWall(r.data);
      return;
    }
    el.loginError.textContent = errorText(r, 'login failed');
    el.password.value = '';
    el.password.focus();
    if (r.status === 429 && Number(r.data.retry_after) > 0) {
      lockLogin(Math.ceil(Number(r.data.retry_after)));
    } else {
      el.loginSubmit.disabled = false;
    }
  });

  // After a 429 the button stays disabled, counting down, until the server will listen again.
  function lockLogin(seconds) {
    clearInterval(loginLockTimer);
    let left = seconds;
    const tick = () => {
      if (left <= 0) {
        clearInterval(loginLockTimer);
        el.loginSubmit.disabled = false;
        el.loginSubmit.textContent = 'Log in';
        return;
      }
      el.loginSubmit.textContent = `Log in (wait ${left} s)`;
      left -= 1;
    };
    tick();
    loginLockTimer = setInterval(tick, 1000);
  }

  function scheduleRefresh(refreshIn) {
    clearTimeout(refreshTimer);
    // Never hammer the server if it ever answers 0 or nonsense.
    const ms = Math.max(5, Number(refreshIn) || 60) * 1000;
    refreshDueAt = Date.now() + ms;
    refreshTimer = setTimeout(refresh, ms);
  }

  async function refresh() {
    const mine = epoch;
    let r;
    try {
      r = await api('POST', '/api/refresh');
    } catch (e) {
      if (mine === epoch) scheduleRefresh(10);   // network hiccup: try again soon
      return;
    }
    if (mine !== epoch) return;
    if (r.status === 200) scheduleRefresh(r.data.refresh_in);
    else if (r.status === 401) sessionEnded(r);
    else scheduleRefresh(10);
  }

  // Phones freeze timers in the background: refresh at once if one was missed meanwhile.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && refreshDueAt && Date.now() >= refreshDueAt) refresh();
  });

  el.logout.addEventListener('click', async () => {
    let message = '';
    try {
      await api('POST', '/api/logout');
    } catch (e) {
      message = 'logged out here, but the server could not be reached';
    }
    showLogin(message);
  });

  // ---------------------------------------------------------------- camera list

  async function poll() {
    const mine = epoch;
    clearTimeout(pollTimer);
    let r = null;
    try { r = await api('GET', '/api/cameras'); } catch (e) { /* keep the last state */ }
    if (mine !== epoch) return;
    if (r && r.status === 401) { sessionEnded(r); return; }
    if (r && r.status === 200 && Array.isArray(r.data.cameras)) updateCameras(r.data.cameras);
    pollTimer = setTimeout(poll, POLL_MS);
  }

  function updateCameras(cams) {
    const names = cams.map((c) => String(c.name));
    for (const [name, t] of tiles) {
      if (!names.includes(name)) { dropTile(t); tiles.delete(name); }
    }
    let prev = null;
    cams.forEach((cam) => {
      const name = String(cam.name);
      let t = tiles.get(name);
      if (!t) { t = makeTile(name); tiles.set(name, t); }
      t.cam = cam;
      t.root.dataset.state = ['live', 'offline', 'rejected'].includes(cam.state) ? cam.state : 'offline';
      setSuite(t, cam.suite || null, !!cam.encrypted);
      // Keep the server's order, but move a tile only when it is out of place: moving a node
      // would take it out of full screen and lose its focus.
      const want = prev ? prev.nextSibling : el.wall.firstChild;
      if (t.root !== want) el.wall.insertBefore(t.root, want);
      prev = t.root;
      renderTile(t);
    });
    el.wallEmpty.hidden = names.length > 0;
    const changed = !cameraNames || names.join('\n') !== cameraNames.join('\n');
    cameraNames = names;
    if (changed) subscribe();
  }

  // ---------------------------------------------------------------- tiles

  function makeTile(name) {
    const root = el.template.content.firstElementChild.cloneNode(true);
    const q = (sel) => root.querySelector(sel);
    const t = {
      name, root, cam: null,
      img: q('img.frame'), note: q('.media-note'), badgeText: q('.badge-text'),
      state: q('.state-text'), fps: q('.fps'), res: q('.res'), latency: q('.latency'),
      viewers: q('.viewers'), message: q('.tile-message'),
      frames: 0, shown: [],          // count and recent "shown" instants (browser fps)
      latencyMs: null, lastText: 0,
      shownUrl: null,                // object URL currently displayed
      loading: null,                 // {url, header} being decoded by the <img>
      pending: null,                 // newest frame waiting for the <img>: one slot, never a queue
    };
    root.dataset.camera = name;
    root.setAttribute('aria-label', `${name}: open the large view`);
    q('.tile-name').textContent = name;
    t.img.alt = name;
    t.img.addEventListener('load', () => frameShown(t));
    t.img.addEventListener('error', () => frameFailed(t));
    root.addEventListener('click', () => (large === t ? closeLarge() : openLarge(t)));
    root.addEventListener('keydown', (ev) => {
      if ((ev.key === 'Enter' || ev.key === ' ') && ev.target === root) {
        ev.preventDefault();
        if (large === t) closeLarge(); else openLarge(t);
      }
    });
    q('.tile-fullscreen').addEventListener('click', (ev) => { ev.stopPropagation(); toggleFullscreen(root); });
    q('.tile-close').addEventListener('click', (ev) => { ev.stopPropagation(); closeLarge(); });
    return t;
  }

  function dropTile(t) {
    if (large === t) closeLarge();
    if (t.shownUrl) URL.revokeObjectURL(t.shownUrl);
    if (t.loading) URL.revokeObjectURL(t.loading.url);
    t.shownUrl = t.loading = t.pending = null;
    t.root.remove();
  }

  // The badge follows the camera list and, as soon as one arrives, each frame's own suite:
  // a tile must never claim "encrypted" for a frame that came over a plain link.
  function setSuite(t, suite, encrypted) {
    t.root.dataset.suite = suite === 'noise' || suite === 'plain' ? suite : 'none';
    t.root.dataset.encrypted = encrypted ? 'true' : 'false';
    t.badgeText.textContent = encrypted ? 'camera link encrypted'
      : suite === 'plain' ? 'PLAIN — INSECURE' : 'camera link unknown';
  }

  function renderTile(t) {
    t.lastText = performance.now();
    const cam = t.cam || {};
    const state = t.root.dataset.state;
    t.state.textContent = state;
    const hasImage = !!t.shownUrl;
    t.note.textContent = state === 'offline' ? (hasImage ? 'offline — last image' : 'offline')
      : state === 'rejected' ? (hasImage ? 'rejected — last image' : 'rejected')
        : (hasImage ? '' : 'waiting for the first image…');
    const live = state === 'live';
    // fps and latency describe a live stream; a tile that never showed an image has neither.
    t.fps.textContent = live ? `${browserFps(t).toFixed(1)} fps` : '';
    const w = t.img.naturalWidth || cam.width;
    const h = t.img.naturalHeight || cam.height;
    t.res.textContent = w && h ? `${w}×${h}` : '';
    t.latency.textContent = live || hasImage
      ? `capture → shown: ${t.latencyMs === null ? '—' : `${t.latencyMs} ms`}` : '';
    const v = Number(cam.viewers);
    t.viewers.textContent = v > 0 ? `${v} viewer${v === 1 ? '' : 's'}` : '';
  }

  function browserFps(t) {
    const now = performance.now();
    while (t.shown.length && now - t.shown[0] > FPS_WINDOW_MS) t.shown.shift();
    if (t.shown.length < 2) return 0;
    return (t.shown.length - 1) * 1000 / (t.shown[t.shown.length - 1] - t.shown[0]);
  }

  // ---------------------------------------------------------------- frames

  function onFrame(buf) {
    if (buf.byteLength < 4) return;
    const headerLen = new DataView(buf).getUint32(0, false);   // big-endian
    if (4 + headerLen > buf.byteLength) return;
    let header;
    try {
      header = JSON.parse(decoder.decode(new Uint8Array(buf, 4, headerLen)));
    } catch (e) {
      return;
    }
    // Flow control: the server keeps only a couple of unacknowledged frames per camera in
    // flight, so on a slow link the frames it skips are old ones, not the ones we see.
    send({ type: 'ack', camera: header.camera, seq: header.seq });
    const t = tiles.get(String(header.camera));
    if (!t) return;      // not (yet) in our camera list
    setSuite(t, header.suite, header.suite === 'noise');
    const frame = { blob: new Blob([new Uint8Array(buf, 4 + headerLen)], { type: 'image/jpeg' }), header };
    // Latest frame wins: while the <img> is still decoding, only the newest frame waits.
    if (t.loading) t.pending = frame;
    else startLoading(t, frame);
  }

  function startLoading(t, frame) {
    const url = URL.createObjectURL(frame.blob);
    t.loading = { url, header: frame.header };
    t.img.src = url;     // the old image stays on screen until this one has loaded
  }

  function frameShown(t) {
    if (!t.loading) return;
    const shownAt = clientNow();
    if (t.shownUrl) URL.revokeObjectURL(t.shownUrl);
    t.shownUrl = t.loading.url;
    const header = t.loading.header;
    t.loading = null;
    t.frames += 1;
    t.shown.push(performance.now());
    const capture = header.capture_ms;
    t.latencyMs = typeof capture === 'number' && clock.offset !== null
      ? Math.round(shownAt + clock.offset - capture) : null;
    t.root.dataset.frames = String(t.frames);
    t.root.dataset.latencyMs = t.latencyMs === null ? '' : String(t.latencyMs);
    if (performance.now() - t.lastText >= TEXT_EVERY_MS || t.frames === 1) renderTile(t);
    nextPending(t);
  }

  function frameFailed(t) {
    if (!t.loading) return;          // e.g. the src was cleared
    URL.revokeObjectURL(t.loading.url);
    t.loading = null;
    // Put the last good image back rather than a broken-image icon.
    if (t.shownUrl) t.img.src = t.shownUrl;
    nextPending(t);
  }

  function nextPending(t) {
    const next = t.pending;
    t.pending = null;
    if (next) startLoading(t, next);
  }

  // ---------------------------------------------------------------- WebSocket

  let ws = null;
  let wsOpenedAt = 0;
  let backoff = BACKOFF_MIN_MS;
  let reconnectTimer = null;
  let countdownTimer = null;
  let pingTimer = null;
  let pingId = 0;
  let pingsSent = 0;
  const clock = { samples: [], offset: null };

  function setStatus(text, kind) {
    el.status.textContent = text;
    el.status.dataset.kind = kind;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    clearInterval(countdownTimer);
    const mine = epoch;
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const sock = new WebSocket(`${scheme}${location.host}/ws`);
    sock.binaryType = 'arraybuffer';
    ws = sock;
    setStatus('connecting…', 'warn');
    sock.addEventListener('open', () => {
      if (ws !== sock) return;
      wsOpenedAt = performance.now();
      setStatus('connected', 'ok');
      pingsSent = 0;
      sendPing();
      subscribe();
    });
    sock.addEventListener('message', (ev) => {
      if (ws !== sock) return;
      if (typeof ev.data === 'string') onText(ev.data);
      else onFrame(ev.data);
    });
    sock.addEventListener('close', (ev) => {
      if (ws !== sock || mine !== epoch) return;
      ws = null;
      clearTimeout(pingTimer);
      if (ev.code === 4401) {
        showLogin(ev.reason || 'your session has ended; please log in again');
        return;
      }
      if (wsOpenedAt && performance.now() - wsOpenedAt >= GOOD_CONNECTION_MS) backoff = BACKOFF_MIN_MS;
      wsOpenedAt = 0;
      scheduleReconnect(closeReason(ev));
    });
    // 'error' is always followed by 'close', which does the work.
  }

  function closeReason(ev) {
    switch (ev.code) {
      case 4403: return 'refused by the server';
      case 4429: return 'too many streams';
      case 1001: return 'server going away';
      default: return 'connection lost';
    }
  }

  function scheduleReconnect(reason) {
    const delay = backoff;
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    const due = performance.now() + delay;
    const show = () => {
      const left = Math.max(0, due - performance.now()) / 1000;
      setStatus(`${reason}; reconnecting in ${left < 1 ? left.toFixed(1) : Math.ceil(left)} s…`, 'bad');
    };
    show();
    countdownTimer = setInterval(show, 500);
    reconnectTimer = setTimeout(connect, delay);
  }

  function disconnect() {
    clearTimeout(reconnectTimer);
    clearInterval(countdownTimer);
    clearTimeout(pingTimer);
    if (ws) {
      const sock = ws;
      ws = null;     // its close event is now ignored: no reconnect
      sock.close(1000, 'logged out');
    }
    backoff = BACKOFF_MIN_MS;
    clock.samples = [];
    clock.offset = null;
    setStatus('', '');
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  // Sent on every (re)connect and whenever the camera list changes. Before the first camera
  // list arrives there is nothing to ask for; updateCameras() calls this again then.
  function subscribe() {
    if (!cameraNames || !ws || ws.readyState !== WebSocket.OPEN) return;
    for (const t of tiles.values()) t.message.hidden = true;   // old server errors are moot now
    send({ type: 'subscribe', cameras: cameraNames });
  }

  function sendPing() {
    clearTimeout(pingTimer);
    pingId += 1;
    pingsSent += 1;
    send({ type: 'ping', id: pingId, client_ms: clientNow() });
    pingTimer = setTimeout(sendPing, pingsSent < QUICK_PINGS ? QUICK_PING_MS : PING_MS);
  }

  function onText(text) {
    let msg;
    try { msg = JSON.parse(text); } catch (e) { return; }
    if (msg.type === 'pong') onPong(msg);
    else if (msg.type === 'error') onServerError(msg);
    // 'hello' needs nothing: the viewer name is already known from the session.
  }

  // offset = server_ms - (sent + received) / 2, taken from the pong with the smallest round
  // trip among the last few: the shortest trip bounds the error of the midpoint guess best.
  function onPong(msg) {
    const recv = clientNow();
    const sent = Number(msg.client_ms);
    const server = Number(msg.server_ms);
    if (!Number.isFinite(sent) || !Number.isFinite(server) || recv < sent) return;
    clock.samples.push({ rtt: recv - sent, offset: server - (sent + recv) / 2 });
    if (clock.samples.length > OFFSET_SAMPLES) clock.samples.shift();
    clock.offset = clock.samples.reduce((best, s) => (s.rtt < best.rtt ? s : best)).offset;
  }

  function onServerError(msg) {
    const reason = String(msg.reason || 'error');
    const t = msg.camera != null ? tiles.get(String(msg.camera)) : null;
    if (t) {
      t.message.textContent = reason;
      t.message.hidden = false;
    } else {
      setStatus(`server: ${reason}`, 'bad');
    }
  }

  // ---------------------------------------------------------------- large view, full screen

  function openLarge(t) {
    closeLarge();
    large = t;
    t.root.classList.add('large');
    document.body.classList.add('has-large');
    el.backdrop.hidden = false;
    t.root.focus();
  }

  function closeLarge() {
    if (!large) return;
    const t = large;
    large = null;
    if (fullscreenElement() === t.root) exitFullscreen();
    t.root.classList.remove('large');
    document.body.classList.remove('has-large');
    el.backdrop.hidden = true;
  }

  el.backdrop.addEventListener('click', closeLarge);
  document.addEventListener('keydown', (ev) => {
    // While full screen the browser takes Esc to leave full screen first.
    if (ev.key === 'Escape' && large) closeLarge();
  });

  // iPad Safari only knows the prefixed API; iPhone Safari has none for non-video elements,
  // so there the buttons are hidden.
  const fullscreenElement = () => document.fullscreenElement || document.webkitFullscreenElement || null;
  const fullscreenEnabled = !!(document.fullscreenEnabled || document.webkitFullscreenEnabled);

  function exitFullscreen() {
    if (document.exitFullscreen) document.exitFullscreen().catch(() => {});
    else if (document.webkitExitFullscreen) document.webkitExitFullscreen();
  }

  function toggleFullscreen(node) {
    if (fullscreenElement() === node) { exitFullscreen(); return; }
    if (node.requestFullscreen) node.requestFullscreen().catch(() => {});
    else if (node.webkitRequestFullscreen) node.webkitRequestFullscreen();
  }

  function fullscreenChanged() {
    const fs = fullscreenElement();
    for (const b of document.querySelectorAll('.fs-button')) {
      const owner = b.closest('.tile') || el.wallView;
      b.textContent = fs === owner ? 'Exit full screen' : 'Full screen';
    }
  }

  document.addEventListener('fullscreenchange', fullscreenChanged);
  document.addEventListener('webkitfullscreenchange', fullscreenChanged);
  el.wallFullscreen.addEventListener('click', () => toggleFullscreen(el.wallView));
  if (!fullscreenEnabled) document.documentElement.classList.add('no-fullscreen');

  // ---------------------------------------------------------------- start

  async function start() {
    let r;
    try {
      r = await api('GET', '/api/session');
    } catch (e) {
      showLogin('cannot reach the server');
      return;
    }
    if (r.status === 200) showWall(r.data);
    else if (r.status === 401) showLogin('');
    else showLogin(errorText(r, 'the server answered with an error'));
  }

  start();
})();
