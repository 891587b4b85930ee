import { T, $, el, api, showError, loadFailed, fmtTime } from "../core.js";
import { cell } from "../tables.js";

export default function urgentBoard() {
  var root = $("board"), id = root.dataset.id, tbody = document.querySelector("#b-table tbody"), timer = null;
  function load() {
    api("GET", "/api/v1/urgent/" + encodeURIComponent(id)).then(function (u) {
      showError("load-error", "");
      $("b-title").textContent = u.title || "";
      var counts = {}; tbody.textContent = "";
      u.stations.forEach(function (s) {
        counts[s.state] = (counts[s.state] || 0) + 1;
        var tr = el("tr"); tr.dataset.station = s.code; var th = el("th", s.code); th.scope = "row"; tr.appendChild(th);
        cell(tr, T("state_" + s.state), "state st-" + s.state).dataset.state = s.state;
        tbody.appendChild(tr);
      });
      var ul = $("b-counts"); ul.textContent = "";
      Object.keys(counts).forEach(function (k) { var li = el("li", null, "st-" + k); li.appendChild(el("span", counts[k], "n")); li.appendChild(document.createTextNode(" " + T("state_" + k))); ul.appendChild(li); });
      if (u.text) { $("b-text").textContent = T("urgent_text") + ": " + u.text; $("b-text").hidden = false; }
      var expired = !!u.expires_at && new Date(u.expires_at).getTime() <= Date.now();
      if (u.expires_at) { $("b-expires").textContent = T("notice_expires") + " " + fmtTime(u.expires_at) + (expired ? " (" + T("expired") + ")" : ""); $("b-expires").hidden = false; }
      // Finished: played (or failed) everywhere, cancelled, or expired. Nothing left to cancel.
      var open = !u.cancelled_at && !expired && u.stations.some(function (s) { return ["pending", "received", "playing"].indexOf(s.state) >= 0; });
      var c = $("b-cancel"); if (c) c.hidden = !open;
      $("b-finished").hidden = open;
      if (!open && timer) { clearInterval(timer); timer = null; }
    }).catch(loadFailed);
  }
  var c = $("b-cancel");
  if (c) c.addEventListener("click", function () {
    if (!confirm(T("confirm_cancel_notice"))) return;
    api("POST", "/api/v1/urgent/" + encodeURIComponent(id) + "/cancel").then(load).catch(loadFailed);
  });
  load(); timer = setInterval(load, 2000);
}
