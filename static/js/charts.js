// The one way pages draw charts (Chart.js, vendored in static/vendor/chartjs).
//
//   {% include "includes/chart.html" with id="arrivals" config=chart_config %}
//
// renders <canvas data-chart="arrivals"> and <script type="application/json" id="arrivals">
// with a Chart.js configuration built on the server; this script draws every such canvas on
// load and again after htmx swaps one in (live refresh). Configurations are JSON, never code,
// so the CSP needs no eval. Every chart has its table alternative next to it in the template.
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

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => draw());
else draw();
document.addEventListener("htmx:afterSwap", (e) => draw(e.target));
window.cpaasCharts = { draw };
