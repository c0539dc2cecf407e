// Draws the usage charts from the JSON the page embeds (a data block, not a script).
"use strict";

function drawUsage() {
  const data = JSON.parse(document.getElementById("usage-data").textContent);
  for (const canvas of document.querySelectorAll("canvas[data-window]")) {
    const series = data[canvas.dataset.window];
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
  }
}

document.addEventListener("DOMContentLoaded", drawUsage);
