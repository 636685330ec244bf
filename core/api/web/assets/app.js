// netspot dashboard: reads the API (/api/v1), follows its live stream and
// draws one small chart per statistic. Plain JavaScript, no dependency, no
// build step: the server embeds this file as it is.
'use strict';

const MAX_POINTS = 300;   // points per chart
const MAX_ALARMS = 500;   // alarms kept in the page
const STATUS_EVERY = 5000; // ms between status refreshes (counters, uptime)
const RETRY_AFTER = 2000;  // ms before the stream reconnects
const SVG = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem('netspot-token') || '',
  status: null,
  run: 0,            // run whose records the charts show
  lastSeq: 0,        // newest record drawn
  lastId: '',        // stream position, sent back when reconnecting
  series: new Map(), // statistic -> {points: [{v, up, down, alarm}], learning}
  info: new Map(),   // statistic -> {unit, help}
  alarms: new Map(), // alarm id -> alarm
  activeIds: '',     // active alarm ids of the last record, to notice clears
  resyncing: null,   // records received while the history reloads
  drawPending: false,
  stream: null,      // AbortController of the live stream
};

class Unauthorized extends Error {}

// ---- API ----

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers);
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  const res = await fetch('/api/v1/' + path, Object.assign({}, opts, { headers, cache: 'no-store' }));
  if (res.status === 401) {
    askToken();
    throw new Unauthorized('a token is required');
  }
  return res;
}

async function apiJSON(path, opts) {
  const res = await api(path, opts);
  const body = await res.json().catch(() => ({ error: res.status + ' ' + res.statusText }));
  if (!res.ok) {
    const err = new Error(body.error || res.statusText);
    err.body = body;
    throw err;
  }
  return body;
}

// ---- formatting ----

function num(v) {
  if (v === null || v === undefined || !isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e9) return (v / 1e9).toFixed(2) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  if (a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

function withUnit(v, name) {
  const info = state.info.get(name);
  const unit = info && info.unit ? ' ' + info.unit : '';
  return num(v) + (num(v) === '–' ? '' : unit);
}

function duration(s) {
  if (!isFinite(s) || s < 0) return '–';
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

// seconds of a Go duration string ("1m30s", "500ms").
function seconds(text) {
  const units = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, 'µs': 1e-6, ns: 1e-9 };
  let total = 0;
  for (const [, n, u] of String(text).matchAll(/([\d.]+)(h|ms|m|s|us|µs|ns)/g)) total += Number(n) * units[u];
  return total;
}

function when(t) {
  if (!t) return '–';
  const d = new Date(t);
  return isNaN(d) ? '–' : d.toLocaleString();
}

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- messages ----

function showError(err) {
  if (err instanceof Unauthorized) return;
  const p = $('error');
  p.textContent = err.message || String(err);
  p.hidden = false;
}

function clearError() { $('error').hidden = true; }

function askToken() {
  const d = $('login');
  if (!d.open) d.showModal();
}

// ---- status ----

const STATE_TEXT = {
  stopped: 'stopped', starting: 'starting', learning: 'learning', watching: 'watching',
  stopping: 'stopping', failed: 'failed',
};

function showStatus(st) {
  const before = state.status;
  state.status = st;
  // A run that ends leaves its active alarms interrupted: reload them.
  if (before && (before.state !== st.state || before.running !== st.running)) refreshAlarmsSoon();
  const badge = $('state');
  badge.textContent = STATE_TEXT[st.state] || st.state;
  badge.dataset.state = st.state;
  const run = st.run;
  const conf = run && st.running ? run.config : st.config;
  $('device').textContent = conf.device;
  $('period').textContent = conf.period;
  $('uptime-label').textContent = run && !st.running ? 'Ran for' : 'Running for';
  $('uptime').textContent = run ? duration(run.uptime_seconds) : '–';
  $('windows').textContent = run ? num(run.windows) : '–';
  $('packets').textContent = run ? num(run.packets) : '–';
  $('dropped').textContent = run ? num(run.dropped) + (run.malformed ? ` (+${num(run.malformed)} malformed)` : '') : '–';
  $('last-window').textContent = run && run.last_window_end ? when(run.last_window_end) : '–';

  const left = run && st.running ? run.learning_left : null;
  $('learning').hidden = !(left > 0);
  if (left > 0) {
    const total = Math.max(run.learning_total, left);
    $('learning-bar').value = (total - left) / total;
    $('learning-text').textContent =
      `learning what is normal: ${left} windows left (about ${duration(left * seconds(conf.period))})`;
  }

  const notes = [];
  if (run && !st.running && run.ended) {
    const how = { stopped: 'stopped', finished: 'finished: the capture file ended', failed: 'failed' }[run.end] || run.end;
    notes.push(`Run ${run.id} ${how} at ${when(run.ended)}.`);
  }
  if (st.restart_required) notes.push('The configuration changed: restart to apply it.');
  if (st.sinks) {
    for (const s of st.sinks) {
      if (s.dropped_records || s.failed) notes.push(`Sink ${s.name}: ${s.failed} failed, ${s.dropped_records} records dropped.`);
    }
  }
  $('run-note').textContent = notes.join(' ');

  if (st.state === 'failed') showError(new Error(run.error));
  else if (run && st.running && run.capture_error) showError(new Error('capture: ' + run.capture_error));
  $('start').disabled = st.running;
  $('stop').disabled = !st.running || st.state === 'stopping';

  if (run && st.running && run.id !== state.run) startRun(run.id);
}

// startRun clears the charts for the records of a new run.
function startRun(id) {
  state.run = id;
  state.series.clear();
  scheduleDraw();
}

async function refreshStatus() {
  try {
    showStatus(await apiJSON('status'));
  } catch (err) {
    if (!(err instanceof Unauthorized)) setConn('offline');
  }
}

// ---- records and charts ----

function addRecord(r) {
  if (state.resyncing) {
    state.resyncing.push(r);
    return;
  }
  if (r.seq <= state.lastSeq) return;
  if (r.run !== state.run) startRun(r.run);
  state.lastSeq = r.seq;
  for (const [name, s] of Object.entries(r.stats)) {
    let se = state.series.get(name);
    if (!se) {
      se = { points: [], learning: false };
      state.series.set(name, se);
    }
    se.points.push({ v: s.value, up: s.up, down: s.down, alarm: s.alarm });
    if (se.points.length > MAX_POINTS) se.points.shift();
    se.learning = !!s.learning;
  }
  const ids = Object.values(r.stats).map((s) => s.alarm_id).filter(Boolean).sort().join(',');
  if (ids !== state.activeIds) {
    state.activeIds = ids;
    refreshAlarmsSoon();
  }
  scheduleDraw();
}

function scheduleDraw() {
  if (state.drawPending) return;
  state.drawPending = true;
  requestAnimationFrame(drawCharts);
}

function drawCharts() {
  state.drawPending = false;
  const box = $('charts');
  $('no-charts').hidden = state.series.size > 0;
  for (const chart of [...box.children]) {
    if (!state.series.has(chart.dataset.stat)) chart.remove();
  }
  for (const [name, se] of state.series) {
    let chart = box.querySelector(`.chart[data-stat="${CSS.escape(name)}"]`);
    if (!chart) {
      chart = makeChart(name);
      box.append(chart);
    }
    drawChart(chart, name, se);
  }
}

function makeChart(name) {
  const chart = el('div', { class: 'chart', 'data-stat': name });
  const info = state.info.get(name);
  if (info) chart.title = info.help;
  const head = el('div', { class: 'chart-head' });
  head.append(el('span', { class: 'name' }, name), el('span', { class: 'value' }, '–'));
  const svg = document.createElementNS(SVG, 'svg');
  for (const cls of ['up', 'down', 'line', 'dot']) {
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('class', cls);
    svg.append(p);
  }
  chart.append(head, svg, el('div', { class: 'chart-foot' }));
  return chart;
}

function drawChart(chart, name, se) {
  const pts = se.points;
  const last = pts[pts.length - 1];
  const svg = chart.querySelector('svg');
  const w = Math.max(svg.getBoundingClientRect().width, 100), h = 80, pad = 4;
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);

  // The scale follows the values; a threshold widens it only when it is
  // near them, so that a far threshold does not flatten the line (the foot
  // names it).
  let lo = Infinity, hi = -Infinity;
  for (const p of pts) {
    if (p.v !== null && isFinite(p.v)) { lo = Math.min(lo, p.v); hi = Math.max(hi, p.v); }
  }
  if (lo === Infinity) { lo = 0; hi = 1; }
  const span = Math.max(hi - lo, Math.abs(hi) * 0.5, 1e-9);
  for (const p of pts) {
    for (const v of [p.up, p.down]) {
      if (v !== null && isFinite(v) && v <= hi + span && v >= lo - span) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
  }
  if (hi - lo < 1e-12) { const d = Math.abs(hi) * 0.1 || 1; lo -= d; hi += d; }
  const step = w / (MAX_POINTS - 1);
  const x = (i) => (w - (pts.length - 1 - i) * step).toFixed(1);
  const y = (v) => (h - pad - ((v - lo) / (hi - lo)) * (h - 2 * pad)).toFixed(1);
  const line = (key) => {
    let d = '', pen = false;
    pts.forEach((p, i) => {
      const v = p[key];
      if (v === null || !isFinite(v)) { pen = false; return; }
      d += (pen ? 'L' : 'M') + x(i) + ' ' + y(v);
      pen = true;
    });
    return d;
  };
  let dots = '';
  pts.forEach((p, i) => {
    if (p.alarm && p.v !== null && isFinite(p.v)) dots += `M${x(i)} ${y(p.v)}m-2.5 0a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0 -5 0`;
  });
  const paths = svg.children;
  paths[0].setAttribute('d', line('up'));
  paths[1].setAttribute('d', line('down'));
  paths[2].setAttribute('d', line('v'));
  paths[3].setAttribute('d', dots);

  chart.querySelector('.value').textContent = withUnit(last.v, name);
  chart.classList.toggle('in-alarm', !!last.alarm);
  const foot = chart.querySelector('.chart-foot');
  foot.textContent = '';
  if (se.learning) foot.append(el('span', { class: 'learning-tag' }, 'learning · '));
  const limits = [];
  if (last.up !== null && isFinite(last.up)) limits.push('alarm above ' + num(last.up));
  if (last.down !== null && isFinite(last.down)) limits.push('alarm below ' + num(last.down));
  foot.append(limits.join(' · ') || (se.learning ? 'no threshold yet' : 'not judged'));
}

// ---- alarms ----

let alarmsTimer = 0;

function refreshAlarmsSoon() {
  clearTimeout(alarmsTimer);
  alarmsTimer = setTimeout(() => loadAlarms().catch(showError), 200);
}

async function loadAlarms() {
  const list = await apiJSON('alarms?limit=' + MAX_ALARMS);
  for (const a of list.history) state.alarms.set(a.id, a);
  for (const a of list.active) state.alarms.set(a.id, a);
  drawAlarms();
}

function addAlarm(a) {
  state.alarms.set(a.id, a);
  drawAlarms();
}

function drawAlarms() {
  const all = [...state.alarms.values()].sort((a, b) => b.seq - a.seq);
  for (const a of all.slice(MAX_ALARMS)) state.alarms.delete(a.id);
  const shown = all.slice(0, MAX_ALARMS);

  const active = $('active-alarms');
  active.textContent = '';
  for (const a of shown.filter((a) => a.active)) {
    const li = el('li', { 'data-alarm-id': a.id, 'data-stat': a.stat });
    li.append(el('strong', {}, a.stat), ` ${a.side === 'up' ? 'above' : 'below'} normal: ${withUnit(a.value, a.stat)}` +
      ` (threshold ${num(a.threshold)}), peak ${num(a.peak)}, since ${when(a.start)}`);
    active.append(li);
  }
  $('no-active').hidden = active.children.length > 0;

  const body = $('alarm-history').tBodies[0];
  body.textContent = '';
  for (const a of shown) {
    const tr = el('tr', { 'data-alarm-id': a.id, 'data-stat': a.stat });
    if (a.active) tr.className = 'active';
    const status = a.active ? 'active' : a.cleared ? 'cleared ' + when(a.cleared) : 'run stopped';
    for (const text of [when(a.start), a.stat, a.side, withUnit(a.value, a.stat), num(a.threshold),
      num(a.probability), num(a.peak), String(a.windows), status]) {
      tr.append(el('td', {}, text));
    }
    body.append(tr);
  }
  $('no-history').hidden = shown.length > 0;
}

// ---- loading and the live stream ----

async function loadHistory() {
  state.resyncing = [];
  try {
    const [recs] = await Promise.all([apiJSON('records?limit=' + MAX_POINTS), loadAlarms()]);
    state.series.clear();
    state.lastSeq = 0;
    const pending = state.resyncing;
    state.resyncing = null;
    for (const r of recs.records) addRecord(r);
    for (const r of pending) addRecord(r);
    state.lastId = recs.last_id;
    scheduleDraw();
  } finally {
    state.resyncing = null;
  }
}

function setConn(c) {
  const e = $('conn');
  e.dataset.conn = c;
  e.textContent = { live: 'live', connecting: 'connecting', offline: 'offline: retrying' }[c];
}

async function follow() {
  if (state.stream) state.stream.abort();
  const ctl = new AbortController();
  state.stream = ctl;
  setConn('connecting');
  try {
    const headers = { Accept: 'text/event-stream' };
    if (state.lastId) headers['Last-Event-ID'] = state.lastId;
    const res = await api('stream', { headers, signal: ctl.signal });
    if (!res.ok) throw new Error('live stream: ' + res.status + ' ' + res.statusText);
    setConn('live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        handleEvent(buf.slice(0, end));
        buf = buf.slice(end + 2);
      }
    }
  } catch (err) {
    if (ctl.signal.aborted || err instanceof Unauthorized) return;
  }
  if (ctl.signal.aborted) return;
  setConn('offline');
  setTimeout(follow, RETRY_AFTER);
}

function handleEvent(text) {
  let id = '', name = 'message', data = '';
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') id = value;
    else if (field === 'event') name = value;
    else if (field === 'data') data += (data ? '\n' : '') + value;
  }
  if (id) state.lastId = id;
  if (!data) return;
  const doc = JSON.parse(data);
  switch (name) {
    case 'record': addRecord(doc); break;
    case 'alarm': addAlarm(doc); break;
    case 'status': showStatus(doc); break;
    case 'reset': loadHistory().catch(showError); break;
  }
}

async function loadAll() {
  clearError();
  const [stats, status] = await Promise.all([apiJSON('stats'), apiJSON('status')]);
  for (const s of stats.statistics) state.info.set(s.name, s);
  showStatus(status);
  await loadHistory();
  await loadConfig();
  follow();
}

// ---- control and configuration ----

async function control(action) {
  $('start').disabled = $('stop').disabled = true;
  try {
    showStatus(await apiJSON(action, { method: 'POST' }));
    clearError();
  } catch (err) {
    showError(err);
    refreshStatus();
  }
}

async function loadConfig() {
  const res = await api('config?format=toml');
  if (!res.ok) throw new Error('configuration: ' + res.status);
  $('config-text').value = await res.text();
  showProblems([]);
  $('config-message').textContent = '';
}

function showProblems(problems) {
  const ul = $('config-problems');
  ul.textContent = '';
  for (const p of problems) {
    const li = el('li', {}, (p.line ? `line ${p.line}: ` : '') + (p.key ? p.key + ': ' : '') + p.message);
    if (p.line) li.addEventListener('click', () => selectLine(p.line));
    ul.append(li);
  }
}

function selectLine(n) {
  const ta = $('config-text');
  const lines = ta.value.split('\n');
  const start = lines.slice(0, n - 1).reduce((sum, l) => sum + l.length + 1, 0);
  ta.focus();
  ta.setSelectionRange(start, start + (lines[n - 1] || '').length);
}

// sendConfig checks (dry) or saves the editor's text; it returns the answer,
// or null when the configuration is invalid.
async function sendConfig(dry) {
  const res = await api('config' + (dry ? '?dry_run=true' : ''), {
    method: 'PUT', headers: { 'Content-Type': 'application/toml' }, body: $('config-text').value,
  });
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) {
    showProblems(body.problems && body.problems.length ? body.problems : [{ message: body.error }]);
    $('config-message').textContent = 'Not saved.';
    return null;
  }
  showProblems([]);
  return body;
}

async function checkConfig() {
  if (await sendConfig(true)) $('config-message').textContent = 'Valid.';
}

async function saveConfig(restart) {
  const saved = await sendConfig(false);
  if (!saved) return;
  $('config-message').textContent = 'Saved.';
  if (restart && state.status && state.status.running) {
    await control('stop');
    await control('start');
  } else if (saved.restart_required) {
    $('config-message').textContent = 'Saved: restart to apply.';
  }
  refreshStatus();
}

function guard(f) {
  return () => f().catch(showError);
}

document.addEventListener('DOMContentLoaded', () => {
  $('start').addEventListener('click', guard(() => control('start')));
  $('stop').addEventListener('click', guard(() => control('stop')));
  $('config-check').addEventListener('click', guard(checkConfig));
  $('config-save').addEventListener('click', guard(() => saveConfig(false)));
  $('config-restart').addEventListener('click', guard(() => saveConfig(true)));
  $('config-reload').addEventListener('click', guard(loadConfig));
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = $('login-token').value.trim();
    sessionStorage.setItem('netspot-token', state.token);
    $('login').close();
    loadAll().catch(showError);
  });
  window.addEventListener('resize', scheduleDraw);
  setInterval(refreshStatus, STATUS_EVERY);
  loadAll().catch(showError);
});
