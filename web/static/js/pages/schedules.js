import { T, $, el, api, showError, loadFailed, fmtTime, fmtDuration, LANG } from "../core.js";
import { cell } from "../tables.js";
import { targetBoxes, checked, mediaOptions } from "../forms.js";

// Schedules: form with live preview, list.
export default function schedules() {
  var tbody = document.querySelector("#sched-table tbody");
  function load() {
    api("GET", "/api/v1/schedules").then(function (list) {
      tbody.textContent = "";
      list.forEach(function (s) {
        var tr = el("tr"); var th = el("th", s.title); th.scope = "row"; tr.appendChild(th);
        if (s.approval && s.approval !== "approved") {
          // Held back from the stations: say so, with the approver's last comment.
          var last = (s.approval_history || []).slice(-1)[0];
          th.appendChild(el("br"));
          th.appendChild(el("span", T("appr_" + s.approval) + (last && last.comment ? ": " + last.comment : ""), "warn approval"));
        }
        cell(tr, (LANG === "vi" ? s.description_vi : s.description_en) || s.cron || fmtTime(s.at));
        cell(tr, T("prio_" + s.priority));
        cell(tr, (s.stations || []).concat(s.areas || []).join(", "));
        tbody.appendChild(tr);
      });
    }).catch(loadFailed);
  }
  load();
  var form = $("sched-form");
  if (!form) return;
  mediaOptions($("s-media")).then(function () {
    // Programmes are scheduled like one bulletin.
    return api("GET", "/api/v1/programmes").then(function (list) {
      if (!list.length) return;
      var g = el("optgroup"); g.label = T("nav_programmes");
      list.forEach(function (p) {
        var o = el("option", p.title + " (" + fmtDuration(p.total_ms) + ")"); o.value = "programme:" + p.id; g.appendChild(o);
      });
      $("s-media").appendChild(g);
    });
  }).catch(loadFailed);
  api("GET", "/api/v1/stations").then(function (l) { targetBoxes($("s-stations"), l, "station"); }).catch(loadFailed);
  api("GET", "/api/v1/areas").then(function (l) { targetBoxes($("s-areas"), l, "area"); }).catch(loadFailed);
  function mode() { return form.querySelector("input[name=mode]:checked").value; }
  // The server compiles the weekly form (its days and times) and previews either form:
  // one compiler, web/src/pages/cron_form.rs. Answers the preview, or rejects with
  // { field, key } for the field to mark.
  function compile(count) {
    showError("s-days-error", ""); showError("s-times-error", ""); showError("s-cron-error", "");
    var q;
    if (mode() === "cron") {
      var c = $("s-cron").value.trim();
      if (!c) return Promise.reject({ field: "s-cron-error", key: "err_required" });
      q = "cron=" + encodeURIComponent(c);
    } else {
      var days = checked("day");
      if (!days.length) return Promise.reject({ field: "s-days-error", key: "err_no_days" });
      if (!$("s-times").value.trim()) return Promise.reject({ field: "s-times-error", key: "err_times" });
      q = "days=" + days.join(",") + "&times=" + encodeURIComponent($("s-times").value);
    }
    return api("GET", "/api/v1/schedules/preview?count=" + count + "&tz=Asia%2FHo_Chi_Minh&" + q).catch(function (e) {
      var m = e.message || "";
      if (/^days/.test(m)) throw { field: "s-days-error", key: "err_no_days" };
      if (/^times/.test(m)) throw { field: "s-times-error", key: "err_times" };
      throw { field: mode() === "cron" ? "s-cron-error" : "s-times-error", message: m };
    });
  }
  function markField(e) { showError(e.field || "s-form-error", e.key ? T(e.key) : e.message); }
  var timer = null, seq = 0;
  function preview() {
    $("weekly-fields").hidden = mode() !== "weekly"; $("cron-fields").hidden = mode() !== "cron";
    var list = $("s-next");
    list.textContent = ""; $("s-expr").textContent = ""; $("s-describe").textContent = "–";
    var my = ++seq;
    compile(5).then(function (a) {
      if (my !== seq) return;
      $("s-expr").textContent = a.exprs.join(" | ");
      $("s-describe").textContent = LANG === "vi" ? a.description_vi : a.description_en;
      a.times.forEach(function (t) { list.appendChild(el("li", fmtTime(t, "Asia/Ho_Chi_Minh"))); });
    }).catch(function (e) { if (my === seq) markField(e); });
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(preview, 250); });
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(preview, 50); });
  preview();
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    ["s-title-error", "s-media-error", "s-targets-error", "s-form-error", "s-excluded-error"].forEach(function (i) { showError(i, ""); });
    var ok = true;
    var title = $("s-title").value.trim();
    if (!title) { showError("s-title-error", T("err_required")); ok = false; }
    if (!$("s-media").value) { showError("s-media-error", T("err_no_media")); ok = false; }
    var stations = $("s-all").checked ? ["*"] : checked("station"), areas = checked("area");
    if (!stations.length && !areas.length) { showError("s-targets-error", T("err_no_targets")); ok = false; }
    var excluded = $("s-excluded").value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    function body(e) {
      var b = { title: title, stations: stations, areas: areas, cron: e,
        priority: $("s-priority").value, excluded_dates: excluded };
      var what = $("s-media").value;
      if (what.indexOf("programme:") === 0) b.programme_id = what.slice(10); else b.media_id = what;
      if ($("s-category").value.trim()) b.category = $("s-category").value.trim();
      if ($("s-starts").value) b.starts_on = $("s-starts").value;
      if ($("s-ends").value) b.ends_on = $("s-ends").value;
      return b;
    }
    compile(1).then(function (a) {
      if (!ok) return;
      var bodies = a.exprs.map(body);
      return bodies.reduce(function (p, b) { return p.then(function () { return api("POST", "/api/v1/schedules", b); }); }, Promise.resolve())
        .then(function () { $("s-status").textContent = T("saved"); load(); })
        .catch(function (e) {
          var f = /^(\w+)/.exec(e.message), map = { title: "s-title-error", media_id: "s-media-error", cron: "s-cron-error",
            stations: "s-targets-error", areas: "s-targets-error", excluded_dates: "s-excluded-error" };
          showError((f && map[f[1]]) || "s-form-error", e.message);
        });
    }, markField);
  });
}
