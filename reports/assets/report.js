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

  // The decision map's "find your endpoint": the measured cell nearest the reader's wait and
  // CPU per request, on the log scale the map's columns are spaced by, is marked in each
  // lookup table and its readings written out. Nothing is sent anywhere.
  document.querySelectorAll("[data-finder]").forEach(function (finder) {
    const wait = finder.querySelector("[data-finder-wait]");
    const cpu = finder.querySelector("[data-finder-cpu]");
    const result = finder.querySelector("[data-finder-result]");
    const cells = Array.from(finder.querySelectorAll("td[data-wait]"));
    function distance(cell, w, c) {
      return (
        Math.abs(Math.log1p(Number(cell.dataset.wait)) - Math.log1p(w)) +
        Math.abs(Math.log1p(Number(cell.dataset.cpu)) - Math.log1p(c))
      );
    }
    function find() {
      const w = Number(wait.value);
      const c = Number(cpu.value);
      cells.forEach(function (cell) {
        cell.classList.remove("found");
      });
      if (wait.value === "" || cpu.value === "" || !(w >= 0) || !(c >= 0) || !cells.length) {
        result.textContent = "";
        return;
      }
      const nearest = cells.reduce(function (best, cell) {
        return distance(cell, w, c) < distance(best, w, c) ? cell : best;
      });
      const found = cells.filter(function (cell) {
        return cell.dataset.wait === nearest.dataset.wait && cell.dataset.cpu === nearest.dataset.cpu;
      });
      found.forEach(function (cell) {
        cell.classList.add("found");
      });
      result.textContent =
        "Nearest measured cell: " + nearest.dataset.wait + " ms of wait, " +
        nearest.dataset.cpu + " ms of CPU. " +
        found.map(function (cell) {
          return cell.dataset.reading + ".";
        }).join(" ");
    }
    wait.addEventListener("input", find);
    cpu.addEventListener("input", find);
    find();
  });

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
