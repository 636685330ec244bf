// netspot dashboard: reads the API (/api/v1), follows its live stream and
// draws one chart per statistic with uPlot (vendored in assets/vendor/uPlot,
// loaded before this file): time and value axes, the alarm thresholds, the
// learning periods shaded, the alarms marked, zoom (drag; double click to
// reset) and the values under the cursor. Plain JavaScript, no build step:
// the server embeds these files as they are.
'use strict';

const MAX_POINTS = 3600;  // points per chart (the server keeps [api] history records)
const MAX_ALARMS = 500;   // alarms kept in the page
const STATUS_EVERY = 5000; // ms between status refreshes (counters, uptime)
const RETRY_AFTER = 2000;  // ms before the stream reconnects

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem('netspot-token') || '',
  status: null,
  run: 0,            // run whose records the charts show
  lastSeq: 0,        // newest record drawn
  lastId: '',        // stream position, sent back when reconnecting
  series: new Map(), // statistic -> its series (newSeries)
  charts: new Map(), // statistic -> its chart: {card, plot, ...}
  partial: null,     // the last record when it is a partial window
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

// askToken opens the token prompt, saying so when the token given was
// refused.
function askToken() {
  const d = $('login');
  $('login-refused').hidden = !state.token;
  if (!d.open) {
    $('login-token').value = '';
    d.showModal();
  }
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
  if (st.read_only) notes.push('Read-only: ' + st.read_only_reason + '.');
  if (st.sinks) {
    for (const s of st.sinks) {
      if (s.dropped_records || s.failed) notes.push(`Sink ${s.name}: ${s.failed} failed, ${s.dropped_records} records dropped.`);
    }
  }
  $('run-note').textContent = notes.join(' ');

  if (st.state === 'failed') showError(new Error(run.error));
  else if (run && st.running && run.capture_error) showError(new Error('capture: ' + run.capture_error));
  $('start').disabled = st.running || st.read_only;
  $('stop').disabled = !st.running || st.state === 'stopping' || st.read_only;
  for (const id of ['config-check', 'config-save', 'config-restart']) $(id).disabled = st.read_only;

  if (run && st.running && run.id !== state.run) startRun(run.id);
}

// startRun clears the charts for the records of a new run.
function startRun(id) {
  state.run = id;
  state.series.clear();
  state.partial = null;
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

// A series is what the chart of one statistic shows: one entry per
// complete window, x being the end of the window in seconds since the epoch
// (uPlot's time scale).
const SERIES_KEYS = ['x', 'start', 'v', 'up', 'down', 'mark', 'learning'];

function newSeries() {
  return { x: [], start: [], v: [], up: [], down: [], mark: [], learning: [], alarm: false };
}

function finite(v) {
  return v === null || v === undefined || !isFinite(v) ? null : v;
}

function addRecord(r) {
  if (state.resyncing) {
    state.resyncing.push(r);
    return;
  }
  if (r.seq <= state.lastSeq) return;
  if (r.run !== state.run) startRun(r.run);
  state.lastSeq = r.seq;
  if (r.partial) {
    // The last window of a capture file covers part of a period: it is
    // reported, not judged, and its counts are not comparable with the
    // others'. The charts and their headline values leave it out.
    state.partial = r;
  } else {
    state.partial = null;
    const end = Date.parse(r.end) / 1000, start = Date.parse(r.start) / 1000;
    for (const [name, s] of Object.entries(r.stats)) {
      let se = state.series.get(name);
      if (!se) {
        se = newSeries();
        state.series.set(name, se);
      }
      se.x.push(end);
      se.start.push(start);
      se.v.push(finite(s.value));
      se.up.push(finite(s.up));
      se.down.push(finite(s.down));
      se.mark.push(s.alarm ? finite(s.value) : null);
      se.learning.push(!!s.learning);
      se.alarm = !!s.alarm;
      if (se.x.length > MAX_POINTS) for (const k of SERIES_KEYS) se[k].shift();
    }
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
  for (const [name, ch] of state.charts) {
    if (!state.series.has(name)) {
      if (ch.plot) ch.plot.destroy();
      ch.card.remove();
      state.charts.delete(name);
    }
  }
  for (const [name, se] of state.series) {
    let ch = state.charts.get(name);
    if (!ch) {
      ch = makeChart(name);
      state.charts.set(name, ch);
      box.append(ch.card);
    }
    drawChart(ch, se);
  }
  const note = $('partial-note');
  const p = state.partial;
  note.hidden = !p;
  if (p) {
    const secs = (Date.parse(p.end) - Date.parse(p.start)) / 1000;
    note.textContent = `The last window (from ${clock(Date.parse(p.start) / 1000)}, ${num(secs)} s) is partial: ` +
      'the capture ended within it. It is reported, not judged, and left out of the charts and the values above them.';
  }
}

// palette reads the page's colours (light or dark) for the canvas.
function palette() {
  const cs = getComputedStyle(document.documentElement);
  const v = (n) => cs.getPropertyValue(n).trim();
  return {
    fg: v('--fg'), muted: v('--muted'), grid: v('--grid'), accent: v('--accent'), alarm: v('--alarm'),
    learn: v('--learn'), band: v('--learn-band'), card: v('--card'),
  };
}

const CHART_HEIGHT = 170;

// TIME_TICKS are the time axis' labels by tick spacing, on a 24-hour clock
// (uPlot's table: spacing, label, then the label when the year, month, day,
// hour, minute or second changes at a tick, and the mode).
const TIME_TICKS = (() => {
  const day = '\n{YYYY}-{MM}-{DD}';
  return [
    [86400 * 365, '{YYYY}', null, null, null, null, null, null, 1],
    [86400 * 28, '{MMM}', '\n{YYYY}', null, null, null, null, null, 1],
    [86400, '{MM}-{DD}', '\n{YYYY}', null, null, null, null, null, 1],
    [3600, '{HH}:00', day, null, day, null, null, null, 1],
    [60, '{HH}:{mm}', day, null, day, null, null, null, 1],
    [1, ':{ss}', day + ' {HH}:{mm}', null, day + ' {HH}:{mm}', null, '\n{HH}:{mm}', null, 1],
    [0.001, ':{ss}.{fff}', day + ' {HH}:{mm}', null, day + ' {HH}:{mm}', null, '\n{HH}:{mm}', null, 1],
  ];
})();
const AXIS_FONT = '11px system-ui, -apple-system, "Segoe UI", sans-serif';

// clock writes a time (seconds) compactly: the time of day, with the date
// when it is not today.
function clock(sec) {
  if (sec === null || sec === undefined || !isFinite(sec)) return '–';
  const d = new Date(sec * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

// axisLabel names the values of a statistic: its unit, or its kind.
function axisLabel(name) {
  const info = state.info.get(name) || {};
  if (info.unit) return info.unit;
  return { ratio: 'ratio', count: 'per window', rate: 'per second', average: 'mean', event: 'events' }[info.kind] || '';
}

function makeChart(name) {
  const card = el('div', { class: 'chart', 'data-stat': name });
  const info = state.info.get(name);
  const head = el('div', { class: 'chart-head' });
  const title = el('span', { class: 'name' }, name);
  if (info && info.help) title.title = info.help;
  head.append(title, el('span', { class: 'value' }, '–'));
  const plotBox = el('div', { class: 'plot' });
  card.append(head, plotBox, el('div', { class: 'chart-foot' }));
  return { name, card, plotBox, plot: null, sides: '', zoomed: false, bands: [] };
}

// learningBands returns the spans [start of the first window, end of the
// last] of the runs of windows in which the statistic's detector learned.
function learningBands(se) {
  const bands = [];
  let from = -1;
  for (let i = 0; i <= se.x.length; i++) {
    const on = i < se.x.length && se.learning[i];
    if (on && from < 0) from = i;
    if (!on && from >= 0) {
      bands.push([se.start[from], se.x[i - 1]]);
      from = -1;
    }
  }
  return bands;
}

// yRange fits the values in view, from zero when they are near it, with
// room above the highest. A threshold joins the range when it is near
// enough not to flatten the line (within four times the values' spread,
// or half their magnitude if more); a farther one is left above or below the chart, and said so on
// it (drawOffScale).
function yRange(u) {
  const xs = u.data[0], x0 = u.scales.x.min, x1 = u.scales.x.max;
  const last = u.data.length - 1; // the alarm markers, at the values
  let vlo = Infinity, vhi = -Infinity, tlo = Infinity, thi = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    if (x0 !== null && x0 !== undefined && (xs[i] < x0 || xs[i] > x1)) continue;
    const v = u.data[1][i];
    if (v !== null) {
      vlo = Math.min(vlo, v);
      vhi = Math.max(vhi, v);
    }
    for (let k = 2; k < last; k++) {
      const t = u.data[k][i];
      if (t !== null) {
        tlo = Math.min(tlo, t);
        thi = Math.max(thi, t);
      }
    }
  }
  if (vlo === Infinity) {
    if (tlo === Infinity) return [0, 1];
    vlo = tlo;
    vhi = thi;
  }
  let lo = vlo, hi = vhi;
  if (lo >= 0 && lo <= (hi - lo) / 2) lo = 0;
  const span = Math.max(hi - lo, Math.abs(hi) / 2, 1e-9);
  if (thi > hi && thi - lo <= 4 * span) hi = thi;
  if (tlo < lo && hi - tlo <= 4 * span) lo = tlo;
  if (hi - lo <= 0) {
    const d = Math.abs(hi) * 0.2 || 1;
    return [lo >= 0 && lo - d < 0 ? 0 : lo - d, hi + d];
  }
  return [lo, hi + (hi - lo) * 0.1];
}

// drawOffScale says, at the top or bottom of the plot, that the current
// threshold of a side is beyond the chart.
function drawOffScale(u, ch, c) {
  const { left, top, width, height } = u.bbox;
  const ctx = u.ctx, dpr = devicePixelRatio;
  const off = [];
  ctx.save();
  ctx.font = `${11 * dpr}px system-ui, sans-serif`;
  ctx.fillStyle = c.alarm;
  ctx.textAlign = 'right';
  for (const label of ['up', 'down']) {
    const si = ch.sides.split(',').indexOf(label);
    if (si < 0) continue;
    const data = u.data[2 + si];
    const t = data[data.length - 1];
    if (t === null || t === undefined) continue;
    if (label === 'up' && t > u.scales.y.max) {
      ctx.textBaseline = 'top';
      ctx.fillText(`alarm above ${num(t)} ↑`, left + width - 4 * dpr, top + 3 * dpr);
      off.push('up');
    } else if (label === 'down' && t < u.scales.y.min) {
      ctx.textBaseline = 'bottom';
      ctx.fillText(`alarm below ${num(t)} ↓`, left + width - 4 * dpr, top + height - 3 * dpr);
      off.push('down');
    }
  }
  ctx.restore();
  ch.card.dataset.offScale = off.join(',');
}

function createPlot(ch, se, sides) {
  const c = palette();
  const name = ch.name;
  const label = axisLabel(name);
  const axis = (extra) => Object.assign({
    stroke: c.muted, font: AXIS_FONT, labelFont: AXIS_FONT,
    grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1, size: 4 },
  }, extra);
  const series = [
    { value: (u, v) => clock(v) },
    { label: 'value', stroke: c.accent, width: 2, value: (u, v) => withUnit(v, name) },
  ];
  if (sides.includes('up')) series.push({ label: 'alarm above', stroke: c.alarm, width: 1, dash: [6, 4], value: (u, v) => num(v) });
  if (sides.includes('down')) series.push({ label: 'alarm below', stroke: c.alarm, width: 1, dash: [2, 3], value: (u, v) => num(v) });
  series.push({
    label: 'alarm', stroke: c.alarm, fill: c.alarm, paths: () => null,
    points: { show: true, size: 9, width: 2, stroke: c.card, fill: c.alarm },
    value: (u, v) => (v === null || v === undefined ? '–' : 'raised'),
  });
  const opts = {
    width: Math.max(ch.plotBox.clientWidth, 150),
    height: CHART_HEIGHT,
    cursor: { sync: { key: 'netspot' }, drag: { x: true, y: false }, points: { size: 7 } },
    legend: { live: true },
    scales: { x: { time: true }, y: { range: yRange } },
    axes: [
      axis({
        space: 60,
        values: TIME_TICKS,
        // The labels drawn are noted on the card, for tests and readers of the DOM.
        size: (u, values) => {
          if (values) ch.card.dataset.xTicks = values.join('|');
          return values && values.some((v) => String(v).includes('\n')) ? 42 : 28;
        },
      }),
      axis({
        label, labelSize: label ? 16 : 0, labelGap: 0,
        values: (u, splits) => splits.map(num),
        size: (u, values) => {
          if (values) ch.card.dataset.yTicks = values.join('|');
          const widest = values ? Math.max(...values.map((v) => v.length)) : 3;
          return 12 + widest * 7;
        },
      }),
    ],
    series,
    hooks: {
      drawClear: [(u) => drawBands(u, ch, c)],
      draw: [(u) => drawOffScale(u, ch, c)],
      // Away from the cursor, the legend shows the last window.
      setCursor: [(u) => { if (u.cursor.idx === null || u.cursor.idx === undefined) showLast(u); }],
      setScale: [(u, key) => {
        if (key !== 'x') return;
        const xs = u.data[0];
        ch.zoomed = xs.length > 1 && (u.scales.x.min > xs[0] || u.scales.x.max < xs[xs.length - 1]);
        ch.card.classList.toggle('zoomed', ch.zoomed);
      }],
    },
  };
  ch.sides = sides;
  ch.card.dataset.unit = label;
  ch.card.dataset.accent = c.accent; // the colour scheme the chart was drawn with
  ch.plot = new uPlot(opts, plotData(se, sides), ch.plotBox);
  ch.card.plot = ch.plot; // the chart of this card, for tests and the browser console
}

function showLast(u) {
  const n = u.data[0].length;
  if (n) u.setLegend({ idx: n - 1 });
}

// drawBands shades the learning periods under the grid and the lines.
function drawBands(u, ch, c) {
  if (!ch.bands.length) return;
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  ctx.fillStyle = c.band;
  for (const [a, b] of ch.bands) {
    const x0 = u.valToPos(a, 'x', true), x1 = u.valToPos(b, 'x', true);
    ctx.fillRect(x0, top, Math.max(x1 - x0, 2), height);
    if (x1 - x0 > 70 * devicePixelRatio) {
      ctx.fillStyle = c.learn;
      ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
      ctx.textBaseline = 'top';
      ctx.fillText('learning', Math.max(x0, left) + 4 * devicePixelRatio, top + 3 * devicePixelRatio);
      ctx.fillStyle = c.band;
    }
  }
  ctx.restore();
}

function plotData(se, sides) {
  const data = [se.x, se.v];
  if (sides.includes('up')) data.push(se.up);
  if (sides.includes('down')) data.push(se.down);
  data.push(se.mark);
  return data;
}

function drawChart(ch, se) {
  // The threshold lines drawn are those of the sides the detector watches;
  // a side's line appears with its first threshold.
  const sides = ['up', 'down'].filter((k) => se[k].some((v) => v !== null)).join(',');
  ch.bands = learningBands(se);
  if (ch.plot && ch.sides !== sides) {
    ch.plot.destroy();
    ch.plot = null;
  }
  if (!ch.plot) {
    createPlot(ch, se, sides);
  } else {
    // A zoomed chart keeps its zoom while windows come (a double click
    // shows everything again).
    ch.plot.setData(plotData(se, sides), !ch.zoomed);
  }
  if (ch.plot.cursor.left < 0) showLast(ch.plot);

  const last = se.x.length - 1;
  const name = ch.name;
  const d = ch.card.dataset;
  d.points = String(se.x.length);
  d.alarmMarkers = String(se.mark.filter((v) => v !== null).length);
  d.learningBands = String(ch.bands.length);
  d.thresholds = sides;
  d.headlineEnd = last >= 0 ? new Date(se.x[last] * 1000).toISOString() : '';

  const value = ch.card.querySelector('.value');
  value.textContent = last >= 0 ? withUnit(se.v[last], name) : '–';
  value.title = last >= 0 ? 'window ending ' + clock(se.x[last]) : '';
  ch.card.classList.toggle('in-alarm', se.alarm);
  const foot = ch.card.querySelector('.chart-foot');
  foot.textContent = '';
  const learning = last >= 0 && se.learning[last];
  if (learning) foot.append(el('span', { class: 'learning-tag' }, 'learning · '));
  const limits = [];
  if (last >= 0 && se.up[last] !== null) limits.push('alarm above ' + withUnit(se.up[last], name));
  if (last >= 0 && se.down[last] !== null) limits.push('alarm below ' + withUnit(se.down[last], name));
  foot.append(limits.join(' · ') || (learning ? 'no threshold yet' : 'not judged'));
}

// resizeCharts gives every chart the width of its card.
function resizeCharts() {
  for (const ch of state.charts.values()) {
    if (!ch.plot) continue;
    const w = Math.max(ch.plotBox.clientWidth, 150);
    if (w !== ch.plot.width) ch.plot.setSize({ width: w, height: CHART_HEIGHT });
  }
}

// redrawAll builds the charts again, with the colours of the page's
// current colour scheme.
function redrawAll() {
  for (const ch of state.charts.values()) {
    if (ch.plot) ch.plot.destroy();
    ch.plot = null;
  }
  scheduleDraw();
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
    const [recs] = await Promise.all([apiJSON('records'), loadAlarms()]);
    state.series.clear();
    state.partial = null;
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
  new ResizeObserver(resizeCharts).observe($('charts'));
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', redrawAll);
  setInterval(refreshStatus, STATUS_EVERY);
  loadAll().catch(showError);
});
