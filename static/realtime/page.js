// The /realtime/ page. Plain JS, no dependencies. It connects with the session cookie, joins one
// topic (a workflow by default), draws runs and steps from `<topic>.snapshot`, `run.*` and
// `step.*` events, and lists every event it receives. Each step is an element
// `[data-run-id] [data-step-key]` with a `status-<status>` class.
(function () {
  "use strict";
  var WS_PATH = document.body.dataset.wsPath; // from the page (no inline script: CSP)
  var MAX_EVENTS = 500;
  var $ = function (id) { return document.getElementById(id); };
  var socket = null;
  var current = null; // {topic, id} this page has joined
  var retryDelay = 1000;

  function setStatus(text, cls) {
    $("status").textContent = text;
    $("status").className = cls || "";
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function join(topic, id) {
    var message = { type: "join_" + topic };
    message[topic + "_id"] = id;
    current = { topic: topic, id: id };
    $("runs").replaceChildren();
    $("errors").textContent = "";
    send(message);
  }

  function leave() {
    if (!current) return;
    var message = { type: "leave_" + current.topic };
    message[current.topic + "_id"] = current.id;
    send(message);
    current = null;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + WS_PATH);
    socket.onopen = function () { setStatus("open", "open"); retryDelay = 1000; };
    socket.onclose = function (e) {
      setStatus("closed (" + e.code + "), reconnecting", "closed");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    };
    socket.onmessage = function (m) {
      var event;
      try { event = JSON.parse(m.data); } catch (err) { return; }
      handle(event);
    };
  }

  function logEvent(event) {
    var li = document.createElement("li");
    li.dataset.type = event.type;
    li.textContent = JSON.stringify(event);
    $("events").prepend(li);
    while ($("events").children.length > MAX_EVENTS) $("events").lastChild.remove();
  }

  function statusClass(el, status) {
    el.className = el.className.replace(/\bstatus-\S+/g, "").trim();
    el.classList.add("status-" + String(status).replace(/[^a-z_-]/gi, ""));
  }

  function runElement(runId) {
    var el = $("runs").querySelector('[data-run-id="' + CSS.escape(String(runId)) + '"]');
    if (el) return el;
    el = document.createElement("div");
    el.className = "run";
    el.dataset.runId = runId;
    var h = document.createElement("h3");
    h.append("Run " + runId + " ");
    var s = document.createElement("span");
    s.className = "run-status";
    h.append(s);
    var steps = document.createElement("ol");
    steps.className = "steps";
    el.append(h, steps);
    $("runs").prepend(el);
    return el;
  }

  function setRun(runId, status) {
    var el = runElement(runId);
    if (status) {
      var s = el.querySelector(".run-status");
      s.textContent = status;
      statusClass(s, status);
      statusClass(el, status);
    }
    return el;
  }

  function setStep(runId, key, status, extra) {
    var run = runElement(runId);
    var el = run.querySelector('[data-step-key="' + CSS.escape(String(key)) + '"]');
    if (!el) {
      el = document.createElement("li");
      el.className = "step";
      el.dataset.stepKey = key;
      run.querySelector("ol.steps").append(el);
    }
    el.textContent = key + ": " + (status || "?") + (extra ? " — " + extra : "");
    if (status) statusClass(el, status);
  }

  function stepKey(d) { return d.step_key || d.key || d.step; }

  function drawRun(run) {
    var runId = run.id != null ? run.id : run.run_id;
    if (runId == null) return;
    setRun(runId, run.status);
    (run.steps || run.step_runs || []).forEach(function (s) {
      setStep(runId, stepKey(s), s.status);
    });
  }

  function drawSnapshot(data) {
    $("snapshot").textContent = JSON.stringify(data, null, 2);
    var runs = data.runs || (data.run ? [data.run] : (data.steps ? [data] : []));
    runs.forEach(drawRun);
  }

  function belongsHere(d) {
    if (!current || current.topic !== "workflow" || d.workflow_id == null) return true;
    return Number(d.workflow_id) === Number(current.id);
  }

  function handle(event) {
    logEvent(event);
    var type = event.type || "", d = event.data || {};
    var kind = type.split(".")[0], verb = type.slice(kind.length + 1);
    if (type === "connection.ready") {
      fillTopics(d.topics || []);
      if (current) join(current.topic, current.id); // a reconnect: take a fresh snapshot
    } else if (verb === "snapshot") {
      drawSnapshot(d);
    } else if (type === "error") {
      $("errors").textContent = d.code + ": " + d.message;
    } else if (kind === "run" && belongsHere(d)) {
      setRun(d.run_id != null ? d.run_id : d.id, d.status || verb);
    } else if (kind === "step" && belongsHere(d) && stepKey(d) != null) {
      setStep(d.run_id, stepKey(d), d.status || verb, d.error || "");
    }
  }

  function fillTopics(names) {
    var select = $("topic"), chosen = select.value;
    select.replaceChildren();
    (names.length ? names : ["workflow"]).forEach(function (name) {
      var o = document.createElement("option");
      o.value = o.textContent = name;
      select.append(o);
    });
    if (names.indexOf(chosen) >= 0) select.value = chosen;
    else if (names.indexOf("workflow") >= 0) select.value = "workflow";
  }

  function loadWorkflows() {
    fetch("/api/v3/workflows/?page_size=100", {
      credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (body) {
      var list = $("workflow-options");
      (body.results || body || []).forEach(function (w) {
        var o = document.createElement("option");
        o.value = w.id;
        o.textContent = w.name || ("workflow " + w.id);
        list.append(o);
      });
      $("workflow-note").textContent = "";
    }).catch(function () {
      $("workflow-note").textContent = "No workflow list available; type a workflow id.";
    });
  }

  $("join-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var id = parseInt($("object-id").value, 10);
    if (id > 0) {
      if (current) leave();
      join($("topic").value, id);
    }
  });
  $("leave").addEventListener("click", leave);
  loadWorkflows();
  connect();
})();
