// Engram web console: spaces over REST (/v1/spaces), a live view of one space over the WebSocket
// door (/v1/stream, through engram.js), a demo generator and recall.

import { connect, EngramError } from './engram.js';
import { TimeChart, compact } from './chart.js';

const API = `${location.origin}/v1`;
const SAMPLE_MS = 250;
const CHART_WINDOW_MS = 30_000;
const SPACE_POLL_MS = 500;
const RECENT_KEPT = 6;

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat('en-US');

const ui = {
  spaces: [],
  current: null, // {id, dimension, metric}
  stream: null,
  charts: null,
  timers: [],
  gen: null,
  recent: [],
  view: null, // live numbers of the current space
};

// ---- token ----
// Kept in sessionStorage (gone with the tab), sent as Authorization: Bearer on REST calls and in the
// stream's init message; never put in a URL.

const TOKEN_KEY = 'engram.token';
const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

function setupToken() {
  const input = $('token-input');
  if (!input) return;
  input.value = token();
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
}

// ---- REST ----

async function api(method, path, body) {
  const headers = body ? { 'content-type': 'application/json' } : {};
  if (token()) headers.authorization = `Bearer ${token()}`;
  const res = await fetch(`${API}${path}`, {
    method,
    headers,
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status === 401) {
    $('token-input')?.focus();
    $('token-form')?.classList.add('token-needed');
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = null;
  }
  if (!res.ok) {
    const e = json?.error;
    const msg = e ? `${e.code}: ${e.message}${e.field ? ` (${e.field})` : ''}` : `HTTP ${res.status} ${text.slice(0, 200)}`;
    throw new Error(msg);
  }
  return json ?? {};
}

// ---- toasts ----

function toast(message, kind = 'error') {
  const el = document.createElement('div');
  el.className = `toast toast-${kind}`;
  el.textContent = message;
  $('toasts').append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 7000 : 3500);
}

// ---- spaces ----

async function refreshSpaces() {
  try {
    const { spaces = [] } = await api('GET', '/spaces');
    spaces.sort((a, b) => a.memorySpaceId.localeCompare(b.memorySpaceId));
    setServerState(true);
    if (JSON.stringify(spaces) === JSON.stringify(ui.spaces)) return; // keep the DOM under the pointer
    ui.spaces = spaces;
    renderSpaces();
  } catch (e) {
    setServerState(false, e.message);
  }
}

function setServerState(ok, why) {
  const el = $('server-state');
  el.textContent = ok ? 'online' : 'unreachable';
  el.className = `pill ${ok ? 'pill-ok' : 'pill-bad'}`;
  el.title = why ?? '';
}

function renderSpaces() {
  const list = $('space-list');
  list.replaceChildren();
  $('space-count').textContent = ui.spaces.length ? `(${ui.spaces.length})` : '';
  $('space-list-empty').hidden = ui.spaces.length > 0;
  for (const s of ui.spaces) {
    const li = document.createElement('li');
    li.className = `space-item${ui.current?.id === s.memorySpaceId ? ' active' : ''}`;
    li.dataset.space = s.memorySpaceId;
    const open = document.createElement('button');
    open.className = 'space-open';
    open.dataset.testid = `open-${s.memorySpaceId}`;
    open.innerHTML = `<span class="space-name"></span><span class="space-sub muted"></span>`;
    open.querySelector('.space-name').textContent = s.memorySpaceId;
    open.querySelector('.space-sub').textContent =
      `${s.dimension}-d · ${metricName(s.metric)} · ${fmt.format(num(s.episodeCount))} episodes`;
    open.addEventListener('click', () => openSpace(s));
    const del = document.createElement('button');
    del.className = 'icon danger';
    del.title = `Delete ${s.memorySpaceId}`;
    del.dataset.testid = `delete-${s.memorySpaceId}`;
    del.innerHTML = '<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><path d="M2 4h10M5.5 4V2.5h3V4M3.5 4l.7 8h5.6l.7-8" fill="none" stroke="currentColor" stroke-width="1.4"/></svg>';
    del.addEventListener('click', () => deleteSpace(s.memorySpaceId));
    li.append(open, del);
    list.append(li);
  }
}

async function createSpace(ev) {
  ev.preventDefault();
  const id = $('create-id').value.trim();
  const dimension = Number($('create-dim').value);
  const metric = $('create-metric').value;
  try {
    const space = await api('POST', '/spaces', { memorySpaceId: id, dimension, metric });
    toast(`Created space ${space.memorySpaceId ?? id}`, 'ok');
    $('create-id').value = '';
    await refreshSpaces();
    await openSpace(ui.spaces.find((s) => s.memorySpaceId === id) ?? { memorySpaceId: id, dimension, metric });
  } catch (e) {
    toast(`Create failed: ${e.message}`);
  }
}

async function deleteSpace(id) {
  if (!confirm(`Delete space "${id}" and all its episodes?`)) return;
  try {
    if (ui.current?.id === id) await closeSpace();
    await api('DELETE', `/spaces/${encodeURIComponent(id)}`);
    toast(`Deleted space ${id}`, 'ok');
  } catch (e) {
    toast(`Delete failed: ${e.message}`);
  }
  await refreshSpaces();
}

// ---- live view ----

async function openSpace(space) {
  await closeSpace();
  const id = space.memorySpaceId;
  ui.current = { id, dimension: space.dimension, metric: space.metric };
  ui.recent = [];
  ui.view = {
    accepted: 0, indexed: 0, episodes: num(space.episodeCount), indexedCount: num(space.indexedCount),
    rate: 0, pressure: 0, reportedPressure: null, queueCapacity: 0, lastCount: null, lastCountAt: 0,
    state: 'STREAM_STATE_UNSPECIFIED',
  };
  $('no-space').hidden = true;
  $('space-view').hidden = false;
  $('space-title').textContent = id;
  $('space-meta').textContent = `${space.dimension}-d · ${metricName(space.metric)}`;
  $('session-id').textContent = '';
  setStreamPill('connecting…', 'pill-muted');
  renderSpaces();
  renderRecent();
  clearHits();
  if (!ui.charts) createCharts();
  for (const c of Object.values(ui.charts)) c.clear();
  updateTiles();

  let stream;
  try {
    stream = await connect(location.origin, id, { bufferSize: 20_000, maxBatchSize: 250, token: token() });
  } catch (e) {
    if (ui.current?.id === id) setStreamPill(`failed: ${e.message}`, 'pill-bad');
    return;
  }
  if (ui.current?.id !== id) {
    stream.close({ drain: false });
    return;
  }
  ui.stream = stream;
  wireStream(stream);
  ui.timers.push(setInterval(sample, SAMPLE_MS));
  ui.timers.push(setInterval(pollSpace, SPACE_POLL_MS));
  pollSpace();
}

async function closeSpace() {
  stopGenerator();
  for (const t of ui.timers) clearInterval(t);
  ui.timers = [];
  const s = ui.stream;
  ui.stream = null;
  ui.current = null;
  if (s) s.close({ drain: false }).catch(() => {});
  $('space-view').hidden = true;
  $('no-space').hidden = false;
}

function wireStream(stream) {
  const v = ui.view;
  const caps = stream.capabilities ?? {};
  v.queueCapacity = num(caps.queueCapacity);
  $('session-id').textContent = `session ${stream.sessionId.slice(0, 8)}`;
  $('session-id').title = `WebSocket session ${stream.sessionId}`;
  setStreamPill('active', 'pill-ok');
  stream.addEventListener('connected', (e) => {
    v.queueCapacity = num(e.detail.capabilities?.queueCapacity);
    $('session-id').textContent = `session ${e.detail.sessionId.slice(0, 8)}`;
    setStreamPill(e.detail.resumed ? 'resumed' : 'active', 'pill-ok');
  });
  stream.addEventListener('ack', (e) => {
    v.accepted = Math.max(v.accepted, e.detail.acceptedThrough);
    v.indexed = Math.max(v.indexed, e.detail.indexedThrough);
  });
  stream.addEventListener('status', (e) => {
    const d = e.detail;
    v.state = d.state;
    v.reportedPressure = d.pressure;
    if (d.queueCapacity) v.queueCapacity = d.queueCapacity;
    const label = d.state.replace('STREAM_STATE_', '').toLowerCase();
    setStreamPill(label, d.state === 'STREAM_STATE_ACTIVE' ? 'pill-ok' : d.state === 'STREAM_STATE_BACKPRESSURE' ? 'pill-warn' : 'pill-bad');
  });
  stream.addEventListener('resend', (e) => {
    if (e.detail.reason === 'RESEND_REASON_OVERLOADED') setStreamPill(`overloaded · retry ${e.detail.retryAfterMs} ms`, 'pill-bad');
  });
  stream.addEventListener('rejected', (e) => toast(`Observation ${e.detail.sequenceNumber} rejected: ${e.detail.codeName} ${e.detail.message}`));
  stream.addEventListener('disconnected', (e) => setStreamPill(`reconnecting (${e.detail.attempt})…`, 'pill-warn'));
  stream.addEventListener('failed', (e) => {
    setStreamPill('failed', 'pill-bad');
    toast(e.detail.error.message);
  });
}

function setStreamPill(text, cls) {
  const el = $('stream-state');
  el.textContent = text;
  el.className = `pill ${cls}`;
}

async function pollSpace() {
  const cur = ui.current;
  if (!cur) return;
  try {
    const s = await api('GET', `/spaces/${encodeURIComponent(cur.id)}`);
    if (ui.current !== cur) return;
    const v = ui.view;
    const t = performance.now();
    v.episodes = num(s.episodeCount);
    v.indexedCount = num(s.indexedCount);
    if (v.lastCount !== null && t > v.lastCountAt) {
      const inst = ((v.episodes - v.lastCount) * 1000) / (t - v.lastCountAt);
      v.rate = v.rate * 0.4 + Math.max(0, inst) * 0.6;
    }
    v.lastCount = v.episodes;
    v.lastCountAt = t;
    const listed = document.querySelector(`.space-item[data-space="${CSS.escape(cur.id)}"] .space-sub`);
    if (listed) listed.textContent = `${s.dimension}-d · ${metricName(s.metric)} · ${fmt.format(v.episodes)} episodes`;
  } catch (e) {
    if (ui.current === cur && /NOT_FOUND/.test(e.message)) {
      toast(`Space ${cur.id} no longer exists`);
      closeSpace();
      refreshSpaces();
    }
  }
}

function sample() {
  const v = ui.view;
  if (!v) return;
  const t = performance.now();
  // Queue pressure: the server reports it in status frames when the state changes; in between,
  // estimate it from this space's backlog (stored, not yet indexed) over the queue capacity.
  const backlog = Math.max(v.episodes - v.indexedCount, v.accepted - v.indexed, 0);
  const estimate = v.queueCapacity ? backlog / v.queueCapacity : 0;
  const reported = v.reportedPressure;
  v.reportedPressure = null;
  v.pressure = reported ?? estimate;
  ui.charts.rate.push(t, { rate: v.rate });
  ui.charts.watermarks.push(t, { accepted: v.accepted, indexed: v.indexed });
  ui.charts.pressure.push(t, { pressure: v.pressure * 100, reported: reported !== null });
  updateTiles();
  updateGenStats();
}

function updateTiles() {
  const v = ui.view;
  $('t-rate').textContent = fmt.format(Math.round(v.rate));
  $('t-episodes').textContent = fmt.format(v.episodes);
  $('t-indexed-count').textContent = `${fmt.format(v.indexedCount)} indexed`;
  $('t-accepted').textContent = fmt.format(v.accepted);
  $('t-indexed').textContent = fmt.format(v.indexed);
  $('t-lag').textContent = fmt.format(Math.max(0, v.accepted - v.indexed));
  const p = Math.round(v.pressure * 100);
  const pt = $('t-pressure');
  pt.textContent = `${p} %`;
  pt.className = `tile-value ${p >= 90 ? 'bad' : p >= 80 ? 'warn' : ''}`;
  $('t-queue').textContent = v.queueCapacity ? `capacity ${compact(v.queueCapacity)}` : 'queue —';
}

function createCharts() {
  ui.charts = {
    rate: new TimeChart($('chart-rate'), {
      windowMs: CHART_WINDOW_MS,
      series: [{ key: 'rate', color: '#4f46e5', fill: true }],
      yMinTop: 10,
    }),
    watermarks: new TimeChart($('chart-watermarks'), {
      windowMs: CHART_WINDOW_MS,
      series: [
        { key: 'accepted', color: '#0ea5e9' },
        { key: 'indexed', color: '#16a34a' },
      ],
      band: { low: 'indexed', high: 'accepted', color: 'rgba(245, 158, 11, 0.35)' },
      yMinTop: 10,
    }),
    pressure: new TimeChart($('chart-pressure'), {
      windowMs: CHART_WINDOW_MS,
      series: [{ key: 'pressure', color: '#7c3aed', fill: true, markers: 'reported' }],
      yMax: 100,
      yFormat: (v) => `${Math.round(v)}%`,
      thresholds: [
        { value: 80, color: '#d97706', label: '80 % backpressure: slow down', below: true },
        { value: 90, color: '#dc2626', label: '90 % overloaded: resend later' },
      ],
    }),
  };
}

// ---- demo generator ----

function startGenerator() {
  const stream = ui.stream;
  const cur = ui.current;
  if (!stream || !cur) return;
  const dim = cur.dimension;
  const rate = Math.max(1, Number($('gen-rate').value) || 1000);
  const count = Math.max(0, Math.floor(Number($('gen-count').value) || 0));
  const clusters = Math.max(1, Math.min(64, Number($('gen-clusters').value) || 8));
  const noise = Math.max(0, Number($('gen-noise').value) || 0);
  const rnd = mulberry32(hash(`${cur.id}:${clusters}`));
  const centers = Array.from({ length: clusters }, () => unit(Array.from({ length: dim }, () => gauss(rnd))));
  const g = {
    stream, rate, count, clusters, noise, centers, rnd: mulberry32((Date.now() >>> 0) ^ 0x9e3779b9),
    runId: Date.now().toString(36), produced: 0, startedAt: performance.now(), firstTicket: null, lastTicket: null, waiting: false, timer: null,
  };
  ui.gen = g;
  $('gen-start').disabled = true;
  $('gen-stop').disabled = false;
  g.timer = setInterval(() => generate(g), 20);
  generate(g);
}

function generate(g) {
  if (ui.gen !== g || g.waiting) return;
  const due = Math.floor(((performance.now() - g.startedAt) * g.rate) / 1000);
  let n = due - g.produced;
  if (g.count) n = Math.min(n, g.count - g.produced);
  n = Math.min(n, g.stream.room);
  try {
    for (let i = 0; i < n; i++) {
      const c = Math.floor(g.rnd() * g.clusters);
      const center = g.centers[c];
      const vec = new Array(center.length);
      for (let d = 0; d < center.length; d++) vec[d] = Math.round((center[d] + g.noise * gauss(g.rnd)) * 1e4) / 1e4;
      const seq = g.produced + 1;
      const episode = {
        id: `demo-${g.runId}-${seq}`,
        embedding: vec,
        content: `demo #${seq} · cluster ${c}`,
        observedAt: new Date().toISOString(),
        metadata: { cluster: `c${c}`, source: 'console-demo' },
      };
      const ticket = g.stream.observe(episode);
      if (g.firstTicket === null) g.firstTicket = ticket;
      g.lastTicket = ticket;
      g.produced++;
      if (g.produced % 97 === 1 || (g.count && g.produced === g.count)) {
        rememberRecent({ ...episode, ticket });
      }
    }
  } catch (e) {
    toast(`Generator stopped: ${e.message}`);
    stopGenerator();
    return;
  }
  if (g.count && g.produced >= g.count) {
    clearInterval(g.timer);
    g.timer = null;
    g.stream.flush().then(() => {
      if (ui.gen === g) finishGenerator(g);
    }, () => {});
  } else if (g.stream.room === 0) {
    // The client buffer is full: the server is pushing back. Wait for acks instead of polling.
    g.waiting = true;
    g.stream.waitForRoom(Math.min(1000, g.stream.options.bufferSize)).then(() => {
      g.waiting = false;
      g.startedAt = performance.now() - (g.produced * 1000) / g.rate; // do not burst to catch up
    }, () => {});
  }
}

function finishGenerator(g) {
  g.done = true;
  $('gen-start').disabled = false;
  $('gen-stop').disabled = true;
  updateGenStats();
}

function stopGenerator() {
  const g = ui.gen;
  if (!g) return;
  clearInterval(g.timer);
  ui.gen = null;
  $('gen-start').disabled = !ui.stream;
  $('gen-stop').disabled = true;
  updateGenStats(g);
}

function updateGenStats(stopped) {
  const g = ui.gen ?? stopped;
  const el = $('gen-stats');
  const bar = $('gen-bar');
  if (!g) {
    el.textContent = 'idle';
    el.dataset.acked = '0';
    bar.style.width = '0';
    return;
  }
  const s = g.stream;
  const acked = g.firstTicket === null ? 0 : Math.max(0, Math.min(s.ackedTicket, g.lastTicket) + 1 - g.firstTicket);
  el.dataset.acked = String(acked);
  el.dataset.done = g.done ? 'true' : 'false';
  const parts = [`sent ${fmt.format(g.produced)}`, `acked ${fmt.format(acked)}`, `buffered ${fmt.format(s.buffered)}`];
  if (s.stats.resent) parts.push(`resent ${fmt.format(s.stats.resent)}`);
  if (s.stats.rejected) parts.push(`rejected ${fmt.format(s.stats.rejected)}`);
  if (g.done) parts.push('done');
  else if (g.waiting) parts.push('waiting for the server…');
  el.textContent = parts.join(' · ');
  bar.style.width = g.count ? `${Math.min(100, (acked * 100) / g.count)}%` : '100%';
  bar.classList.toggle('indeterminate', !g.count && !stopped);
}

function rememberRecent(e) {
  ui.recent.unshift(e);
  ui.recent.length = Math.min(ui.recent.length, RECENT_KEPT);
  renderRecent();
}

function renderRecent() {
  const list = $('recent');
  list.replaceChildren();
  if (!ui.recent.length) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'Start the generator to see observations here.';
    list.append(li);
    return;
  }
  for (const e of ui.recent) {
    const li = document.createElement('li');
    li.dataset.episode = e.id;
    const text = document.createElement('div');
    text.className = 'recent-text';
    text.innerHTML = '<span class="mono small id"></span><span class="content"></span>';
    text.querySelector('.id').textContent = shortId(e.id);
    text.querySelector('.id').title = e.id;
    text.querySelector('.content').textContent = e.content;
    const b = document.createElement('button');
    b.className = 'small';
    b.textContent = 'More like this';
    b.dataset.testid = 'more-like-this';
    b.addEventListener('click', () => recall(e.embedding, e.id));
    li.append(text, b);
    list.append(li);
  }
}

// ---- recall ----

async function recall(embedding, sourceId) {
  const stream = ui.stream;
  if (!stream) return;
  const k = Math.max(1, Math.min(100, Number($('recall-k').value) || 10));
  const info = $('recall-info');
  info.textContent = 'recalling…';
  const started = performance.now();
  try {
    const res = await stream.recall({ embedding, k, includeEmbeddings: true });
    const ms = performance.now() - started;
    renderHits(res.memories, sourceId);
    const top = res.memories[0]?.episode?.id;
    const topNote = sourceId ? (top === sourceId ? ' · top-1 is the source episode' : ' · top-1 is another episode') : '';
    info.textContent = `${res.memories.length} hits in ${ms.toFixed(1)} ms (server ${(num(res.tookMicros) / 1000).toFixed(2)} ms)${topNote}`;
    info.dataset.top = top ?? '';
    info.dataset.source = sourceId ?? '';
  } catch (e) {
    info.textContent = '';
    toast(`Recall failed: ${e instanceof EngramError ? `${e.codeName}: ` : ''}${e.message}`);
  }
}

function recallFromText(ev) {
  ev.preventDefault();
  const raw = $('recall-vector').value.trim();
  const nums = raw.replace(/[[\]]/g, ' ').split(/[\s,;]+/).filter(Boolean).map(Number);
  if (!nums.length || nums.some((x) => !Number.isFinite(x))) {
    toast('The vector must be numbers, e.g. [0.1, 0.2, …]');
    return;
  }
  if (ui.current && nums.length !== ui.current.dimension) {
    toast(`The vector has ${nums.length} numbers; this space's dimension is ${ui.current.dimension}`);
    return;
  }
  recall(nums, null);
}

function clearHits() {
  $('hits-body').replaceChildren();
  $('hits-empty').hidden = false;
  $('recall-info').textContent = '';
}

function renderHits(memories, sourceId) {
  const body = $('hits-body');
  body.replaceChildren();
  $('hits-empty').hidden = memories.length > 0;
  if (!memories.length) $('hits-empty').textContent = 'No hits.';
  const best = Math.max(...memories.map((m) => m.score ?? 0), 1e-9);
  memories.forEach((m, i) => {
    const e = m.episode ?? {};
    const tr = document.createElement('tr');
    tr.dataset.episode = e.id ?? '';
    if (sourceId && e.id === sourceId) tr.className = 'source';
    const score = m.score ?? 0;
    tr.innerHTML = `<td class="rank"></td><td class="score"><span class="scorebar"><i></i></span><span class="mono"></span></td>
      <td class="mono small ep"></td><td class="content"><div class="text"></div><div class="meta"></div></td><td></td>`;
    tr.querySelector('.rank').textContent = String(i + 1);
    tr.querySelector('.scorebar i').style.width = `${Math.max(2, Math.min(100, (score / best) * 100))}%`;
    tr.querySelector('.score .mono').textContent = score.toFixed(4);
    tr.querySelector('.ep').textContent = shortId(e.id ?? '');
    tr.querySelector('.ep').title = e.id ?? '';
    tr.querySelector('.content .text').textContent = e.content ?? '';
    tr.querySelector('.content .text').title = e.content ?? '';
    const meta = tr.querySelector('.meta');
    for (const [k, v] of Object.entries(e.metadata ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      const chip = document.createElement('span');
      chip.className = 'chip';
      chip.textContent = `${k}=${v}`;
      meta.append(chip);
    }
    if (e.embedding?.length) {
      const b = document.createElement('button');
      b.className = 'small';
      b.textContent = 'More like this';
      b.addEventListener('click', () => recall(e.embedding, e.id));
      tr.lastElementChild.append(b);
    }
    body.append(tr);
  });
}

// ---- helpers ----

function num(v) {
  return v === undefined || v === null || v === '' ? 0 : Number(v);
}

function metricName(m) {
  return { METRIC_COSINE: 'cosine', METRIC_DOT: 'dot', METRIC_L2: 'L2' }[m] ?? String(m ?? '?').toLowerCase();
}

function shortId(id) {
  return id.length > 22 ? `${id.slice(0, 8)}…${id.slice(-10)}` : id;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gauss(rnd) {
  const u = 1 - rnd();
  const v = rnd();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function unit(v) {
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
}

function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

// ---- start ----

$('server-addr').textContent = location.host;
setupToken();
$('create-form').addEventListener('submit', createSpace);
$('gen-start').addEventListener('click', startGenerator);
$('gen-stop').addEventListener('click', stopGenerator);
$('recall-form').addEventListener('submit', recallFromText);
renderRecent();
refreshSpaces();
setInterval(refreshSpaces, 3000);
window.engramConsole = ui; // for debugging and the browser test
