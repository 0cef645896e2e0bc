// The analytics dashboard. Draws the server's figures (json_script "dashboard-data") with
// Chart.js, then stays live over the session-authenticated WebSocket: it joins the
// workspace topic, lists run.* events in the live feed (each run an element
// `#feed [data-run-id]` with a `status-<status>` class), shows `analytics.updated` counters,
// and re-reads every figure (GET /dashboard/data) after each of those (the server sends them
// at most every few seconds).
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var dataNode = $("dashboard-data");
  if (!dataNode) return;
  var data = JSON.parse(dataNode.textContent);
  var WS_PATH = document.body.dataset.wsPath;
  var workspaceId = Number(document.body.dataset.workspaceId);
  var charts = {};
  var MAX_FEED = 100;

  function number(value, digits) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits || 0 });
  }

  function label(iso) {
    var d = new Date(iso);
    if (data.bucket === "hour") return d.toISOString().slice(11, 16);
    return d.toISOString().slice(5, 10);
  }

  function drawCards(summary) {
    $("card-runs").textContent = number(summary.runs.total);
    var rate = summary.runs.success_rate;
    $("card-success").textContent = rate === null ? "–" : number(rate * 100, 1) + " %";
    var p95 = summary.runs.duration_seconds.p95;
    $("card-p95").textContent = p95 === null ? "–" : number(p95, 2) + " s";
    $("card-tokens").textContent = number(summary.tokens.total);
    $("card-cost").textContent = number(summary.cost, 4);
  }

  function chart(id, config) {
    config.options = Object.assign(
      { animation: false, responsive: true, maintainAspectRatio: false },
      config.options || {}
    );
    if (charts[id]) {
      charts[id].data = config.data;
      charts[id].update();
    } else {
      charts[id] = new Chart($(id), config);
    }
  }

  function drawCharts(series) {
    var labels = series.runs.map(function (p) { return label(p.bucket); });
    var values = function (metric) { return series[metric].map(function (p) { return p.value; }); };
    var runs = values("runs");
    var failures = values("failures");
    chart("chart-runs", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          { label: "runs", data: runs, backgroundColor: "#2563eb" },
          { label: "failed", data: failures, backgroundColor: "#dc2626" },
        ],
      },
    });
    chart("chart-success", {
      type: "line",
      data: {
        labels: labels,
        datasets: [{
          label: "success rate %",
          data: runs.map(function (n, i) { return n ? (100 * (n - failures[i])) / n : null; }),
          borderColor: "#15803d",
          backgroundColor: "#15803d",
          spanGaps: true,
        }],
      },
      options: { scales: { y: { min: 0, max: 100 } } },
    });
    chart("chart-cost", {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          { label: "cost", data: values("cost"), borderColor: "#9333ea", backgroundColor: "#9333ea", yAxisID: "y" },
          { label: "tokens", data: values("tokens"), borderColor: "#f59e0b", backgroundColor: "#f59e0b", yAxisID: "y1" },
        ],
      },
      options: { scales: { y: { position: "left" }, y1: { position: "right", grid: { drawOnChartArea: false } } } },
    });
  }

  function drawInsights(insights) {
    var list = $("insights");
    var slowest = $("slowest").querySelector("tbody");
    list.replaceChildren();
    slowest.replaceChildren();
    insights.forEach(function (insight) {
      var li = document.createElement("li");
      li.dataset.kind = insight.kind;
      var badge = document.createElement("span");
      badge.className = "severity severity-" + insight.severity;
      badge.textContent = insight.severity;
      var title = document.createElement("strong");
      title.textContent = " " + insight.title;
      var explanation = document.createElement("div");
      explanation.className = "explanation";
      explanation.textContent = insight.explanation;
      li.append(badge, title, explanation);
      list.append(li);
      if (insight.kind === "slowest_step") {
        var tr = document.createElement("tr");
        [insight.subject.name, number(insight.evidence.avg_latency_ms) + " ms", number(insight.evidence.runs)]
          .forEach(function (text) {
            var td = document.createElement("td");
            td.textContent = text;
            tr.append(td);
          });
        slowest.append(tr);
      }
    });
    if (!insights.length) {
      var none = document.createElement("li");
      none.textContent = "Nothing to report in this period.";
      list.append(none);
    }
  }

  function draw() {
    drawCards(data.summary);
    drawCharts(data.series);
    drawInsights(data.insights);
  }

  // One request for every figure on the page (GET /dashboard/data, session-authenticated).
  var refreshing = null;
  var again = false;
  function refresh() {
    if (refreshing) { again = true; return refreshing; }
    var query = new URLSearchParams({ workspace: workspaceId, time_range: data.time_range });
    refreshing = fetch("/dashboard/data?" + query, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (!response.ok) throw new Error("dashboard data: HTTP " + response.status);
      return response.json();
    }).then(function (fresh) {
      data = fresh;
      draw();
      $("errors").textContent = "";
    }).catch(function (err) {
      $("errors").textContent = String(err);
    }).finally(function () {
      refreshing = null;
      if (again) { again = false; refresh(); }
    });
    return refreshing;
  }

  function showRun(event) {
    var run = event.data;
    var id = run.run_id;
    if (!id) return;
    var li = $("feed").querySelector('[data-run-id="' + id + '"]');
    if (!li) {
      li = document.createElement("li");
      li.dataset.runId = id;
      $("feed").prepend(li);
      while ($("feed").children.length > MAX_FEED) $("feed").lastElementChild.remove();
    }
    var status = run.status || event.type.split(".")[1];
    li.className = "status-" + status;
    li.dataset.status = status;
    li.textContent = "run " + id + " · workflow " + run.workflow_id + " · " + status +
      (run.finished_at ? " · " + number(run.tokens_in + run.tokens_out) + " tokens" : "");
  }

  function showLive(event) {
    var d = event.data;
    var live = $("live-hour");
    live.textContent = number(d.total) + " runs · " + number(d.by_status.succeeded) + " ok · " +
      number(d.by_status.failed) + " failed";
    live.dataset.updatedAt = event.ts;
    live.dataset.updates = String(Number(live.dataset.updates || 0) + 1);
    refresh();
  }

  var retryDelay = 1000;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + WS_PATH);
    socket.onopen = function () {
      $("status").textContent = "live";
      $("status").className = "open";
      retryDelay = 1000;
      socket.send(JSON.stringify({ type: "join_workspace", workspace_id: workspaceId }));
    };
    socket.onclose = function (e) {
      $("status").textContent = "reconnecting (" + e.code + ")";
      $("status").className = "closed";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    };
    socket.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (err) { return; }
      if (event.type === "analytics.updated") showLive(event);
      else if (event.type.indexOf("run.") === 0) showRun(event);
      else if (event.type === "workspace.snapshot") $("status").dataset.joined = "true";
      else if (event.type === "error") $("errors").textContent = event.data && event.data.message || "error";
    };
  }

  draw();
  connect();
})();
