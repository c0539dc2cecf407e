// Draws the console's usage charts from the JSON each page embeds (a data block, not a script).
"use strict";

function drawConsoleCharts() {
  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const series = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [
          { label: "Calls", data: series.requests, backgroundColor: "#2f5fd0" },
          { label: "Errors", data: series.errors, backgroundColor: "#c2372e" },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    canvas.dataset.drawn = "true";
  }
}

document.addEventListener("DOMContentLoaded", drawConsoleCharts);
