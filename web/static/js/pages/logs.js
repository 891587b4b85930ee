import { T, $, el, api, loadFailed, fmtTime } from "../core.js";
import { cell, pagedTable } from "../tables.js";

// Logs: filters and pages of 50.
export default function logs() {
  api("GET", "/api/v1/stations").then(function (l) {
    l.forEach(function (s) { var o = el("option", s.name); o.value = s.code; $("l-station").appendChild(o); });
  }).catch(loadFailed);
  pagedTable({
    path: "/api/v1/logs", prefix: "l", form: $("log-filter"), columns: 6,
    tbody: document.querySelector("#log-table tbody"),
    query: function () {
      var q = [];
      if ($("l-station").value) q.push("station=" + encodeURIComponent($("l-station").value));
      if ($("l-status").value) q.push("status=" + encodeURIComponent($("l-status").value));
      if ($("l-from").value) q.push("from=" + encodeURIComponent(new Date($("l-from").value + "T00:00:00").toISOString()));
      if ($("l-to").value) q.push("to=" + encodeURIComponent(new Date($("l-to").value + "T23:59:59").toISOString()));
      return q;
    },
    row: function (r) {
      var tr = el("tr"); var th = el("th", r.station); th.scope = "row"; tr.appendChild(th);
      var title = cell(tr, r.title);
      // The demo's month of history is marked so that nobody takes it for real broadcasts.
      if (String(r.id).indexOf("demo-") === 0) { title.appendChild(document.createTextNode(" ")); title.appendChild(el("span", T("log_demo"), "badge")); }
      cell(tr, fmtTime(r.scheduled_at)); cell(tr, fmtTime(r.started_at));
      cell(tr, T("log_" + r.status), "st-" + r.status); cell(tr, Math.round((r.played_ms || 0) / 1000));
      return tr;
    },
  });
}
