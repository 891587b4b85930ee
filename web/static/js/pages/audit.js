import { T, $, el, showError, fmtTime } from "../core.js";
import { cell, pagedTable } from "../tables.js";

// Audit log: filters and pages of 50, newest first.
export default function audit() {
  pagedTable({
    path: "/api/v1/audit", prefix: "au", form: $("audit-filter"), columns: 6,
    tbody: document.querySelector("#audit-table tbody"),
    query: function () {
      showError("au-to-error", "");
      var q = [];
      if ($("au-user").value.trim()) q.push("user=" + encodeURIComponent($("au-user").value.trim()));
      if ($("au-action").value) q.push("action=" + encodeURIComponent($("au-action").value));
      if ($("au-from").value) q.push("from=" + encodeURIComponent(new Date($("au-from").value + "T00:00:00").toISOString()));
      if ($("au-to").value) q.push("to=" + encodeURIComponent(new Date(new Date($("au-to").value + "T00:00:00").getTime() + 86400000).toISOString()));
      if ($("au-from").value && $("au-to").value && $("au-to").value < $("au-from").value) { showError("au-to-error", T("err_to_before_from")); return null; }
      return q;
    },
    row: function (a) {
      var tr = el("tr"); var th = el("th", fmtTime(a.at)); th.scope = "row"; tr.appendChild(th);
      cell(tr, a.user); cell(tr, a.action, "action"); cell(tr, a.target);
      var d = a.detail && typeof a.detail === "object" ? Object.keys(a.detail).map(function (k) { return k + ": " + JSON.stringify(a.detail[k]); }).join(", ") : (a.detail === null ? "" : JSON.stringify(a.detail));
      cell(tr, d, "detail"); cell(tr, a.remote || "—");
      return tr;
    },
  });
}
