// One Plotly chart per metric, one trace per series. The only module that calls Plotly.
//
// Live points go in with Plotly.extendTraces, one call per batch for all the traces
// that got points, bounded by maxPoints (the number of buckets the window holds), so
// that an hour of streaming costs what the first minute did.
//
// Each such call makes Plotly draw the whole chart again, whatever was added (5 to 7 ms
// at best for one line of two points; README, Dashboard), so what need not change with
// the data is kept out of Plotly: the legend is HTML (legend.js), built when the series
// change.

import { seriesName } from './labels.js';
import { Legend } from './legend.js';

const Plotly = () => globalThis.Plotly;

/** Plotly's date axes have no time zone: they show epoch ms as UTC. Shifting each x by
 *  the local offset (at that instant, so DST is right) makes the axis read local time. */
export const toLocal = (ts) => ts - new Date(ts).getTimezoneOffset() * 60000;

/** Axis formats by Prometheus's unit suffixes. */
function valueFormat(metric) {
  if (metric.endsWith('_ratio')) return { tickformat: '.0%', hoverformat: '.1%' };
  if (metric.endsWith('_bytes_per_second')) return { tickformat: '.3~s', hoverformat: '.4~s', ticksuffix: 'B/s' };
  if (metric.endsWith('_bytes')) return { tickformat: '.3~s', hoverformat: '.4~s', ticksuffix: 'B' };
  if (metric.endsWith('_seconds')) return { tickformat: '.3~s', hoverformat: '.4~s', ticksuffix: 's' };
  return { tickformat: '.4~g', hoverformat: '.6~g' };
}

/** Colours come from the page's CSS (style.css), which follows prefers-color-scheme. */
function theme() {
  const css = getComputedStyle(document.documentElement);
  const value = (name) => css.getPropertyValue(name).trim();
  return {
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    font: { color: value('--fg'), family: value('--font') || 'system-ui, sans-serif', size: 12 },
    colorway: value('--series').split(/\s+/).filter(Boolean),
    'xaxis.gridcolor': value('--grid'),
    'yaxis.gridcolor': value('--grid'),
    'xaxis.linecolor': value('--grid'),
    'yaxis.zerolinecolor': value('--grid'),
    muted: value('--muted'),
    accent: value('--accent'),
  };
}

function layout(metric, width) {
  const t = theme();
  return {
    paper_bgcolor: t.paper_bgcolor,
    plot_bgcolor: t.plot_bgcolor,
    font: t.font,
    colorway: t.colorway,
    margin: { l: 56, r: 12, t: 8, b: 32 },
    showlegend: false, // legend.js draws it, once, instead of Plotly on every redraw
    hovermode: 'x unified',
    xaxis: {
      type: 'date', gridcolor: t['xaxis.gridcolor'], linecolor: t['xaxis.linecolor'],
      nticks: Math.max(3, Math.round(width / 110)), // few enough labels that they need no turning
      tickangle: 0,
      hoverformat: '%H:%M:%S',
      // The default hides labels past the edge, measuring every label on every redraw:
      // a third of the cost of an update. The margins leave them room anyway.
      ticklabeloverflow: 'allow',
    },
    yaxis: {
      gridcolor: t['yaxis.gridcolor'], zerolinecolor: t['yaxis.zerolinecolor'], rangemode: 'tozero',
      ticklabeloverflow: 'allow', ...valueFormat(metric),
    },
    modebar: { bgcolor: 'rgba(0,0,0,0)', color: t.muted, activecolor: t.accent },
    uirevision: metric, // keeps a zoom across updates
  };
}

/** The tool bar on hover, and not at all on a phone, where it would sit on the legend. */
function config() {
  return {
    responsive: true,
    displaylogo: false,
    displayModeBar: matchMedia('(max-width: 600px)').matches ? false : 'hover',
    modeBarButtonsToRemove: ['lasso2d', 'select2d'],
  };
}

export class Chart {
  /** element: the div Plotly draws into (its id is what tests read `.data` from). */
  constructor(element, metric) {
    this.element = element;
    this.metric = metric;
    this.keys = []; // trace index -> series key
    this.names = []; // trace index -> series name
    this.hidden = new Set(); // keys of the series the legend has hidden
    this.legend = new Legend(element, (index, shown) => this.#toggle(index, shown));
    this.note('Loading…');
    Plotly().newPlot(element, [], layout(metric, this.element.clientWidth), config());
  }

  /** A word over the plot while it has nothing to show (style.css draws data-note). */
  note(text) {
    if (text) this.element.dataset.note = text;
    else if (this.element.dataset.note !== undefined) delete this.element.dataset.note;
  }

  /** Replaces every trace: series is [{ key, labels, x, y }]. */
  reset(series) {
    this.keys = series.map((s) => s.key);
    this.names = series.map((s) => seriesName(this.metric, s.labels));
    this.note(series.some((s) => s.x.length > 0) ? null : 'No data in this window yet');
    const traces = series.map((s, index) => this.#trace(index, s.x.map(toLocal), s.y));
    Plotly().react(this.element, traces, layout(this.metric, this.element.clientWidth), config());
    this.#renderLegend();
  }

  /** Adds an empty trace for a series first seen on the stream; returns its index. */
  addSeries(key, labels) {
    this.keys.push(key);
    this.names.push(seriesName(this.metric, labels));
    const index = this.keys.length - 1;
    Plotly().addTraces(this.element, this.#trace(index, [], []));
    this.#renderLegend();
    return index;
  }

  /** updates: Map(trace index -> { x: [], y: [] }). One extendTraces for all of them. */
  extend(updates, maxPoints) {
    if (updates.size === 0) return;
    const indices = [];
    const x = [];
    const y = [];
    for (const [index, points] of updates) {
      indices.push(index);
      x.push(points.x.map(toLocal));
      y.push(points.y);
    }
    this.note(null);
    Plotly().extendTraces(this.element, { x, y }, indices, maxPoints);
  }

  applyTheme() {
    const { muted, accent, ...t } = theme();
    Plotly().relayout(this.element, { ...t, 'modebar.color': muted, 'modebar.activecolor': accent });
    this.legend.recolor(t.colorway);
  }

  destroy() {
    Plotly().purge(this.element);
    this.legend.destroy();
  }

  /** A legend press: the line is hidden (not drawn, left out of the axes' ranges) or shown. */
  #toggle(index, shown) {
    if (shown) this.hidden.delete(this.keys[index]);
    else this.hidden.add(this.keys[index]);
    Plotly().restyle(this.element, { visible: shown }, [index]);
  }

  #renderLegend() {
    const entries = this.names.map((name, index) => ({ name, shown: !this.hidden.has(this.keys[index]) }));
    this.legend.render(entries, theme().colorway);
  }

  #trace(index, x, y) {
    return {
      type: 'scatter',
      mode: 'lines',
      line: { width: 1.5 },
      name: this.names[index],
      visible: !this.hidden.has(this.keys[index]),
      x,
      y,
    };
  }
}
