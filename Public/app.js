// The dashboard page: controls, status, errors. What to show lives in the URL
// (?metric=…&metric=…&window=1h), so a view can be bookmarked or shared; how data gets
// onto the charts is lib/session.js's business.

import { loadPlotly } from './lib/plotly-loader.js';
import { getJSON, token } from './lib/api.js';
import { Session } from './lib/session.js';

const DEFAULT_METRICS = ['host_cpu_usage_ratio', 'host_memory_used_bytes'];
const WINDOWS = {
  '5m': { label: '5 minutes', ms: 5 * 60_000 },
  '1h': { label: '1 hour', ms: 60 * 60_000 },
  '24h': { label: '24 hours', ms: 24 * 60 * 60_000 },
};
const PLOT_MARGIN_PX = 68; // chart.js's left and right margins

const $ = (selector) => document.querySelector(selector);
const ui = {
  status: $('#status'),
  lastUpdate: $('#last-update'),
  errors: $('#errors'),
  tokenForm: $('#token-form'),
  tokenInput: $('#token'),
  pause: $('#pause'),
  picker: $('#metric-picker'),
  metricList: $('#metric-list'),
  metricCount: $('#metric-count'),
  charts: $('#charts'),
};

const view = readURL();
let session = null;
let restartTimer = null;

// --- errors: one message per source, gone when the source recovers ------------------

const errors = new Map();
function showError(key, message, { retry = false } = {}) {
  const existing = errors.get(key);
  if (!message) {
    existing?.remove();
    errors.delete(key);
    return;
  }
  const p = existing ?? document.createElement('p');
  p.dataset.source = key;
  p.textContent = message;
  if (retry) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Retry';
    button.addEventListener('click', () => restart());
    p.append(button);
  }
  if (!existing) ui.errors.append(p);
  errors.set(key, p);
}

// --- status ----------------------------------------------------------------------

const STATUS_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline, retrying',
  paused: 'Paused',
  stopped: 'Stopped',
};

function renderStatus(status) {
  if (status.state === 'stopped') return; // a session being replaced
  ui.status.dataset.state = status.state;
  let text = STATUS_TEXT[status.state] ?? status.state;
  if (status.retryAt) text += ` (next try in ${Math.max(1, Math.round((status.retryAt - Date.now()) / 1000))} s)`;
  ui.status.textContent = text;
  if (status.state === 'live') showError('live', null);
  else if (status.reason) showError('live', `Live stream: ${status.reason}.`);
}

// The time of the last frame, outside the aria-live region: announcing it every second
// would drown a screen reader.
let lastShownSecond = 0;
function renderActivity(serverTs) {
  const second = Math.floor(Date.now() / 1000);
  if (second === lastShownSecond) return;
  lastShownSecond = second;
  const at = new Date(serverTs ?? Date.now());
  ui.lastUpdate.textContent = `last update ${at.toLocaleTimeString()}`;
  ui.lastUpdate.dateTime = at.toISOString();
}

// --- URL state -------------------------------------------------------------------

function readURL() {
  const params = new URLSearchParams(location.search);
  const metrics = params.getAll('metric').filter(Boolean);
  const window = WINDOWS[params.get('window')] ? params.get('window') : '5m';
  return { metrics: metrics.length ? metrics : [...DEFAULT_METRICS], window };
}

function writeURL() {
  const params = new URLSearchParams();
  for (const metric of view.metrics) params.append('metric', metric);
  params.set('window', view.window);
  history.replaceState(null, '', `?${params}`);
}

// --- controls --------------------------------------------------------------------

function setUpControls() {
  for (const radio of document.querySelectorAll('input[name="window"]')) {
    radio.checked = radio.value === view.window;
    radio.addEventListener('change', () => {
      view.window = radio.value;
      writeURL();
      restart();
    });
  }
  ui.pause.addEventListener('click', () => {
    if (!session) return;
    const pausing = !session.paused;
    if (pausing) session.pause();
    else session.resume();
    ui.pause.setAttribute('aria-pressed', String(pausing));
    ui.pause.textContent = pausing ? 'Resume' : 'Pause';
  });
  // Metrics appear as they are first pushed: the list is asked for again on each opening.
  ui.picker.addEventListener('toggle', () => {
    if (ui.picker.open) loadCatalog();
  });
  ui.tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    token.set(ui.tokenInput.value.trim());
    ui.tokenInput.value = '';
    ui.tokenForm.hidden = true;
    showError('auth', null);
    loadCatalog();
    restart();
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    for (const chart of session?.charts ?? []) chart.applyTheme();
  });
}

function askForToken(error) {
  ui.tokenForm.hidden = false;
  let message = 'The server asks for an access token.';
  if (error.status === 403) message = 'The stored access token may not read metrics (it needs the read scope): enter another.';
  else if (token.get()) message = 'The server refused the stored access token: enter another.';
  showError('auth', message);
}

/** The metric picker, fed by /api/series (at load, and whenever it is opened); chosen
 *  metrics stay listed even before they have data. */
async function loadCatalog() {
  let known = [];
  try {
    const catalog = await getJSON('/api/series');
    known = catalog.metrics.map((entry) => entry.metric);
    showError('series', null);
  } catch (error) {
    if (error.unauthorized) askForToken(error);
    showError('series', `The list of metrics could not be loaded (${error.message}).`, { retry: true });
  }
  const names = [...new Set([...known, ...view.metrics])].sort();
  ui.metricList.replaceChildren(...names.map((metric) => {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = metric;
    box.checked = view.metrics.includes(metric);
    box.addEventListener('change', () => {
      view.metrics = box.checked ? [...view.metrics, metric] : view.metrics.filter((m) => m !== metric);
      renderMetricCount();
      writeURL();
      // A few quick clicks make one restart.
      clearTimeout(restartTimer);
      restartTimer = setTimeout(restart, 400);
    });
    label.append(box, document.createTextNode(metric));
    return label;
  }));
  renderMetricCount();
}

function renderMetricCount() {
  ui.metricCount.textContent = `(${view.metrics.length})`;
}

// --- charts ----------------------------------------------------------------------

function mountCard(metric) {
  const card = document.createElement('section');
  card.className = 'card';
  const title = document.createElement('h2');
  title.id = `title-${metric}`;
  title.textContent = metric;
  const chart = document.createElement('div');
  chart.className = 'chart';
  chart.id = `chart-${metric}`;
  // A figure, not an img: Plotly puts buttons (zoom, download) inside, which an img would hide.
  chart.setAttribute('role', 'figure');
  chart.setAttribute('aria-label', `${metric} over the last ${WINDOWS[view.window].label}`);
  card.setAttribute('aria-labelledby', title.id);
  card.append(title, chart);
  ui.charts.append(card);
  return chart;
}

/** One history point per pixel of plot width: finer is invisible, coarser is blurry. */
function pointsForWidth() {
  const width = ui.charts.querySelector('.chart')?.clientWidth ?? ui.charts.clientWidth;
  return Math.max(60, Math.min(11_000, Math.floor(width - PLOT_MARGIN_PX)));
}

function restart() {
  clearTimeout(restartTimer);
  session?.destroy();
  session = null;
  ui.charts.replaceChildren();
  for (const key of [...errors.keys()]) if (key.startsWith('history') || key === 'backfill' || key === 'live') showError(key, null);
  ui.pause.setAttribute('aria-pressed', 'false');
  ui.pause.textContent = 'Pause';
  if (view.metrics.length === 0) {
    const empty = document.createElement('p');
    empty.className = 'empty';
    empty.textContent = 'No metric chosen: pick one under Metrics.';
    ui.charts.append(empty);
    renderStatus({ state: 'paused' });
    return;
  }
  const mounts = new Map(view.metrics.map((metric) => [metric, mountCard(metric)]));
  session = new Session({
    metrics: view.metrics,
    windowMs: WINDOWS[view.window].ms,
    points: pointsForWidth(),
    mount: (metric) => mounts.get(metric),
    onStatus: renderStatus,
    onActivity: renderActivity,
    onError: (key, message) => showError(key, message, { retry: key.startsWith('history') }),
    onUnauthorized: askForToken,
  });
  session.start();
}

async function main() {
  setUpControls();
  writeURL();
  loadCatalog();
  try {
    await loadPlotly();
  } catch (error) {
    showError('plotly', error.message);
    renderStatus({ state: 'offline' });
    ui.status.textContent = 'Charts unavailable';
    return;
  }
  restart();
}

main();
