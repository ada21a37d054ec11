// The one way pages draw charts (Chart.js, vendored in static/vendor/chartjs).
//
//   {% include "includes/chart.html" with id="arrivals" config=chart_config %}
//
// renders <canvas data-chart="arrivals"> and <script type="application/json" id="arrivals">
// with a Chart.js configuration built on the server; this script draws every such canvas on
// load and again after htmx swaps one in (live refresh). Configurations are JSON, never code,
// so the CSP needs no eval. Every chart has its table alternative next to it in the template,
// and its data as CSV (cpaas/charts.py, includes/chart_card.html).
import "../vendor/chartjs/chart.umd.min.js";

const Chart = window.Chart;

function draw(root) {
  (root || document).querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    const config = JSON.parse(source.textContent);
    config.options = Object.assign(
      { animation: false, responsive: true, maintainAspectRatio: false },
      config.options || {},
    );
    const existing = Chart.getChart(canvas);
    if (existing) existing.destroy();
    new Chart(canvas, config);
  });
}

// Live: an element with data-refresh-on="<realtime message types>" (and hx-get, hx-trigger="refresh")
// is fetched again by htmx when such a message arrives (live.js's "live:message"), and after a
// reconnect. Messages are coalesced: one fetch per element at most every COALESCE_MS, however
// many notices came, so a busy workspace does not refetch its dashboard per message.
const COALESCE_MS = 3000;
const waiting = new Set();
let timer = null;

function refreshLater(elements) {
  elements.forEach((el) => waiting.add(el));
  if (timer || !waiting.size) return;
  timer = setTimeout(() => {
    timer = null;
    const batch = [...waiting].filter((el) => el.isConnected);
    waiting.clear();
    batch.forEach((el) => window.htmx?.trigger(el, "refresh"));
  }, COALESCE_MS);
}

document.addEventListener("live:message", (event) => {
  const type = event.detail?.type;
  if (!type) return;
  refreshLater(document.querySelectorAll(`[data-refresh-on~="${CSS.escape(type)}"]`));
});
document.addEventListener("live:open", (event) => {
  if (event.detail?.reconnected) refreshLater(document.querySelectorAll("[data-refresh-on]"));
});

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => draw());
else draw();
document.addEventListener("htmx:afterSwap", (e) => draw(e.target));
window.cpaasCharts = { draw };
