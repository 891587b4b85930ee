import { T, $, el, api, loadFailed, LOCALE } from "../core.js";

// One station's week: a column per local day.
export default function week() {
  var root = $("week"), code = root.dataset.station, tz = root.dataset.tz, offset = 0;
  function dayKey(d) { return new Date(d).toLocaleDateString("en-CA", { timeZone: tz }); }
  function load() {
    var from = new Date(Date.now() + offset * 7 * 86400000); from.setUTCHours(0, 0, 0, 0);
    from = new Date(from.getTime() - 86400000);
    var to = new Date(from.getTime() + 8 * 86400000);
    api("GET", "/api/v1/stations/" + encodeURIComponent(code) + "/plan?from=" + from.toISOString() + "&to=" + to.toISOString())
      .then(function (plan) {
        var cal = $("calendar"); cal.textContent = "";
        var start = new Date(Date.now() + offset * 7 * 86400000), cols = {};
        for (var i = 0; i < 7; i++) {
          var d = new Date(start.getTime() + i * 86400000), key = dayKey(d);
          var col = el("section", null, "day"); col.dataset.day = key;
          col.appendChild(el("h2", d.toLocaleDateString(LOCALE, { timeZone: tz, weekday: "long", day: "numeric", month: "numeric" })));
          col.appendChild(el("ul")); cal.appendChild(col); cols[key] = col;
        }
        plan.forEach(function (p) {
          var col = cols[dayKey(p.starts_at)]; if (!col) return;
          var li = el("li", null, "occ prio-" + p.priority + (p.status ? " st-" + p.status : ""));
          li.appendChild(el("time", new Date(p.starts_at).toLocaleTimeString(LOCALE, { timeZone: tz, hour: "2-digit", minute: "2-digit" })));
          li.appendChild(el("span", " " + p.title));
          li.appendChild(el("span", T("prio_" + p.priority), "badge prio-" + p.priority));
          if (p.status === "interrupted" || p.status === "skipped") li.appendChild(el("span", T("status_" + p.status), "badge st-" + p.status));
          col.querySelector("ul").appendChild(li);
        });
      }).catch(loadFailed);
  }
  $("w-prev").addEventListener("click", function () { offset--; load(); });
  $("w-next").addEventListener("click", function () { offset++; load(); });
  load();
}
