// Draws each chart of a blockbench report from the figure JSON embedded beside it: the data
// is in the page, so nothing is fetched. Needs plotly.min.js loaded before it where a page
// has charts.
"use strict";
(function () {
  // A link made when a run was one page (index.html#scenario-1-throughput) names an id that
  // has moved to its scenario's own page (scenario-1.html): go on there, to the same id. Only
  // where this page links that page, so a run's pages and no others.
  const moved = /^#(scenario-\d+)(-[\w-]+)?$/.exec(window.location.hash);
  const page = moved && moved[1] + ".html";
  if (
    moved &&
    !document.getElementById(moved[0].slice(1)) &&
    document.querySelector('a[href="' + page + '"]')
  ) {
    window.location.replace(page + moved[0]);
    return;
  }
  const config = {
    displaylogo: false,
    responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d"],
    toImageButtonOptions: { format: "svg" },
  };
  // A4 portrait at 96 dpi, less the print margins of report.css.
  const PRINT_WIDTH = 680;
  const charts = Array.from(document.querySelectorAll("[data-figure]"));

  function draw(element) {
    const spec = JSON.parse(document.getElementById(element.dataset.figure).textContent);
    element.textContent = "";
    return Plotly.newPlot(element, spec.data, spec.layout, config);
  }

  Promise.all(charts.map(draw)).then(function () {
    // Lets a test (or a reader's tool) know every chart is on the page.
    document.body.dataset.charts = "drawn";
  });

  // On paper: every numbers table open, and charts as wide as the page, not the screen.
  const wasOpen = new Map();
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (details) {
      wasOpen.set(details, details.open);
      details.open = true;
    });
    charts.forEach(function (chart) {
      Plotly.relayout(chart, { width: PRINT_WIDTH });
    });
  });
  window.addEventListener("afterprint", function () {
    wasOpen.forEach(function (open, details) {
      details.open = open;
    });
    charts.forEach(function (chart) {
      Plotly.relayout(chart, { width: null, autosize: true });
    });
  });
})();
