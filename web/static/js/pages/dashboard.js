import { T, $, el, api, showError, loadFailed, fmtTime, LOCALE } from "../core.js";
import { cell, stationState } from "../tables.js";

// Dashboard: every station, refreshed every 10 s.
export default function dashboard() {
  var tbody = document.querySelector("#stations tbody");
  function load() {
    api("GET", "/api/v1/stations").then(function (list) {
      showError("load-error", "");
      var on = 0, playing = 0, warnings = 0;
      tbody.textContent = "";
      list.forEach(function (s) {
        var w = stationState(s);
        if (s.online) on++; if (s.now_playing) playing++; if (w.length) warnings++;
        var tr = el("tr"); tr.dataset.station = s.code;
        var th = el("th"); th.scope = "row";
        th.appendChild(el("span", s.name)); th.appendChild(el("br"));
        var a = el("a", s.code + " · " + T("week_link")); a.href = "/stations/" + encodeURIComponent(s.code) + "/week"; th.appendChild(a);
        tr.appendChild(th);
        cell(tr, s.online ? T("online") : T("offline"), s.online ? "state good" : "state bad");
        cell(tr, s.now_playing ? (s.now_playing.title || s.now_playing.media_id || "") : T("nothing"));
        cell(tr, s.last_seen ? fmtTime(s.last_seen) : T("never"));
        cell(tr, s.next ? fmtTime(s.next.starts_at, s.timezone) + " · " + s.next.title : T("nothing"));
        var cache = s.cache_ready === true ? T("cache_ready") : s.cache_ready === false ? T("cache_missing").replace("{n}", s.missing_media) : T("unknown");
        cell(tr, cache, s.cache_ready === false ? "warn" : "");
        var off = s.clock_offset_ms;
        cell(tr, off === null || off === undefined ? T("unknown") : Math.abs(off) > 2000 ? T("clock_off").replace("{s}", (off / 1000).toFixed(1)) : T("clock_ok"), w.indexOf("clock") >= 0 ? "warn" : "");
        var remote = typeof s.volume === "number" ? T("volume_pct").replace("{v}", s.volume) : T("unknown");
        var c = s.last_command;
        if (c) {
          remote += " · " + T("cmd_" + c.kind).replace("{v}", c.volume) + ": " + T("cmd_" + c.state) + (c.state === "failed" && c.reason ? " (" + c.reason + ")" : "");
        }
        cell(tr, remote, c && c.state === "failed" ? "remote warn" : "remote");
        tbody.appendChild(tr);
      });
      $("c-total").textContent = list.length; $("c-online").textContent = on;
      $("c-offline").textContent = list.length - on; $("c-playing").textContent = playing;
      $("c-warnings").textContent = warnings;
      $("updated").textContent = new Date().toLocaleTimeString(LOCALE);
    }).catch(loadFailed);
  }
  load(); setInterval(load, 10000);
}
