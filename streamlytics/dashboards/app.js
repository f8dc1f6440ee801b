/* The five dashboards, drawn from the marts embedded in the page (window.DASHBOARD_DATA).
   Filters (month range, country, plan, device) apply to every chart whose mart has that
   dimension; each chart's note names the filters it ignores. No network request is made. */
(function () {
  "use strict";
  var D = window.DASHBOARD_DATA;
  var ALL = "All";
  var CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["sendDataToCloud"] };
  var state = { from: null, to: null, country: ALL, plan: ALL, device: ALL };

  function rows(mart) {
    var cols = D.marts[mart], keys = Object.keys(cols), n = keys.length ? cols[keys[0]].length : 0, out = [];
    for (var i = 0; i < n; i++) { var r = {}; keys.forEach(function (k) { r[k] = cols[k][i]; }); out.push(r); }
    return out;
  }
  var M = {};
  Object.keys(D.marts).forEach(function (m) { M[m] = rows(m); });

  function uniq(values) { return Array.from(new Set(values)).sort(); }
  function sum(list, key) { return list.reduce(function (a, r) { return a + (Number(r[key]) || 0); }, 0); }
  function fmt(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    return Number(x).toLocaleString("en-US", { maximumFractionDigits: digits || 0, minimumFractionDigits: digits || 0 });
  }
  function money(cents) { return "$" + fmt(cents / 100, 0); }
  function month(m) { return m.slice(0, 7); }
  function inRange(m) { var k = month(m); return k >= state.from && k <= state.to; }
  function groupBy(list, key) {
    var g = {};
    list.forEach(function (r) { (g[r[key]] = g[r[key]] || []).push(r); });
    return g;
  }
  function layout(extra) {
    return Object.assign({ margin: { l: 56, r: 56, t: 8, b: 48 }, legend: { orientation: "h", y: -0.2 },
      paper_bgcolor: "#fff", plot_bgcolor: "#fff", font: { size: 12 } }, extra || {});
  }
  function draw(id, traces, extra) { Plotly.react(id, traces, layout(extra), CONFIG); }

  // ---------------------------------------------------------------- filters
  var months = uniq(M.rpt_dashboard_activity.map(function (r) { return month(r.activity_month); }));
  state.from = months[0]; state.to = months[months.length - 1];
  function options(select, values, selected) {
    select.innerHTML = "";
    values.forEach(function (v) { var o = document.createElement("option"); o.value = v; o.textContent = v; o.selected = v === selected; select.appendChild(o); });
  }
  var PLAN_ORDER = ["Basic", "Standard", "Premium"];
  function dims(key) {
    var values = uniq(M.rpt_dashboard_activity.map(function (r) { return r[key]; }).filter(function (v) { return v !== ALL; }));
    if (key === "subscription_type") {  // plans in price order, any other plan after them
      values.sort(function (a, b) { var i = PLAN_ORDER.indexOf(a), j = PLAN_ORDER.indexOf(b); return (i < 0 ? 99 : i) - (j < 0 ? 99 : j) || (a < b ? -1 : 1); });
    }
    return [ALL].concat(values);
  }
  options(document.getElementById("f-from"), months, state.from);
  options(document.getElementById("f-to"), months, state.to);
  options(document.getElementById("f-country"), dims("country"), ALL);
  options(document.getElementById("f-plan"), dims("subscription_type"), ALL);
  options(document.getElementById("f-device"), dims("device_type"), ALL);
  [["f-from", "from"], ["f-to", "to"], ["f-country", "country"], ["f-plan", "plan"], ["f-device", "device"]].forEach(function (p) {
    document.getElementById(p[0]).addEventListener("change", function (e) {
      state[p[1]] = e.target.value;
      if (state.from > state.to) { var t = state.from; state.from = state.to; state.to = t; }
      render();
    });
  });

  // Cube rows of the selection: one row per month for the chosen country, plan and device.
  function activity(country, plan, device) {
    return M.rpt_dashboard_activity.filter(function (r) {
      return r.country === country && r.subscription_type === plan && r.device_type === device;
    });
  }
  function revenueRows() {
    return M.rpt_financial_revenue.filter(function (r) {
      return inRange(r.revenue_month) && (state.country === ALL || r.country === state.country) &&
        (state.plan === ALL || r.subscription_type === state.plan);
    });
  }
  function totals(list) {
    var sessions = sum(list, "session_count"), minutes = sum(list, "total_watch_minutes");
    var userMonths = sum(list, "active_user_count");
    return {
      sessions: sessions, hours: minutes / 60, userMonths: userMonths,
      monthlyActive: list.length ? userMonths / list.length : NaN,
      completion: sessions ? sum(list, "sum_completion_percentage") / sessions : NaN,
      hoursPerUser: userMonths ? minutes / 60 / userMonths : NaN
    };
  }

  // ---------------------------------------------------------------- executive
  function kpi(id, value, delta, better) {
    var el = document.getElementById(id);
    el.querySelector(".value").textContent = value;
    var d = el.querySelector(".delta");
    if (delta === null || !isFinite(delta)) { d.textContent = "no previous month in range"; d.className = "delta"; return; }
    d.textContent = (delta >= 0 ? "▲ " : "▼ ") + fmt(Math.abs(delta * 100), 1) + " % vs previous month";
    d.className = "delta " + ((delta >= 0) === (better !== "down") ? "up" : "down");
  }
  function executive() {
    var sel = activity(state.country, state.plan, state.device);
    var range = sel.filter(function (r) { return inRange(r.activity_month); });
    var t = totals(range);
    var byMonth = {}; range.forEach(function (r) { byMonth[month(r.activity_month)] = r; });
    var inMonths = Object.keys(byMonth).sort();
    var last = inMonths[inMonths.length - 1], prev = inMonths[inMonths.length - 2];
    function change(f) { return last && prev ? f(totals([byMonth[last]])) / f(totals([byMonth[prev]])) - 1 : null; }
    var revenue = revenueRows();
    var revByMonth = groupBy(revenue, "revenue_month");
    var revKeys = Object.keys(revByMonth).sort();
    var revChange = revKeys.length > 1 ? sum(revByMonth[revKeys[revKeys.length - 1]], "revenue_cents") / sum(revByMonth[revKeys[revKeys.length - 2]], "revenue_cents") - 1 : null;
    kpi("k-active", fmt(t.monthlyActive), change(function (x) { return x.monthlyActive; }));
    kpi("k-sessions", fmt(t.sessions), change(function (x) { return x.sessions; }));
    kpi("k-hours", fmt(t.hours), change(function (x) { return x.hours; }));
    kpi("k-hours-user", fmt(t.hoursPerUser, 2), change(function (x) { return x.hoursPerUser; }));
    kpi("k-completion", fmt(t.completion, 1) + " %", change(function (x) { return x.completion; }));
    kpi("k-revenue", money(sum(revenue, "revenue_cents")), revChange);
    var x = inMonths;
    draw("c-exec-trend", [
      { x: x, y: x.map(function (m) { return byMonth[m].session_count; }), name: "sessions", type: "scatter", mode: "lines+markers" },
      { x: x, y: x.map(function (m) { return byMonth[m].active_user_count; }), name: "active users", type: "scatter", mode: "lines+markers", yaxis: "y2" }
    ], { yaxis: { title: "sessions" }, yaxis2: { title: "active users", overlaying: "y", side: "right" } });
    draw("c-exec-completion", [
      { x: x, y: x.map(function (m) { return totals([byMonth[m]]).completion; }), name: "mean completion %", type: "scatter", mode: "lines+markers" },
      { x: x, y: x.map(function (m) { return byMonth[m].total_watch_minutes / 60; }), name: "watch hours", type: "bar", yaxis: "y2", opacity: 0.35 }
    ], { yaxis: { title: "completion %" }, yaxis2: { title: "watch hours", overlaying: "y", side: "right" } });
  }

  // ---------------------------------------------------------------- user
  function user() {
    var plans = dims("subscription_type").slice(1);
    var perPlan = plans.map(function (p) {
      return totals(activity(state.country, p, state.device).filter(function (r) { return inRange(r.activity_month); }));
    });
    draw("c-user-plan", [
      { x: plans, y: perPlan.map(function (t) { return t.userMonths ? t.sessions / t.userMonths : NaN; }), name: "sessions per active user-month", type: "bar" },
      { x: plans, y: perPlan.map(function (t) { return t.completion; }), name: "mean completion %", type: "scatter", mode: "markers+text", yaxis: "y2", marker: { size: 12 } }
    ], { yaxis: { title: "sessions / user-month" }, yaxis2: { title: "completion %", overlaying: "y", side: "right" } });
    var ua = M.rpt_user_analytics.filter(function (r) {
      return (state.country === ALL || r.country === state.country) && (state.plan === ALL || r.subscription_type === state.plan);
    });
    var bands = groupBy(ua, "age_band"), names = Object.keys(bands).sort();
    draw("c-user-age", [
      { x: names, y: names.map(function (b) { var a = sum(bands[b], "active_user_count"); return a ? sum(bands[b], "watch_hours") / a : NaN; }), name: "watch hours per active user", type: "bar" },
      { x: names, y: names.map(function (b) { var s = sum(bands[b], "session_count"); return s ? bands[b].reduce(function (acc, r) { return acc + r.mean_completion_percentage * r.session_count; }, 0) / s : NaN; }), name: "mean completion %", type: "scatter", mode: "markers", yaxis: "y2", marker: { size: 12 } }
    ], { yaxis: { title: "hours / active user" }, yaxis2: { title: "completion %", overlaying: "y", side: "right" } });
    var ret = M.rpt_retention_by_plan.filter(function (r) { return state.plan === ALL || r.subscription_type === state.plan; });
    var traces = Object.entries(groupBy(ret, "subscription_type")).map(function (e) {
      var byK = groupBy(e[1], "months_since_first_watch"), ks = Object.keys(byK).map(Number).sort(function (a, b) { return a - b; });
      return { x: ks, y: ks.map(function (k) { var c = sum(byK[k], "cohort_size"); return c ? 100 * sum(byK[k], "retained_users") / c : NaN; }), name: e[0], type: "scatter", mode: "lines+markers" };
    });
    draw("c-user-retention", traces, { xaxis: { title: "months since first watch" }, yaxis: { title: "retained %", rangemode: "tozero" } });
  }

  // ---------------------------------------------------------------- content
  function topTable(id, list, valueKey, label) {
    var html = "<table><thead><tr><th>#</th><th>title</th><th class=num>" + label + "</th></tr></thead><tbody>";
    list.forEach(function (r, i) { html += "<tr><td>" + (i + 1) + "</td><td>" + escapeHtml(r.title) + " <small>(" + r.content_id + ")</small></td><td class=num>" + fmt(r[valueKey]) + "</td></tr>"; });
    document.getElementById(id).innerHTML = html + "</tbody></table>";
  }
  function escapeHtml(s) { return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; }); }
  function content() {
    ["movie", "series"].forEach(function (type) {
      var bySessions = M.rpt_content_performance.filter(function (r) { return r.content_type === type && r.genre_scope === "All genres"; })
        .sort(function (a, b) { return a.performance_rank - b.performance_rank; });
      topTable("t-top-" + type + "-sessions", bySessions, "session_count", "sessions");
      var byViews = M.rpt_content_costs.filter(function (r) { return r.content_type === type; })
        .sort(function (a, b) { return b.views - a.views || (a.content_id < b.content_id ? -1 : 1); }).slice(0, 10);
      topTable("t-top-" + type + "-views", byViews, "views", "catalogue views");
    });
    var cg = groupBy(M.rpt_completion_by_genre, "content_type");
    draw("c-content-genre", Object.keys(cg).sort().map(function (type) {
      var list = cg[type].slice().sort(function (a, b) { return a.genre < b.genre ? -1 : 1; });
      return { x: list.map(function (r) { return r.genre; }), y: list.map(function (r) { return r.mean_completion_percentage; }), name: type, type: "bar",
        customdata: list.map(function (r) { return r.session_count; }), hovertemplate: "%{x}: %{y:.1f} % of %{customdata:,} sessions<extra>" + type + "</extra>" };
    }), { barmode: "group", yaxis: { title: "mean completion %" } });
    var costs = groupBy(M.rpt_content_costs, "content_type");
    draw("c-content-budget", Object.keys(costs).sort().map(function (type) {
      var list = costs[type];
      return { x: list.map(function (r) { return r.production_budget / 1e6; }), y: list.map(function (r) { return r.session_count; }), text: list.map(function (r) { return r.title + " (rating " + r.rating + ")"; }),
        mode: "markers", type: "scatter", name: type, marker: { size: list.map(function (r) { return 4 + 2 * (r.rating || 0); }), opacity: 0.7 } };
    }), { xaxis: { title: "production budget, USD million" }, yaxis: { title: "sessions" } });
  }

  // ---------------------------------------------------------------- financial
  function financial() {
    var rev = revenueRows();
    function bars(key) { var g = groupBy(rev, key), k = Object.keys(g).sort(); return { x: k, y: k.map(function (v) { return sum(g[v], "revenue_cents") / 100; }), type: "bar" }; }
    draw("c-fin-plan", [bars("subscription_type")], { yaxis: { title: "revenue, USD" } });
    var genre = bars("genre");
    draw("c-fin-genre", [genre], { yaxis: { title: "revenue, USD" } });
    var byPlan = groupBy(rev, "subscription_type");
    draw("c-fin-month", Object.keys(byPlan).sort().map(function (p) {
      var g = groupBy(byPlan[p], "revenue_month"), k = Object.keys(g).sort();
      return { x: k.map(month), y: k.map(function (m) { return sum(g[m], "revenue_cents") / 100; }), name: p, type: "bar" };
    }), { barmode: "stack", yaxis: { title: "revenue, USD" } });
    var revMonth = groupBy(rev, "revenue_month");
    var act = activity(state.country, state.plan, ALL).filter(function (r) { return inRange(r.activity_month); });
    var x = act.map(function (r) { return month(r.activity_month); });
    draw("c-fin-per-hour", [{ x: x, y: act.map(function (r) { var c = revMonth[r.activity_month]; return c ? sum(c, "revenue_cents") / 100 / (r.total_watch_minutes / 60) : NaN; }), type: "scatter", mode: "lines+markers", name: "USD per watch hour" }],
      { yaxis: { title: "USD per watch hour" } });
  }

  // ---------------------------------------------------------------- geographic
  function geographic() {
    var geo = M.rpt_geographic.slice().sort(function (a, b) { return b.session_count - a.session_count; });
    var x = geo.map(function (r) { return r.country; });
    var colors = x.map(function (c) { return state.country === ALL || c === state.country ? "#2f6fab" : "#c5d3e2"; });
    draw("c-geo-users", [{ x: x, y: geo.map(function (r) { return r.user_count; }), type: "bar", name: "users", marker: { color: colors } }], { yaxis: { title: "users" } });
    draw("c-geo-sessions", [{ x: x, y: geo.map(function (r) { return r.session_count; }), type: "bar", name: "sessions", marker: { color: colors } }], { yaxis: { title: "sessions" } });
    draw("c-geo-revenue", [{ x: x, y: geo.map(function (r) { return r.revenue_usd; }), type: "bar", name: "revenue", marker: { color: colors } }], { yaxis: { title: "revenue, USD" } });
    var country = state.country === ALL ? x[0] : state.country;
    var top = M.rpt_top_content_by_country.filter(function (r) { return r.country === country && r.ranking_metric === M.rpt_top_content_by_country[0].ranking_metric; })
      .sort(function (a, b) { return a.content_rank - b.content_rank; });
    document.getElementById("geo-country").textContent = country;
    var html = "<table><thead><tr><th>#</th><th>title</th><th>type</th><th class=num>sessions</th></tr></thead><tbody>";
    top.forEach(function (r) { html += "<tr><td>" + r.content_rank + "</td><td>" + escapeHtml(r.title) + "</td><td>" + r.content_type + "</td><td class=num>" + fmt(r.session_count) + "</td></tr>"; });
    document.getElementById("t-geo-top").innerHTML = html + "</tbody></table>";
  }

  // ---------------------------------------------------------------- tabs
  var tabs = document.querySelectorAll("nav button");
  function show(name) {
    tabs.forEach(function (b) { b.setAttribute("aria-selected", String(b.dataset.tab === name)); });
    document.querySelectorAll("main > section").forEach(function (s) { s.hidden = s.id !== name; });
    render();
  }
  tabs.forEach(function (b) { b.addEventListener("click", function () { show(b.dataset.tab); }); });
  var painters = { executive: executive, user: user, content: content, financial: financial, geographic: geographic };
  function render() {
    var visible = document.querySelector("main > section:not([hidden])");
    painters[visible.id]();
    document.body.dataset.rendered = JSON.stringify(state);
  }
  show("executive");
})();
