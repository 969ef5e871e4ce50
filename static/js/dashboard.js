// The revenue dashboard's charts (templates/admin/licensing/dashboard.html), drawn with the
// vendored Chart.js from the JSON the page carries (#dashboard-data, Django's json_script).
// The tables beside the charts hold the exact figures; the charts only draw them. No inline
// script: this file is the page's only code besides Chart.js.
(function () {
  "use strict";

  var PALETTE = ["#3454d1", "#1e7b34", "#c2410c", "#7c3aed", "#0e7490", "#b3261e", "#5b6478", "#a16207"];
  var source = document.getElementById("dashboard-data");
  if (!source || typeof window.Chart === "undefined") {
    return; // the tables are the page without charts
  }
  var data = JSON.parse(source.textContent);
  var styles = getComputedStyle(document.documentElement);
  var textColor = styles.getPropertyValue("--body-fg").trim() || "#333";
  var gridColor = styles.getPropertyValue("--hairline-color").trim() || "#e8e8e8";
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function options(extra) {
    var base = {
      responsive: true,
      maintainAspectRatio: false,
      animation: reduceMotion ? false : { duration: 300 },
      plugins: { legend: { labels: { color: textColor } } },
      scales: {
        x: { ticks: { color: textColor }, grid: { color: gridColor } },
        y: { ticks: { color: textColor }, grid: { color: gridColor }, beginAtZero: true }
      }
    };
    return Object.assign(base, extra || {});
  }

  function color(index) {
    return PALETTE[index % PALETTE.length];
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) {
      return;
    }
    if (!config.data.labels.length) {
      canvas.closest("figure").classList.add("dashboard-empty");
      canvas.hidden = true;
      return;
    }
    canvas.parentElement.style.height = "260px";
    new window.Chart(canvas, config);
  }

  function revenueChart(chart) {
    var models = Object.keys(chart.series);
    var periods = data.periods.filter(function (period) {
      return models.some(function (model) { return period in chart.series[model]; });
    });
    var datasets = models.map(function (model, index) {
      return {
        label: model,
        backgroundColor: color(index),
        // amounts arrive as exact decimal strings; the chart needs numbers
        data: periods.map(function (period) { return Number(chart.series[model][period] || 0); })
      };
    });
    var stacked = options();
    stacked.scales.x.stacked = true;
    stacked.scales.y.stacked = true;
    draw(chart.id, { type: "bar", data: { labels: periods, datasets: datasets }, options: stacked });
  }

  data.revenue.forEach(revenueChart);

  draw("licenses-chart", {
    type: "bar",
    data: {
      labels: data.licenses.labels,
      datasets: [{ label: "Active", backgroundColor: color(0), data: data.licenses.values }]
    },
    options: options({ indexAxis: "y" })
  });

  draw("credits-chart", {
    type: "bar",
    data: {
      labels: data.credits.labels,
      datasets: [
        { label: "Sold", backgroundColor: color(1), data: data.credits.sold },
        { label: "Consumed", backgroundColor: color(2), data: data.credits.consumed }
      ]
    },
    options: options()
  });
})();
