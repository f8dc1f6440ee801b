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
    // Legend above the plot: below it, it collides with the x-axis title on a phone.
    var out = Object.assign({ margin: { l: 56, r: 56, t: 8, b: 48 }, legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      paper_bgcolor: "#fff", plot_bgcolor: "#fff", font: { size: 12 } }, extra || {});
    // Axes grow their margin to fit their labels (long genre names turn and would be cut on a phone).
    ["xaxis", "yaxis", "yaxis2"].forEach(function (k) { out[k] = Object.assign({ automargin: true }, out[k] || {}); });
    return out;
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
      values.sort(byPlanOrder);
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
  function revenueRows(everyCountry) {
    return M.rpt_financial_revenue.filter(function (r) {
      return inRange(r.revenue_month) && (everyCountry || state.country === ALL || r.country === state.country) &&
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
  var MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  // The log's last day: a month it covers only in part says so wherever it is compared.
  var LOG_END = M.rpt_executive_summary.map(function (r) { return r.activity_date; }).sort().pop() || "";
  function monthName(k) {
    var name = MONTH_NAMES[Number(k.slice(5, 7)) - 1] + " " + k.slice(0, 4);
    var lastDay = new Date(Date.UTC(Number(k.slice(0, 4)), Number(k.slice(5, 7)), 0)).getUTCDate();
    return LOG_END.slice(0, 7) === k && Number(LOG_END.slice(8, 10)) < lastDay ? name + " (to day " + Number(LOG_END.slice(8, 10)) + " only)" : name;
  }
  // A tile's value covers the month range; its change names the two months it compares.
  function kpi(id, value, delta, months, better) {
    var el = document.getElementById(id);
    el.querySelector(".value").textContent = value;
    var d = el.querySelector(".delta");
    if (delta === null || !isFinite(delta)) { d.textContent = "no previous month in range"; d.className = "delta"; return; }
    d.textContent = (delta >= 0 ? "▲ " : "▼ ") + fmt(Math.abs(delta * 100), 1) + " % " + monthName(months[1]) + " vs " + monthName(months[0]);
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
    var pair = [prev, last], revPair = revKeys.slice(-2).map(month);
    kpi("k-active", fmt(t.monthlyActive), change(function (x) { return x.monthlyActive; }), pair);
    kpi("k-sessions", fmt(t.sessions), change(function (x) { return x.sessions; }), pair);
    kpi("k-hours", fmt(t.hours), change(function (x) { return x.hours; }), pair);
    kpi("k-hours-user", fmt(t.hoursPerUser, 2), change(function (x) { return x.hoursPerUser; }), pair);
    kpi("k-completion", fmt(t.completion, 1) + " %", change(function (x) { return x.completion; }), pair);
    kpi("k-revenue", money(sum(revenue, "revenue_cents")), revChange, revPair);
    var x = inMonths;
    draw("c-exec-trend", [
      { x: x, y: x.map(function (m) { return byMonth[m].session_count; }), name: "sessions", type: "scatter", mode: "lines+markers" },
      { x: x, y: x.map(function (m) { return byMonth[m].active_user_count; }), name: "active users", type: "scatter", mode: "lines+markers", yaxis: "y2" }
    ], { yaxis: { title: { text: "sessions" }, rangemode: "tozero" }, yaxis2: { title: { text: "active users" }, overlaying: "y", side: "right", rangemode: "tozero", showgrid: false } });
    draw("c-exec-completion", [
      { x: x, y: x.map(function (m) { return totals([byMonth[m]]).completion; }), name: "mean completion %", type: "scatter", mode: "lines+markers" },
      { x: x, y: x.map(function (m) { return byMonth[m].total_watch_minutes / 60; }), name: "watch hours", type: "bar", yaxis: "y2", opacity: 0.35 }
    ], { yaxis: { title: { text: "completion %" }, range: [0, 100] }, yaxis2: { title: { text: "watch hours" }, overlaying: "y", side: "right", rangemode: "tozero" } });
  }

  // ---------------------------------------------------------------- user
  // Watch hours per active user-month (bars) and mean completion (markers) for each group.
  function engagementChart(id, names, groups, label) {
    var t = names.map(function (n) { return totals(groups[n] || []); });
    draw(id, [
      { x: names, y: t.map(function (x) { return x.hoursPerUser; }), name: "watch hours per active user-month", type: "bar",
        customdata: t.map(function (x) { return x.userMonths; }),
        hovertemplate: "%{x}: %{y:.2f} h per active user-month<br>%{customdata:,} user-months<extra></extra>" },
      { x: names, y: t.map(function (x) { return x.completion; }), name: "mean completion %", type: "scatter", mode: "markers", yaxis: "y2",
        marker: { size: 12, color: "#dd8452" }, hovertemplate: "%{x}: %{y:.1f} % completion<extra></extra>" }
    ], { xaxis: { title: { text: label }, type: "category" }, yaxis: { title: { text: "hours / user-month" }, rangemode: "tozero" },
      // Completion on its whole 0-100 scale: a zoomed axis would make noise look like a gap.
      yaxis2: { title: { text: "completion %" }, overlaying: "y", side: "right", showgrid: false, range: [0, 100], tickmode: "linear", tick0: 0, dtick: 20 } });
  }
  function user() {
    var plans = dims("subscription_type").slice(1), perPlan = {};
    plans.forEach(function (p) {
      perPlan[p] = activity(state.country, p, state.device).filter(function (r) { return inRange(r.activity_month); });
    });
    engagementChart("c-user-plan", plans, perPlan, "plan");
    var ue = M.rpt_user_engagement.filter(function (r) {
      return inRange(r.activity_month) && (state.country === ALL || r.country === state.country) &&
        (state.plan === ALL || r.subscription_type === state.plan);
    });
    var bands = groupBy(ue, "age_band");
    engagementChart("c-user-age", Object.keys(bands).sort(), bands, "age band");
    var tenure = {};  // bands as "0-5", "6-11", ...: the axis title carries the unit
    ue.forEach(function (r) { var k = r.tenure_band.replace(" months", ""); (tenure[k] = tenure[k] || []).push(r); });
    engagementChart("c-user-tenure", Object.keys(tenure).sort(function (a, b) { return parseInt(a, 10) - parseInt(b, 10); }), tenure, "tenure, months since registration");
    var ret = M.rpt_retention_by_plan.filter(function (r) { return state.plan === ALL || r.subscription_type === state.plan; });
    var traces = Object.entries(groupBy(ret, "subscription_type")).sort(function (a, b) { return byPlanOrder(a[0], b[0]); }).map(function (e) {
      var byK = groupBy(e[1], "months_since_first_watch"), ks = Object.keys(byK).map(Number).sort(function (a, b) { return a - b; });
      return { x: ks, y: ks.map(function (k) { var c = sum(byK[k], "cohort_size"); return c ? 100 * sum(byK[k], "retained_users") / c : NaN; }), name: e[0], type: "scatter", mode: "lines+markers", marker: { color: PLAN_COLOURS[e[0]] }, line: { color: PLAN_COLOURS[e[0]] } };
    });
    draw("c-user-retention", traces, { xaxis: { title: { text: "months since first watch" } }, yaxis: { title: { text: "retained %" }, rangemode: "tozero" } });
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
    }), { barmode: "group", yaxis: { title: { text: "mean completion %" } } });
    var costs = groupBy(M.rpt_content_costs, "content_type"), types = Object.keys(costs).sort();
    popularity("c-content-budget", types, costs, function (r) { return r.production_budget / 1e6; }, "production budget, USD million");
    popularity("c-content-rating", types, costs, function (r) { return r.rating; }, "rating");
  }
  // One point per title against its popularity; buttons switch between the log's sessions and
  // the catalogue's views counter (different measures, never mixed on one axis).
  function popularity(id, types, byType, xOf, xTitle) {
    var measures = [["session_count", "sessions in the log"], ["views", "catalogue views"]];
    var traces = types.map(function (type) {
      var list = byType[type];
      return { x: list.map(xOf), y: list.map(function (r) { return r.session_count; }), text: list.map(function (r) { return r.title; }),
        mode: "markers", type: "scatter", name: type, marker: { size: 8, opacity: 0.7 },
        hovertemplate: "%{text}<br>" + xTitle + " %{x}<br>%{y:,}<extra>" + type + "</extra>" };
    });
    var buttons = measures.map(function (m) {
      return { label: m[1], method: "update", args: [
        { y: types.map(function (type) { return byType[type].map(function (r) { return r[m[0]]; }); }) },
        { "yaxis.title.text": m[1] }] };
    });
    draw(id, traces, { xaxis: { title: { text: xTitle } }, yaxis: { title: { text: measures[0][1] } },
      margin: { l: 56, r: 16, t: 36, b: 48 }, legend: { orientation: "h", x: 1, xanchor: "right", y: 1, yanchor: "top", bgcolor: "rgba(255,255,255,0.8)" },
      updatemenus: [{ type: "buttons", direction: "right", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom", buttons: buttons }] });
  }

  // ---------------------------------------------------------------- financial
  var PLAN_COLOURS = { Basic: "#8da0cb", Standard: "#66c2a5", Premium: "#fc8d62" };
  function byPlanOrder(a, b) { var i = PLAN_ORDER.indexOf(a), j = PLAN_ORDER.indexOf(b); return (i < 0 ? 99 : i) - (j < 0 ? 99 : j) || (a < b ? -1 : 1); }
  function financial() {
    var rev = revenueRows();
    function totalsBy(key) { var g = groupBy(rev, key); return Object.keys(g).map(function (k) { return [k, sum(g[k], "revenue_cents") / 100]; }); }
    var plans = totalsBy("subscription_type").sort(function (a, b) { return byPlanOrder(a[0], b[0]); });
    draw("c-fin-plan", [{ x: plans.map(function (p) { return p[0]; }), y: plans.map(function (p) { return p[1]; }), type: "bar",
      marker: { color: plans.map(function (p) { return PLAN_COLOURS[p[0]] || "#4c72b0"; }) }, hovertemplate: "%{x}: $%{y:,.0f}<extra></extra>" }],
      { yaxis: { title: { text: "revenue, USD" } } });
    var genres = totalsBy("genre").sort(function (a, b) { return b[1] - a[1]; });  // ranked
    draw("c-fin-genre", [{ x: genres.map(function (g) { return g[0]; }), y: genres.map(function (g) { return g[1]; }), type: "bar",
      hovertemplate: "%{x}: $%{y:,.0f}<extra></extra>" }], { yaxis: { title: { text: "revenue, USD" } } });
    var byPlan = groupBy(rev, "subscription_type");
    draw("c-fin-month", Object.keys(byPlan).sort(byPlanOrder).map(function (p) {
      var g = groupBy(byPlan[p], "revenue_month"), k = Object.keys(g).sort();
      return { x: k.map(month), y: k.map(function (m) { return sum(g[m], "revenue_cents") / 100; }), name: p, type: "bar",
        marker: { color: PLAN_COLOURS[p] }, hovertemplate: p + " %{x}: $%{y:,.0f}<extra></extra>" };
    }), { barmode: "stack", yaxis: { title: { text: "revenue, USD" } }, legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", traceorder: "normal" } });
    var revMonth = groupBy(rev, "revenue_month");
    var act = activity(state.country, state.plan, ALL).filter(function (r) { return inRange(r.activity_month); });
    var x = act.map(function (r) { return month(r.activity_month); });
    draw("c-fin-per-hour", [{ x: x, y: act.map(function (r) { var c = revMonth[r.activity_month]; return c ? sum(c, "revenue_cents") / 100 / (r.total_watch_minutes / 60) : NaN; }), type: "scatter", mode: "lines+markers", name: "USD per watch hour",
      hovertemplate: "%{x}: $%{y:.2f} per watch hour<extra></extra>" }],
      { yaxis: { title: { text: "USD per watch hour" }, rangemode: "tozero" } });
  }

  // ---------------------------------------------------------------- geographic
  function geographic() {
    // Countries ranked by registered users; the selected one highlighted, the others kept for comparison.
    var geo = M.rpt_geographic.slice().sort(function (a, b) { return b.user_count - a.user_count || (a.country < b.country ? -1 : 1); });
    var x = geo.map(function (r) { return r.country; });
    var colors = x.map(function (c) { return state.country === ALL || c === state.country ? "#2f6fab" : "#c5d3e2"; });
    function bars(id, values, title, hover) {
      draw(id, [{ x: x, y: values, type: "bar", name: title, marker: { color: colors }, hovertemplate: hover }], { yaxis: { title: { text: title } } });
    }
    bars("c-geo-users", geo.map(function (r) { return r.user_count; }), "users", "%{x}: %{y:,} users<extra></extra>");
    // Sessions and revenue follow the month range and plan (and device, for sessions).
    var sessions = {};
    M.rpt_dashboard_activity.forEach(function (r) {
      if (r.country !== ALL && r.subscription_type === state.plan && r.device_type === state.device && inRange(r.activity_month)) {
        sessions[r.country] = (sessions[r.country] || 0) + r.session_count;
      }
    });
    bars("c-geo-sessions", x.map(function (c) { return sessions[c] || 0; }), "sessions", "%{x}: %{y:,} sessions<extra></extra>");
    var revenue = groupBy(revenueRows(true), "country");
    bars("c-geo-revenue", x.map(function (c) { return sum(revenue[c] || [], "revenue_cents") / 100; }), "revenue, USD", "%{x}: $%{y:,.0f}<extra></extra>");
    var country = state.country === ALL ? x[0] : state.country;
    var top = M.rpt_top_content_by_country.filter(function (r) { return r.country === country && r.ranking_metric === "sessions"; })
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
