// The Overview's charts: data from the page (<script type="application/json" id="figures">,
// which the CSP allows since it is not executed), drawn with the vendored Chart.js.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("figures");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var palette = ["#3b5bdb", "#2b8a3e", "#e67700", "#c92a2a", "#6741d9", "#0b7285", "#5c940d"];
    var labels = data.days.map(function (d) { return d.slice(5); });
    var common = { responsive: true, animation: false, plugins: { legend: { position: "bottom" } },
                   scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } };
    var teams = Object.keys(data.runs_by_team);
    new window.Chart(document.getElementById("chart-runs"), {
      type: "bar",
      data: { labels: labels, datasets: teams.map(function (team, i) {
        return { label: team, data: data.runs_by_team[team], backgroundColor: palette[i % palette.length] };
      }) },
      options: Object.assign({}, common, { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } })
    });
    new window.Chart(document.getElementById("chart-signins"), {
      type: "line",
      data: { labels: labels, datasets: [{ label: "Sign-ins", data: data.sign_ins, borderColor: palette[1], backgroundColor: palette[1], tension: 0.2 }] },
      options: common
    });
    new window.Chart(document.getElementById("chart-denied"), {
      type: "bar",
      data: { labels: labels, datasets: [{ label: "Denied attempts", data: data.denied, backgroundColor: palette[3] }] },
      options: common
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
