/* otelkit status page: reads status.json every few seconds and draws it (charts: uPlot). */
(function () {
  "use strict";
  var jsonUrl = document.querySelector('meta[name="otelkit-status-json"]').content;
  var state = { last: null, refreshes: 0, errors: 0, charts: {}, paused: false, timer: null };
  window.otelkitStatus = state;

  function $(id) { return document.getElementById(id); }
  function text(value) { return value === null || value === undefined ? "—" : String(value); }
  function fixed(value, digits) { return value === null || value === undefined ? "—" : value.toFixed(digits); }
  function percent(value) { return value === null || value === undefined ? "—" : (value * 100).toFixed(2) + " %"; }
  function ms(value) { return value === null || value === undefined ? "—" : (value * 1000).toFixed(1) + " ms"; }
  function count(value) { return value === null || value === undefined ? "—" : Math.round(value).toLocaleString("en"); }
  function bytes(value) {
    if (value === null || value === undefined) return "—";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (value >= 1024 && i < units.length - 1) { value /= 1024; i++; }
    return value.toFixed(i ? 1 : 0) + " " + units[i];
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 120) return Math.round(seconds) + " s";
    if (seconds < 7200) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }
  state.format = { fixed: fixed, percent: percent, ms: ms, count: count };

  /* Status words and icons beside the colours: readable without them. */
  var LOOKS = {
    healthy: ["good", "✓", "healthy"], degraded: ["warn", "!", "degraded"],
    unhealthy: ["bad", "✗", "unhealthy"], pass: ["good", "✓", "pass"], fail: ["bad", "✗", "fail"],
    firing: ["bad", "✗", "firing"], pending: ["warn", "!", "pending"], spent: ["bad", "✗", "spent"]
  };
  function badge(word) {
    var look = LOOKS[word] || ["unknown", "?", word];
    var span = document.createElement("span");
    span.className = "badge " + look[0];
    var icon = document.createElement("span");
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = look[1] + " ";
    span.appendChild(icon);
    span.appendChild(document.createTextNode(look[2]));
    return span;
  }

  function rows(tbody, items, cells, empty, width) {
    tbody.textContent = "";
    if (!items.length) {
      var tr = tbody.insertRow(), td = tr.insertCell();
      td.colSpan = width; td.textContent = empty;
      return;
    }
    items.forEach(function (item) {
      var tr = tbody.insertRow();
      cells(item).forEach(function (cell) {
        var td = tr.insertCell();
        if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell;
      });
    });
  }

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function chart(id, series, values) {
    var el = $(id);
    var axis = { stroke: cssVar("--muted"), grid: { stroke: cssVar("--line") }, ticks: { stroke: cssVar("--line") } };
    var opts = {
      width: Math.max(el.clientWidth, 300), height: 220, legend: { show: true },
      scales: { x: { time: true } }, axes: [axis, Object.assign({ values: values }, axis)],
      series: [{}].concat(series.map(function (s, i) {
        return { label: s, stroke: cssVar("--series-" + (i + 1)), width: 2, points: { show: true } };
      }))
    };
    return new uPlot(opts, [[]].concat(series.map(function () { return []; })), el);
  }

  function ensureCharts() {
    if (state.charts.rps) return;
    state.charts.rps = chart("chart-rps", ["requests/s"], function (u, v) { return v.map(function (x) { return x.toFixed(1); }); });
    state.charts.latency = chart("chart-latency", ["p50 ms", "p95 ms", "p99 ms"], function (u, v) { return v.map(function (x) { return x.toFixed(0); }); });
    window.addEventListener("resize", function () {
      Object.keys(state.charts).forEach(function (key) {
        var c = state.charts[key];
        c.setSize({ width: Math.max(c.root.parentNode.clientWidth, 300), height: 220 });
      });
    });
  }

  function toMs(list) { return list.map(function (v) { return v === null ? null : v * 1000; }); }

  function drawCharts(doc) {
    ensureCharts();
    var s = doc.series;
    state.charts.rps.setData([s.t, s.rps]);
    state.charts.latency.setData([s.t, toMs(s.p50), toMs(s.p95), toMs(s.p99)]);
    var n = s.t.length;
    $("caption-rps").textContent = n
      ? "Requests per second over the last " + n + " intervals; latest " + fixed(s.rps[n - 1], 2) + " requests/s."
      : "Requests per second: waiting for a second reading.";
    $("caption-latency").textContent = n
      ? "Latency over the last " + n + " intervals; latest p50 " + ms(s.p50[n - 1]) + ", p95 " + ms(s.p95[n - 1]) + ", p99 " + ms(s.p99[n - 1]) + "."
      : "Latency: waiting for a second reading.";
  }

  function render(doc) {
    var service = doc.service || {};
    $("service").textContent = service.name || "Service";
    document.title = (service.name || "Service") + " status";
    var overall = doc.health.status;
    var top = $("overall");
    top.className = "badge " + (LOOKS[overall] || ["unknown"])[0];
    top.textContent = "";
    top.appendChild(badge(overall).firstChild);
    top.appendChild(document.createTextNode(overall + (doc.health.ready ? ", ready" : ", not ready")));
    $("updated").textContent = "updated " + new Date(doc.generated_at).toLocaleTimeString() +
      (service.processes > 1 ? " · " + service.processes + " processes" : "");
    $("window").textContent = doc.window.seconds === null ? "starting (rates after the next update)" : duration(doc.window.seconds);

    var t = doc.totals;
    $("sum-rps").textContent = fixed(t.rps, 2);
    $("sum-errors").textContent = percent(t.error_ratio);
    $("sum-p50").textContent = ms(t.p50);
    $("sum-p95").textContent = ms(t.p95);
    $("sum-p99").textContent = ms(t.p99);
    $("sum-requests").textContent = count(t.requests);

    rows($("routes").tBodies[0], doc.routes, function (r) {
      return [r.route, fixed(r.rps, 2), percent(r.error_ratio), ms(r.p50), ms(r.p95), ms(r.p99), count(r.requests)];
    }, "No requests yet.", 7);

    rows($("health").tBodies[0], doc.health.checks, function (c) {
      return [c.name, badge(c.status), c.critical ? "yes" : "no", fixed(c.latency_ms, 1) + " ms"];
    }, "No health checks registered.", 4);

    var alerts = $("alerts");
    alerts.textContent = "";
    var active = doc.alerts.active;
    if (!doc.alerts.enabled || !active.length) {
      var li = document.createElement("li");
      li.appendChild(badge("pass"));
      li.appendChild(document.createTextNode(doc.alerts.enabled ? " No alert is firing." : " In-process alerting is off."));
      alerts.appendChild(li);
    }
    active.forEach(function (a) {
      var li = document.createElement("li");
      li.appendChild(badge(a.status));
      li.appendChild(document.createTextNode(" " + a.alertname + " (" + a.severity + ")" +
        (a.value === null ? "" : ": value " + a.value.toPrecision(4)) + (a.summary ? " — " + a.summary : "")));
      alerts.appendChild(li);
    });

    $("slo-section").hidden = !doc.slos.length;
    rows($("slos").tBodies[0], doc.slos, function (o) {
      var spent = o.budget_remaining !== null && o.budget_remaining <= 0;
      var left = o.budget_remaining === null ? "—" : percent(o.budget_remaining);
      return [o.name + (o.route ? " (" + o.route + ")" : ""),
        o.objective + " %" + (o.latency ? " under " + ms(o.latency) : ""),
        percent(o.bad_ratio), spent ? badge("spent") : left,
        fixed(o.burn_rate, 2)];
    }, "", 5);

    $("db-section").hidden = !doc.db_pools.length;
    rows($("pools").tBodies[0], doc.db_pools, function (p) {
      return [p.pool, text(p.used), text(p.idle), text(p.max), text(p.pending), text(p.timeouts)];
    }, "", 6);

    $("celery-section").hidden = !doc.celery;
    if (doc.celery) {
      $("celery-active").textContent = "Tasks running now: " + text(doc.celery.active_tasks);
      rows($("tasks").tBodies[0], doc.celery.tasks, function (k) {
        return [k.task, fixed(k.rps, 2), percent(k.failure_ratio), count(k.runs)];
      }, "No task has run.", 4);
    }

    var host = $("host"), figures = [], p = doc.process || {}, s = doc.system || {};
    figures.push(["Process CPU", percent(p.cpu_utilization === undefined ? null : p.cpu_utilization)]);
    figures.push(["Process memory", bytes(p.memory_bytes)]);
    figures.push(["Threads", text(p.threads)]);
    figures.push(["Open files", text(p.open_file_descriptors)]);
    figures.push(["Uptime", duration(p.uptime_seconds)]);
    figures.push(["Host CPU", percent(s.cpu_utilization === undefined ? null : s.cpu_utilization)]);
    figures.push(["Host memory", percent(s.memory_utilization === undefined ? null : s.memory_utilization)]);
    figures.push(["Load (1 min)", s.load_average_1m === undefined ? "—" : fixed(s.load_average_1m, 2)]);
    host.textContent = "";
    figures.forEach(function (f) {
      var div = document.createElement("div"), dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = f[0]; dd.textContent = f[1];
      div.appendChild(dt); div.appendChild(dd); host.appendChild(div);
    });
    drawCharts(doc);
  }

  function problem(message) {
    var p = $("problem");
    p.hidden = !message;
    p.textContent = message || "";
  }

  function refresh() {
    var headers = { Accept: "application/json" };
    var token = sessionStorage.getItem("otelkit-status-token");
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(jsonUrl, { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) {
          $("login").hidden = false;
          $("login-message").textContent = token ? "The token was not accepted; try again." : "This status page needs the metrics token.";
          throw new Error("unauthorized");
        }
        if (!response.ok) throw new Error("status.json answered " + response.status);
        return response.json();
      })
      .then(function (doc) {
        if (doc.version !== 1) throw new Error("status.json version " + doc.version + " is not understood by this page");
        $("login").hidden = true;
        problem(null);
        state.last = doc;
        render(doc);
        state.refreshes += 1;
        schedule(doc.refresh_seconds);
      })
      .catch(function (error) {
        state.errors += 1;
        if (error.message !== "unauthorized") { problem("Could not update: " + error.message); schedule(5); }
      });
  }

  function schedule(seconds) {
    clearTimeout(state.timer);
    if (!state.paused) state.timer = setTimeout(refresh, Math.max(1, seconds) * 1000);
  }

  $("pause").addEventListener("click", function () {
    state.paused = !state.paused;
    this.setAttribute("aria-pressed", String(state.paused));
    this.textContent = state.paused ? "Resume updates" : "Pause updates";
    if (state.paused) clearTimeout(state.timer); else refresh();
  });
  $("login").addEventListener("submit", function (event) {
    event.preventDefault();
    sessionStorage.setItem("otelkit-status-token", $("token").value.trim());
    $("token").value = "";
    refresh();
  });
  refresh();
})();
