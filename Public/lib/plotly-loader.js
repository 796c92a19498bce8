// Plotly is served from this server (scripts/fetch-plotly puts it in Public/vendor/),
// never from a CDN: the dashboard must work on a network with no way out. It is a
// classic UMD script, loaded once, on demand.

export const PLOTLY_URL = '/vendor/plotly.min.js';

let loading = null;

export function loadPlotly() {
  if (globalThis.Plotly) return Promise.resolve(globalThis.Plotly);
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = PLOTLY_URL;
    script.async = true;
    script.onload = () => (globalThis.Plotly
      ? resolve(globalThis.Plotly)
      : reject(new Error(`${PLOTLY_URL} loaded but did not define Plotly`)));
    script.onerror = () => reject(new Error(
      `Plotly could not be loaded from ${PLOTLY_URL}: charts cannot be drawn. ` +
      'Run scripts/fetch-plotly on the server (scripts/run does) and reload.'));
    document.head.append(script);
  });
  return loading;
}
