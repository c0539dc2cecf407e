// Draws the usage charts (portal and admin) from the JSON a page embeds (a data block, not a
// script): canvas[data-chart] names the block, and data-key a member of it when it holds several.
"use strict";

function drawUsageCharts() {
  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const data = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
    const series = canvas.dataset.key ? data[canvas.dataset.key] : data;
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [
          { label: "Requests", data: series.requests, backgroundColor: "#2f5fd0" },
          { label: "Errors", data: series.errors, backgroundColor: "#c2372e" },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    canvas.dataset.drawn = "true";
  }
}

document.addEventListener("DOMContentLoaded", drawUsageCharts);
