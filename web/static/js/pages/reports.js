import { T, $, el, api, showError, loadFailed, fmtTime, LOCALE } from "../core.js";
import { cell } from "../tables.js";
import { areaOptions } from "../forms.js";

// Reports: the period and area pick the CSV, the XLSX and the three charts alike.
export default function reports() {
  var timer = null;
  function update() {
    var q = [];
    showError("r-to-error", "");
    if ($("r-from").value && $("r-to").value && $("r-to").value < $("r-from").value) { showError("r-to-error", T("err_to_before_from")); return; }
    if ($("r-from").value) q.push("from=" + encodeURIComponent(new Date($("r-from").value + "T00:00:00").toISOString()));
    if ($("r-to").value) q.push("to=" + encodeURIComponent(new Date(new Date($("r-to").value + "T00:00:00").getTime() + 86400000).toISOString()));
    if ($("r-area").value) q.push("area=" + encodeURIComponent($("r-area").value));
    var qs = q.length ? "?" + q.join("&") : "";
    document.querySelectorAll("[data-report]").forEach(function (a) { a.href = a.dataset.report + qs; });
    clearTimeout(timer);
    timer = setTimeout(function () {
      document.querySelectorAll("[data-chart]").forEach(function (img) { img.src = img.dataset.chart + qs; });
      stations(qs);
    }, 300);
  }
  // Every station of the area, also one with nothing planned or logged; the ones whose
  // logs are awaited are listed on top with the instant they are awaited since.
  function stations(qs) {
    api("GET", "/api/v1/reports/airtime" + qs).then(function (r) {
      var tbody = $("r-stations").querySelector("tbody"), list = $("r-awaiting-list");
      tbody.textContent = ""; list.textContent = "";
      var one = function (x) { return x === null || x === undefined ? "–" : (Math.round(x * 10) / 10).toLocaleString(LOCALE); };
      r.stations.forEach(function (s) {
        var tr = el("tr"); tr.dataset.station = s.station;
        cell(tr, s.station_name + " (" + s.station + ")");
        ["scheduled", "played", "interrupted", "skipped", "failed", "missed", "awaiting"].forEach(function (k) {
          cell(tr, s[k], "num" + ((k === "missed" || k === "awaiting") && s[k] > 0 ? " st-missed" : ""));
        });
        cell(tr, one(s.aired_minutes), "num");
        cell(tr, s.compliance_pct === null ? "–" : one(s.compliance_pct) + " %", "num");
        tbody.appendChild(tr);
        if (s.awaiting > 0) {
          list.appendChild(el("li", T("report_awaiting_line").replace("{station}", s.station_name)
            .replace("{n}", s.awaiting).replace("{since}", fmtTime(s.awaiting_since))));
        }
      });
      $("r-awaiting").hidden = !list.children.length;
    }).catch(loadFailed);
  }
  areaOptions($("r-area")).then(update).catch(loadFailed);
  $("report-form").addEventListener("input", update);
  $("report-form").addEventListener("change", update);
  update();
}
