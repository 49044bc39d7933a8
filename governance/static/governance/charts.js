// The Overview's charts: data from the page (<script type="application/json" id="figures">,
// which the CSP allows since it is not executed), drawn with the vendored Chart.js.
(function () {
  "use strict";
  var palette = ["#3b5bdb", "#2b8a3e", "#e67700", "#c92a2a", "#6741d9", "#0b7285", "#5c940d",
                 "#862e9c", "#a61e4d", "#364fc7", "#087f5b", "#d9480f"];
  var common = { responsive: true, animation: false, plugins: { legend: { position: "bottom" } },
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } };
  function drawAudit() {
    // The audit page's charts (<script type="application/json" id="audit-figures">).
    var source = document.getElementById("audit-figures");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var labels = data.days.map(function (d) { return d.slice(5); });
    var categories = Object.keys(data.by_category);
    new window.Chart(document.getElementById("chart-audit-categories"), {
      type: "bar",
      data: { labels: labels, datasets: categories.map(function (c, i) {
        return { label: c, data: data.by_category[c], backgroundColor: palette[i % palette.length] };
      }) },
      options: Object.assign({}, common, { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } })
    });
    new window.Chart(document.getElementById("chart-audit-actors"), {
      type: "bar",
      data: { labels: data.top_actors.map(function (a) { return a.actor; }),
              datasets: [{ label: "Events", data: data.top_actors.map(function (a) { return a.events; }), backgroundColor: palette[0] }] },
      options: Object.assign({}, common, { indexAxis: "y", plugins: { legend: { display: false } },
                                           scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } })
    });
    new window.Chart(document.getElementById("chart-audit-denied"), {
      type: "bar",
      data: { labels: labels, datasets: [{ label: "Denied attempts", data: data.denied, backgroundColor: palette[3] }] },
      options: common
    });
  }
  function drawRetention() {
    // The Data retention page: stored rows per category at each run.
    var source = document.getElementById("retention-figures");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var categories = Object.keys(data.rows);
    new window.Chart(document.getElementById("chart-retention-stored"), {
      type: "line",
      data: { labels: data.days, datasets: categories.map(function (c, i) {
        return { label: c, data: data.rows[c], borderColor: palette[i % palette.length],
                 backgroundColor: palette[i % palette.length], tension: 0.2 };
      }) },
      options: Object.assign({}, common, { maintainAspectRatio: false })
    });
  }
  function drawUsage() {
    // The Usage page: per metric, a series per team, member, agent or integration.
    var source = document.getElementById("usage-figures");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var labels = data.days.map(function (d) { return d.slice(5); });
    var stacked = { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } };
    function bars(canvas, series, extra) {
      var keys = Object.keys(series);
      var sets = keys.map(function (k, i) {
        return { label: k, data: series[k], backgroundColor: palette[i % palette.length] };
      });
      (extra || []).forEach(function (e) { sets.push(e); });
      new window.Chart(document.getElementById(canvas), {
        type: "bar", data: { labels: labels, datasets: sets },
        options: Object.assign({}, common, { scales: stacked })
      });
    }
    bars("chart-usage-calls", data.series.calls);
    var refused = labels.map(function (_, i) {
      return Object.keys(data.series.denied).reduce(function (sum, k) { return sum + data.series.denied[k][i]; }, 0);
    });
    bars("chart-usage-errors", data.series.errors, [{ label: "refused (all)", data: refused, backgroundColor: "#adb5bd" }]);
    bars("chart-usage-runs", data.series.runs);
    new window.Chart(document.getElementById("chart-usage-members"), {
      type: "line",
      data: { labels: labels, datasets: Object.keys(data.series.members).map(function (k, i) {
        return { label: k, data: data.series.members[k], borderColor: palette[i % palette.length],
                 backgroundColor: palette[i % palette.length], tension: 0.2 };
      }) },
      options: common
    });
  }
  function draw() {
    drawAudit();
    drawRetention();
    drawUsage();
    var source = document.getElementById("figures");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var labels = data.days.map(function (d) { return d.slice(5); });
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
