// Loa Xã pages: plain script, no build step. Talks to /api/v1 with the session cookie;
// changes carry the X-CSRF-Token header. Everything shown goes through textContent.
"use strict";
(function () {
  var body = document.body;
  var CSRF = body.dataset.csrf || "";
  var LANG = body.dataset.lang || "vi";
  var STR = JSON.parse(document.getElementById("i18n").textContent);
  function T(k) { return Object.prototype.hasOwnProperty.call(STR, k) ? STR[k] : k; }
  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  // `data` goes as JSON, or as it is when `ctype` names its type (CAP XML).
  function api(method, path, data, ctype) {
    var opt = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") opt.headers["X-CSRF-Token"] = CSRF;
    if (data !== undefined) { opt.headers["Content-Type"] = ctype || "application/json"; opt.body = ctype ? data : JSON.stringify(data); }
    return fetch(path, opt).then(function (r) {
      if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); }
      if (r.status === 204) return null;
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { var e = new Error((j && j.error && j.error.message) || r.statusText); e.code = j && j.error && j.error.code; throw e; }
        return j;
      });
    });
  }
  function showError(id, msg) { var e = $(id); if (!e) return; e.textContent = msg || ""; e.hidden = !msg; }
  function loadFailed(err) { showError("load-error", T("load_failed") + err.message); }
  var LOCALE = LANG === "vi" ? "vi-VN" : "en-GB";
  function fmtTime(iso, tz) {
    if (!iso) return T("nothing");
    var o = { dateStyle: "short", timeStyle: "short" }; if (tz) o.timeZone = tz;
    return new Date(iso).toLocaleString(LOCALE, o);
  }
  function fmtDuration(ms) {
    var s = Math.round(ms / 1000), m = Math.floor(s / 60); s = s % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }
  function cell(tr, text, cls) { var td = el("td", text, cls); tr.appendChild(td); return td; }

  // The language switch comes back to this page.
  var sw = document.querySelector("[data-lang-switch]");
  if (sw) sw.href = sw.getAttribute("href") + encodeURIComponent(location.pathname + location.search);

  // Crontab from weekdays and times; mirrored by web/src/pages/cron_form.rs.
  function compileCron(days, times) {
    var ds = days.map(Number).filter(function (d) { return d >= 0 && d <= 6; });
    ds = ds.filter(function (d, i) { return ds.indexOf(d) === i; }).sort(function (a, b) { return a - b; });
    if (!ds.length) return { error: "err_no_days" };
    var dow = ds.length === 7 ? "*" : ds.join(",");
    var byMinute = {}, minutes = [];
    var parts = times.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    for (var i = 0; i < parts.length; i++) {
      var m = /^(\d{1,2}):(\d{1,2})$/.exec(parts[i]);
      if (!m || +m[1] > 23 || +m[2] > 59) return { error: "err_times" };
      var h = +m[1], mi = +m[2];
      if (!byMinute[mi]) { byMinute[mi] = []; minutes.push(mi); }
      if (byMinute[mi].indexOf(h) < 0) byMinute[mi].push(h);
    }
    if (!minutes.length) return { error: "err_times" };
    minutes.sort(function (a, b) { return a - b; });
    return { exprs: minutes.map(function (mi) {
      return mi + " " + byMinute[mi].sort(function (a, b) { return a - b; }).join(",") + " * * " + dow;
    }) };
  }
  window.loaxaCompileCron = compileCron;

  function stationState(s) {
    var warn = [];
    if (s.clock_offset_ms !== null && s.clock_offset_ms !== undefined && Math.abs(s.clock_offset_ms) > 2000) warn.push("clock");
    if (s.cache_ready === false) warn.push("cache");
    if (s.output_error) warn.push("output");
    return warn;
  }

  // Dashboard: every station, refreshed every 10 s.
  function dashboard() {
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

  function mediaOptions(select) {
    return api("GET", "/api/v1/media").then(function (list) {
      list.forEach(function (m) {
        var o = el("option", m.title + " (" + fmtDuration(m.duration_ms) + ")"); o.value = m.sha256; select.appendChild(o);
      });
      return list;
    });
  }

  // Media library: list, preview, upload with progress, delete.
  function media() {
    var table = $("media-table"), tbody = table.querySelector("tbody");
    var canEdit = table.dataset.canEdit === "true";
    function load() {
      api("GET", "/api/v1/media").then(function (list) {
        tbody.textContent = "";
        if (!list.length) { var tr0 = el("tr"); var td0 = cell(tr0, T("no_items")); td0.colSpan = 5; tbody.appendChild(tr0); }
        list.forEach(function (m) {
          var tr = el("tr"); tr.dataset.sha = m.sha256;
          var th = el("th", m.title); th.scope = "row"; tr.appendChild(th);
          cell(tr, fmtDuration(m.duration_ms), "duration");
          cell(tr, m.loudness_lufs === null || m.loudness_lufs === undefined ? T("unknown") : m.loudness_lufs.toFixed(1) + " LUFS");
          var td = cell(tr, ""); var au = el("audio"); au.controls = true; au.preload = "none";
          au.src = "/api/v1/media/" + m.sha256; au.setAttribute("aria-label", T("col_preview") + ": " + m.title); td.appendChild(au);
          if (canEdit) {
            var b = el("button", T("delete"), "danger small"); b.type = "button";
            b.setAttribute("aria-label", T("delete") + ": " + m.title);
            b.addEventListener("click", function () {
              if (!confirm(T("confirm_delete"))) return;
              api("DELETE", "/api/v1/media/" + m.sha256).then(load).catch(loadFailed);
            });
            cell(tr, "").appendChild(b);
          }
          tbody.appendChild(tr);
        });
      }).catch(loadFailed);
    }
    load();
    var form = $("upload-form");
    if (!form) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var file = $("up-file").files[0];
      showError("up-file-error", "");
      if (!file) { showError("up-file-error", T("err_pick_file")); return; }
      var fd = new FormData();
      if ($("up-title").value.trim()) fd.append("title", $("up-title").value.trim());
      fd.append("file", file);
      var xhr = new XMLHttpRequest(), bar = $("up-progress");
      bar.hidden = false; bar.value = 0; $("up-status").textContent = "";
      xhr.upload.addEventListener("progress", function (e) { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); });
      xhr.addEventListener("load", function () {
        var j = {}; try { j = JSON.parse(xhr.responseText); } catch (e) { j = {}; }
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.value = 100;
          $("up-status").textContent = T("upload_done") + j.title + " — " + fmtDuration(j.duration_ms) +
            (j.loudness_lufs !== null && j.loudness_lufs !== undefined ? ", " + j.loudness_lufs.toFixed(1) + " LUFS" : "");
          form.reset(); load();
        } else {
          bar.hidden = true;
          showError("up-file-error", T("upload_refused") + ((j.error && j.error.message) || xhr.statusText));
        }
      });
      xhr.addEventListener("error", function () { bar.hidden = true; showError("up-file-error", T("load_failed")); });
      xhr.open("POST", "/api/v1/media");
      xhr.setRequestHeader("X-CSRF-Token", CSRF);
      xhr.send(fd);
    });
  }

  function targetBoxes(container, list, name) {
    list.forEach(function (s) {
      var l = el("label", null, "check"); var c = el("input"); c.type = "checkbox"; c.name = name; c.value = s.code;
      l.appendChild(c); l.appendChild(document.createTextNode(" " + s.name + " (" + s.code + ")")); container.appendChild(l);
    });
  }
  function checked(name) {
    return Array.prototype.map.call(document.querySelectorAll("input[name=" + name + "]:checked"), function (c) { return c.value; });
  }

  // Schedules: form with live preview, list.
  function schedules() {
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
    function exprs() {
      showError("s-days-error", ""); showError("s-times-error", ""); showError("s-cron-error", "");
      if (mode() === "cron") {
        var c = $("s-cron").value.trim();
        return c ? { exprs: [c] } : { error: "err_required", field: "s-cron-error" };
      }
      var r = compileCron(checked("day"), $("s-times").value);
      if (r.error) r.field = r.error === "err_no_days" ? "s-days-error" : "s-times-error";
      return r;
    }
    var timer = null, seq = 0;
    function preview() {
      $("weekly-fields").hidden = mode() !== "weekly"; $("cron-fields").hidden = mode() !== "cron";
      var r = exprs(), list = $("s-next");
      list.textContent = ""; $("s-expr").textContent = ""; $("s-describe").textContent = "–";
      if (r.error) { showError(r.field, T(r.error)); return; }
      $("s-expr").textContent = r.exprs.join(" | ");
      var my = ++seq;
      Promise.all(r.exprs.map(function (e) {
        return api("GET", "/api/v1/schedules/preview?count=5&tz=Asia%2FHo_Chi_Minh&cron=" + encodeURIComponent(e));
      })).then(function (answers) {
        if (my !== seq) return;
        $("s-describe").textContent = answers.map(function (a) { return LANG === "vi" ? a.description_vi : a.description_en; }).join("; ");
        var times = [].concat.apply([], answers.map(function (a) { return a.times; })).sort().slice(0, 5);
        times.forEach(function (t) { list.appendChild(el("li", fmtTime(t, "Asia/Ho_Chi_Minh"))); });
      }).catch(function (e) { if (my === seq) showError(mode() === "cron" ? "s-cron-error" : "s-times-error", e.message); });
    }
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(preview, 250); });
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(preview, 50); });
    preview();
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      ["s-title-error", "s-media-error", "s-targets-error", "s-form-error", "s-excluded-error"].forEach(function (i) { showError(i, ""); });
      var r = exprs(), ok = true;
      if (r.error) { showError(r.field, T(r.error)); ok = false; }
      var title = $("s-title").value.trim();
      if (!title) { showError("s-title-error", T("err_required")); ok = false; }
      if (!$("s-media").value) { showError("s-media-error", T("err_no_media")); ok = false; }
      var stations = $("s-all").checked ? ["*"] : checked("station"), areas = checked("area");
      if (!stations.length && !areas.length) { showError("s-targets-error", T("err_no_targets")); ok = false; }
      if (!ok) return;
      var excluded = $("s-excluded").value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      var bodies = r.exprs.map(function (e) {
        var b = { title: title, stations: stations, areas: areas, cron: e,
          priority: $("s-priority").value, excluded_dates: excluded };
        var what = $("s-media").value;
        if (what.indexOf("programme:") === 0) b.programme_id = what.slice(10); else b.media_id = what;
        if ($("s-category").value.trim()) b.category = $("s-category").value.trim();
        if ($("s-starts").value) b.starts_on = $("s-starts").value;
        if ($("s-ends").value) b.ends_on = $("s-ends").value;
        return b;
      });
      bodies.reduce(function (p, b) { return p.then(function () { return api("POST", "/api/v1/schedules", b); }); }, Promise.resolve())
        .then(function () { $("s-status").textContent = T("saved"); load(); })
        .catch(function (e) {
          var f = /^(\w+)/.exec(e.message), map = { title: "s-title-error", media_id: "s-media-error", cron: "s-cron-error",
            stations: "s-targets-error", areas: "s-targets-error", excluded_dates: "s-excluded-error" };
          showError((f && map[f[1]]) || "s-form-error", e.message);
        });
    });
  }

  // One station's week: a column per local day.
  function week() {
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

  // Urgent notice: form, confirmation, then the board.
  function urgent() {
    var form = $("urgent-form");
    mediaOptions($("u-media")).catch(loadFailed);
    var stations = [];
    api("GET", "/api/v1/stations").then(function (l) { stations = l; targetBoxes($("u-stations"), l, "ustation"); }).catch(loadFailed);
    api("GET", "/api/v1/urgent").then(function (l) {
      l.slice(0, 10).forEach(function (u) {
        var li = el("li"); var a = el("a", u.title + " · " + fmtTime(u.created_at || u.at)); a.href = "/urgent/" + encodeURIComponent(u.id);
        li.appendChild(a); $("u-recent").appendChild(li);
      });
    }).catch(function () {});
    function sound() { return form.querySelector("input[name=sound]:checked").value; }
    function switchSound() {
      var k = sound();
      $("u-notice-fields").hidden = k === "cap"; $("u-cap-fields").hidden = k !== "cap";
      $("u-media-field").hidden = k !== "media"; $("u-text-field").hidden = k !== "text";
    }
    form.addEventListener("change", function (ev) { if (ev.target.name === "sound") switchSound(); });
    switchSound();
    $("u-cap-file").addEventListener("change", function () {
      var f = $("u-cap-file").files[0]; if (!f) return;
      f.text().then(function (x) { $("u-cap").value = x; showError("u-cap-error", ""); });
    });
    var pending = null;
    function ask(question) {
      $("u-confirm-q").textContent = question;
      $("u-confirm").hidden = false; $("u-send").hidden = true; $("u-confirm-yes").disabled = false; $("u-confirm-yes").focus();
    }
    function closeConfirm() { $("u-confirm").hidden = true; $("u-send").hidden = false; $("u-confirm-yes").disabled = false; pending = null; }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      ["u-title-error", "u-media-error", "u-text-error", "u-targets-error", "u-cap-error", "u-form-error"].forEach(function (i) { showError(i, ""); });
      $("u-status").hidden = true;
      var k = sound(), ok = true;
      if (k === "cap") {
        var xml = $("u-cap").value.trim();
        if (!xml) { showError("u-cap-error", T("err_no_cap")); return; }
        pending = { cap: xml }; ask(T("cap_confirm_q")); return;
      }
      var title = $("u-title").value.trim();
      if (!title) { showError("u-title-error", T("err_required")); ok = false; }
      if (k === "media" && !$("u-media").value) { showError("u-media-error", T("err_no_media")); ok = false; }
      if (k === "text" && !$("u-text").value.trim()) { showError("u-text-error", T("err_no_text")); ok = false; }
      var st = $("u-all").checked ? ["*"] : checked("ustation");
      if (!st.length) { showError("u-targets-error", T("err_no_targets")); ok = false; }
      if (!ok) return;
      var repeat = Math.max(1, +$("u-repeat").value || 1);
      pending = { title: title, stations: st, repeat: repeat, chime: $("u-chime").checked };
      if (repeat > 1) pending.interval_minutes = 30;
      if (k === "media") pending.media_id = $("u-media").value; else pending.text = $("u-text").value.trim();
      ask(T("urgent_confirm_q").replace("{n}", st[0] === "*" ? T("urgent_all") + " " + stations.length : st.length));
    });
    $("u-confirm-no").addEventListener("click", closeConfirm);
    $("u-confirm-yes").addEventListener("click", function () {
      if (!pending) return;
      $("u-confirm-yes").disabled = true;
      var req = pending.cap ? api("POST", "/api/v1/cap", pending.cap, "application/cap+xml") : api("POST", "/api/v1/urgent", pending);
      var isCap = !!pending.cap;
      req.then(function (r) {
        if (r && r.id && !r.duplicate && r.aired !== false) { location.href = "/urgent/" + encodeURIComponent(r.id); return; }
        closeConfirm();
        var msg = r.duplicate ? T("cap_duplicate") : r.cancelled ? T("cap_cancelled").replace("{n}", r.cancelled.length) : T("cap_not_aired").replace("{s}", r.status || "");
        $("u-status").textContent = msg; $("u-status").hidden = false;
        if (r.duplicate && r.id) { var a = el("a", " →"); a.href = "/urgent/" + encodeURIComponent(r.id); $("u-status").appendChild(a); }
      }).catch(function (e) {
        closeConfirm();
        if (isCap) { showError("u-cap-error", e.message); return; }
        var f = /^(\w+)/.exec(e.message), map = { title: "u-title-error", media_id: "u-media-error", text: "u-text-error",
          stations: "u-targets-error", areas: "u-targets-error" };
        showError((f && map[f[1]]) || "u-form-error", e.message);
      });
    });
  }

  function urgentBoard() {
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

  // Logs: filters and pages of 50.
  function logs() {
    var page = 0, size = 50, tbody = document.querySelector("#log-table tbody");
    api("GET", "/api/v1/stations").then(function (l) {
      l.forEach(function (s) { var o = el("option", s.name); o.value = s.code; $("l-station").appendChild(o); });
    }).catch(loadFailed);
    function load() {
      var q = ["limit=" + (size + 1), "offset=" + page * size];
      if ($("l-station").value) q.push("station=" + encodeURIComponent($("l-station").value));
      if ($("l-status").value) q.push("status=" + encodeURIComponent($("l-status").value));
      if ($("l-from").value) q.push("from=" + encodeURIComponent(new Date($("l-from").value + "T00:00:00").toISOString()));
      if ($("l-to").value) q.push("to=" + encodeURIComponent(new Date($("l-to").value + "T23:59:59").toISOString()));
      api("GET", "/api/v1/logs?" + q.join("&")).then(function (list) {
        showError("load-error", "");
        tbody.textContent = "";
        list.slice(0, size).forEach(function (r) {
          var tr = el("tr"); var th = el("th", r.station); th.scope = "row"; tr.appendChild(th);
          var title = cell(tr, r.title);
          // The demo's month of history is marked so that nobody takes it for real broadcasts.
          if (String(r.id).indexOf("demo-") === 0) { title.appendChild(document.createTextNode(" ")); title.appendChild(el("span", T("log_demo"), "badge")); }
          cell(tr, fmtTime(r.scheduled_at)); cell(tr, fmtTime(r.started_at));
          cell(tr, T("log_" + r.status), "st-" + r.status); cell(tr, Math.round((r.played_ms || 0) / 1000));
          tbody.appendChild(tr);
        });
        if (!list.length) { var tr0 = el("tr"); cell(tr0, T("no_items")).colSpan = 6; tbody.appendChild(tr0); }
        $("l-page").textContent = page + 1; $("l-prev").disabled = page === 0; $("l-next").disabled = list.length <= size;
      }).catch(loadFailed);
    }
    $("log-filter").addEventListener("submit", function (ev) { ev.preventDefault(); page = 0; load(); });
    $("l-prev").addEventListener("click", function () { if (page > 0) { page--; load(); } });
    $("l-next").addEventListener("click", function () { page++; load(); });
    load();
  }

  // Reports: the period and area pick the CSV, the XLSX and the three charts alike.
  function reports() {
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

  // Administration forms: an API refusal names its field first ("code: …"); show it next to
  // that field, a conflict ("… already exists") next to the key field, anything else under
  // the form.
  function fieldError(prefix, fields, keyField, e) {
    var m = /^(\w+)/.exec(e.message || ""), f = m && m[1];
    if (fields.indexOf(f) < 0) f = e.code === "conflict" ? keyField : (e.code === "forbidden" && fields.indexOf("area") >= 0 ? "area" : null);
    var id = f ? prefix + "-" + f + "-error" : prefix + "-form-error";
    showError(id, e.message);
    var input = f && $(prefix + "-" + f);
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
  }
  function clearErrors(prefix, fields) {
    fields.concat(["form"]).forEach(function (f) {
      showError(prefix + "-" + f + "-error", "");
      var input = $(prefix + "-" + f); if (input) input.removeAttribute("aria-invalid");
    });
  }
  function required(prefix, fields) {
    var ok = true;
    fields.forEach(function (f) {
      if (!$(prefix + "-" + f).value.trim()) { showError(prefix + "-" + f + "-error", T("err_required")); $(prefix + "-" + f).setAttribute("aria-invalid", "true"); ok = false; }
    });
    return ok;
  }
  // The areas in reach as <option>s, indented by depth; answers the list with depths.
  function areaOptions(select) {
    return api("GET", "/api/v1/areas").then(function (list) {
      var byCode = {}, out = [];
      list.forEach(function (a) { byCode[a.code] = a; a.children = []; });
      var roots = list.filter(function (a) { return !a.parent || !byCode[a.parent]; });
      list.forEach(function (a) { if (a.parent && byCode[a.parent]) byCode[a.parent].children.push(a); });
      (function walk(nodes, depth) {
        nodes.forEach(function (a) { a.depth = depth; out.push(a); walk(a.children, depth + 1); });
      })(roots, 0);
      if (select) {
        select.textContent = "";
        out.forEach(function (a) {
          var o = el("option", "\u00a0\u00a0".repeat(a.depth) + a.name + " (" + a.code + ")"); o.value = a.code; select.appendChild(o);
        });
      }
      return out;
    });
  }

  function areas() {
    var tbody = document.querySelector("#area-table tbody"), fields = ["code", "name", "parent"];
    function load() {
      areaOptions($("a-parent")).then(function (list) {
        tbody.textContent = "";
        list.forEach(function (a) {
          var tr = el("tr"); tr.dataset.area = a.code;
          var th = el("th", a.name); th.scope = "row"; th.style.paddingLeft = (10 + 20 * a.depth) + "px"; tr.appendChild(th);
          cell(tr, a.code); cell(tr, a.parent || "—");
          var b = el("button", T("edit"), "small"); b.type = "button"; b.dataset.edit = a.code;
          b.setAttribute("aria-label", T("edit") + ": " + a.name);
          b.addEventListener("click", function () { edit(a, list); });
          cell(tr, "").appendChild(b);
          tbody.appendChild(tr);
        });
      }).catch(loadFailed);
    }
    // Rename or move one area; its own subtree is not offered as a parent.
    var editing = null, efields = ["name", "parent"];
    function edit(a, list) {
      editing = a; clearErrors("ae", efields);
      $("ae-head").textContent = T("area_edit").replace("{code}", a.code);
      $("ae-name").value = a.name;
      var sel = $("ae-parent"); sel.textContent = "";
      var inside = {}; inside[a.code] = true;
      list.forEach(function (x) {
        if (x.parent && inside[x.parent]) inside[x.code] = true;
        if (inside[x.code]) return;
        var o = el("option", "\u00a0\u00a0".repeat(x.depth) + x.name + " (" + x.code + ")"); o.value = x.code; sel.appendChild(o);
      });
      sel.value = a.parent || ""; sel.disabled = !a.parent || !sel.value;
      $("area-edit").hidden = false; $("ae-name").focus();
    }
    $("ae-cancel").addEventListener("click", function () { editing = null; $("area-edit").hidden = true; });
    $("area-edit").addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!editing) return;
      clearErrors("ae", efields);
      if (!required("ae", ["name"])) return;
      var body = {};
      if ($("ae-name").value.trim() !== editing.name) body.name = $("ae-name").value.trim();
      if (!$("ae-parent").disabled && $("ae-parent").value !== editing.parent) body.parent = $("ae-parent").value;
      if (!Object.keys(body).length) { editing = null; $("area-edit").hidden = true; return; }
      api("PATCH", "/api/v1/areas/" + encodeURIComponent(editing.code), body).then(function (r) {
        editing = null; $("area-edit").hidden = true;
        $("a-status").textContent = T("saved") + " " + r.name; $("a-status").hidden = false; load();
      }).catch(function (e) { fieldError("ae", efields, "name", e); });
    });
    load();
    $("area-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors("a", fields); $("a-status").hidden = true;
      if (!required("a", ["code", "name"])) return;
      var body = { code: $("a-code").value.trim(), name: $("a-name").value.trim(), parent: $("a-parent").value };
      api("POST", "/api/v1/areas", body).then(function () {
        $("a-status").textContent = T("added") + body.name; $("a-status").hidden = false;
        $("a-code").value = ""; $("a-name").value = ""; load();
      }).catch(function (e) { fieldError("a", fields, "code", e); });
    });
  }

  function stations() {
    var tbody = document.querySelector("#station-table tbody"), fields = ["code", "name", "area", "timezone"], rotating = null;
    function showToken(code, token) {
      $("token-head").textContent = T("token_for").replace("{code}", code);
      $("token-value").value = token; $("token-box").hidden = false;
      $("token-value").focus(); $("token-value").select();
    }
    $("token-hide").addEventListener("click", function () { $("token-value").value = ""; $("token-box").hidden = true; });
    function load() {
      api("GET", "/api/v1/stations").then(function (list) {
        showError("load-error", "");
        tbody.textContent = "";
        list.forEach(function (s) {
          var tr = el("tr"); tr.dataset.station = s.code;
          var th = el("th"); th.scope = "row"; th.appendChild(el("span", s.name)); th.appendChild(el("br")); th.appendChild(el("span", s.code, "sub")); tr.appendChild(th);
          cell(tr, s.area); cell(tr, s.timezone);
          cell(tr, s.location ? s.location.lat.toFixed(5) + ", " + s.location.lon.toFixed(5) : "—");
          cell(tr, s.online ? T("online") : T("offline"), s.online ? "state good" : "state bad");
          var b = el("button", T("token_rotate"), "small"); b.type = "button"; b.dataset.rotate = s.code;
          b.setAttribute("aria-label", T("token_rotate") + ": " + s.name);
          b.addEventListener("click", function () {
            rotating = s.code;
            $("rotate-q").textContent = T("token_rotate_q").replace("{code}", s.code);
            $("rotate-confirm").hidden = false; $("rotate-yes").disabled = false; $("rotate-yes").focus();
          });
          cell(tr, "").appendChild(b);
          tbody.appendChild(tr);
        });
      }).catch(loadFailed);
    }
    $("rotate-no").addEventListener("click", function () { rotating = null; $("rotate-confirm").hidden = true; });
    $("rotate-yes").addEventListener("click", function () {
      if (!rotating) return;
      var code = rotating; $("rotate-yes").disabled = true;
      api("POST", "/api/v1/stations/" + encodeURIComponent(code) + "/token").then(function (r) {
        rotating = null; $("rotate-confirm").hidden = true; showToken(code, r.token);
      }).catch(function (e) { $("rotate-confirm").hidden = true; loadFailed(e); });
    });
    areaOptions($("st-area")).catch(loadFailed);
    load();
    $("station-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors("st", fields);
      if (!required("st", ["code", "name"])) return;
      var body = { code: $("st-code").value.trim(), name: $("st-name").value.trim(), area: $("st-area").value };
      if ($("st-timezone").value.trim()) body.timezone = $("st-timezone").value.trim();
      api("POST", "/api/v1/stations", body).then(function (r) {
        $("st-code").value = ""; $("st-name").value = "";
        showToken(r.code, r.token); load();
      }).catch(function (e) { fieldError("st", fields, "code", e); });
    });
  }

  function users() {
    var tbody = document.querySelector("#user-table tbody"), fields = ["username", "password", "role", "area"];
    function load() {
      api("GET", "/api/v1/users").then(function (list) {
        showError("load-error", "");
        tbody.textContent = "";
        list.forEach(function (u) {
          var tr = el("tr"); tr.dataset.user = u.username;
          var th = el("th", u.username); th.scope = "row"; tr.appendChild(th);
          cell(tr, T("role_" + u.role)); cell(tr, u.area);
          cell(tr, u.disabled ? T("user_disabled") : T("user_active"), u.disabled ? "state bad" : "state good");
          var td = cell(tr, "");
          var d = el("button", u.disabled ? T("user_enable") : T("user_disable"), u.disabled ? "small" : "small danger");
          d.type = "button"; d.dataset.toggle = u.username; d.setAttribute("aria-label", d.textContent + ": " + u.username);
          d.addEventListener("click", function () {
            if (!u.disabled && !confirm(T("confirm_disable"))) return;
            api("POST", "/api/v1/users/" + encodeURIComponent(u.username) + (u.disabled ? "/enable" : "/disable")).then(load).catch(loadFailed);
          });
          var p = el("button", T("reset_password"), "small"); p.type = "button"; p.dataset.reset = u.username;
          p.setAttribute("aria-label", T("reset_password") + ": " + u.username);
          p.addEventListener("click", function () {
            resetting = u.username; clearErrors("pr", ["password"]);
            $("pr-head").textContent = T("reset_for").replace("{user}", u.username);
            $("pr-password").value = ""; $("pw-reset").hidden = false; $("pr-password").focus();
          });
          td.appendChild(d); td.appendChild(document.createTextNode(" ")); td.appendChild(p);
          tbody.appendChild(tr);
        });
      }).catch(loadFailed);
    }
    var resetting = null;
    $("pr-cancel").addEventListener("click", function () { resetting = null; $("pw-reset").hidden = true; });
    $("pw-reset").addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!resetting) return;
      clearErrors("pr", ["password"]);
      if (!required("pr", ["password"])) return;
      var who = resetting;
      api("POST", "/api/v1/users/" + encodeURIComponent(who) + "/password", { password: $("pr-password").value }).then(function () {
        resetting = null; $("pr-password").value = ""; $("pw-reset").hidden = true;
        $("us-status").textContent = T("reset_done") + who; $("us-status").hidden = false;
      }).catch(function (e) { fieldError("pr", ["password"], "password", e); });
    });
    areaOptions($("us-area")).catch(loadFailed);
    load();
    $("user-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors("us", fields); $("us-status").hidden = true;
      if (!required("us", ["username", "password"])) return;
      var body = { username: $("us-username").value.trim(), password: $("us-password").value, role: $("us-role").value, area: $("us-area").value };
      api("POST", "/api/v1/users", body).then(function () {
        $("us-status").textContent = T("added") + body.username; $("us-status").hidden = false;
        $("us-username").value = ""; $("us-password").value = ""; load();
      }).catch(function (e) { fieldError("us", fields, "username", e); });
    });
  }

  // Audit log: filters and pages of 50, newest first.
  function audit() {
    var page = 0, size = 50, tbody = document.querySelector("#audit-table tbody");
    function load() {
      showError("au-to-error", "");
      var q = ["limit=" + (size + 1), "offset=" + page * size];
      if ($("au-user").value.trim()) q.push("user=" + encodeURIComponent($("au-user").value.trim()));
      if ($("au-action").value) q.push("action=" + encodeURIComponent($("au-action").value));
      if ($("au-from").value) q.push("from=" + encodeURIComponent(new Date($("au-from").value + "T00:00:00").toISOString()));
      if ($("au-to").value) q.push("to=" + encodeURIComponent(new Date(new Date($("au-to").value + "T00:00:00").getTime() + 86400000).toISOString()));
      if ($("au-from").value && $("au-to").value && $("au-to").value < $("au-from").value) { showError("au-to-error", T("err_to_before_from")); return; }
      api("GET", "/api/v1/audit?" + q.join("&")).then(function (list) {
        showError("load-error", "");
        tbody.textContent = "";
        list.slice(0, size).forEach(function (a) {
          var tr = el("tr"); var th = el("th", fmtTime(a.at)); th.scope = "row"; tr.appendChild(th);
          cell(tr, a.user); cell(tr, a.action, "action"); cell(tr, a.target);
          var d = a.detail && typeof a.detail === "object" ? Object.keys(a.detail).map(function (k) { return k + ": " + JSON.stringify(a.detail[k]); }).join(", ") : (a.detail === null ? "" : JSON.stringify(a.detail));
          cell(tr, d, "detail"); cell(tr, a.remote || "—");
          tbody.appendChild(tr);
        });
        if (!list.length) { var tr0 = el("tr"); cell(tr0, T("no_items")).colSpan = 6; tbody.appendChild(tr0); }
        $("au-page").textContent = page + 1; $("au-prev").disabled = page === 0; $("au-next").disabled = list.length <= size;
      }).catch(loadFailed);
    }
    $("audit-filter").addEventListener("submit", function (ev) { ev.preventDefault(); page = 0; load(); });
    $("au-prev").addEventListener("click", function () { if (page > 0) { page--; load(); } });
    $("au-next").addEventListener("click", function () { page++; load(); });
    load();
  }

  // Programmes: build from the library, reorder with up/down buttons (big enough for a
  // phone), hear the parts one after the other, see the length against the slot limit.
  function programmes() {
    var table = $("prog-table"), tbody = table.querySelector("tbody");
    var form = $("prog-form");
    var media = {}, parts = [], queue = [];
    var limit = form && form.dataset.limit ? Number(form.dataset.limit) : null;
    function label(p) { return p.jingle ? T("prog_jingle") : (media[p.media_id] ? media[p.media_id].title : p.media_id); }
    function length(p) { return p.jingle || !media[p.media_id] ? 0 : media[p.media_id].duration_ms; }
    function move(i, by) {
      var j = i + by, t = parts[i]; parts[i] = parts[j]; parts[j] = t; render();
      var again = $("p-parts").children[j].querySelector("[data-move='" + by + "']");
      if (again && !again.disabled) again.focus(); else $("p-parts").children[j].querySelector("button").focus();
    }
    function render() {
      var ol = $("p-parts"), total = 0; ol.textContent = "";
      parts.forEach(function (p, i) {
        var li = el("li"); li.dataset.index = i; total += length(p);
        li.appendChild(el("span", label(p) + (p.jingle ? "" : " (" + fmtDuration(length(p)) + ")"), "part-title"));
        [["prog_up", -1], ["prog_down", 1]].forEach(function (b) {
          var btn = el("button", T(b[0]), "small"); btn.type = "button"; btn.dataset.move = b[1];
          btn.setAttribute("aria-label", T(b[0]) + ": " + label(p));
          btn.disabled = (b[1] < 0 && i === 0) || (b[1] > 0 && i === parts.length - 1);
          btn.addEventListener("click", function () { move(i, b[1]); });
          li.appendChild(btn);
        });
        var rm = el("button", T("prog_remove"), "danger small"); rm.type = "button"; rm.dataset.remove = "1";
        rm.setAttribute("aria-label", T("prog_remove") + ": " + label(p));
        rm.addEventListener("click", function () { parts.splice(i, 1); render(); });
        li.appendChild(rm);
        ol.appendChild(li);
      });
      $("p-total").textContent = T("prog_total").replace("{total}", fmtDuration(total)) +
        (limit ? " · " + T("prog_limit").replace("{limit}", limit) : "");
      var over = !!limit && total > limit * 60000;
      $("p-warning").textContent = over ? T("prog_over").replace("{limit}", limit) : "";
      $("p-warning").hidden = !over;
    }
    function stop() { queue = []; $("p-audio").pause(); $("p-now").textContent = ""; }
    function playNext() {
      var next = queue.shift();
      if (!next) { $("p-now").textContent = ""; return; }
      var au = $("p-audio");
      au.src = "/api/v1/media/" + next.p.media_id; au.dataset.part = next.n;
      $("p-now").textContent = T("prog_playing").replace("{n}", next.n).replace("{title}", label(next.p));
      au.play().catch(function () { playNext(); });
    }
    function reset() {
      $("p-id").value = ""; $("p-title").value = ""; $("p-category").value = ""; parts = [];
      $("p-heading").textContent = T("prog_new"); stop(); render();
    }
    function edit(p) {
      $("p-id").value = p.id; $("p-title").value = p.title; $("p-category").value = p.category;
      parts = p.parts.map(function (x) { return x.jingle ? { jingle: true } : { media_id: x.media_id }; });
      if (p.limit_minutes) limit = p.limit_minutes;
      $("p-heading").textContent = T("prog_edit"); render(); $("p-title").focus();
    }
    function load() {
      api("GET", "/api/v1/programmes").then(function (list) {
        showError("load-error", ""); tbody.textContent = "";
        if (!list.length) { var tr0 = el("tr"); var td0 = cell(tr0, T("no_items")); td0.colSpan = 5; tbody.appendChild(tr0); }
        list.forEach(function (p) {
          var tr = el("tr"); tr.dataset.id = p.id;
          var th = el("th", p.title); th.scope = "row"; tr.appendChild(th);
          cell(tr, p.parts.map(function (x) { return x.jingle ? T("prog_jingle") : x.title; }).join(" → "));
          cell(tr, fmtDuration(p.total_ms) + (p.over_limit ? " ⚠ " + (LANG === "vi" ? p.warning_vi : p.warning_en) : ""), p.over_limit ? "warn" : "");
          cell(tr, T("appr_" + p.approval), "approval");
          var td = cell(tr, "");
          if (table.dataset.canEdit === "true" && form) {
            var b = el("button", T("edit"), "small"); b.type = "button"; b.setAttribute("aria-label", T("edit") + ": " + p.title);
            b.addEventListener("click", function () { edit(p); }); td.appendChild(b);
          }
          tbody.appendChild(tr);
        });
      }).catch(loadFailed);
    }
    if (form) {
      api("GET", "/api/v1/media").then(function (list) {
        list.forEach(function (m) {
          media[m.sha256] = m;
          var o = el("option", m.title + " (" + fmtDuration(m.duration_ms) + ")"); o.value = m.sha256; $("p-media").appendChild(o);
        });
        render();
      }).catch(loadFailed);
      $("p-add").addEventListener("click", function () {
        if (!$("p-media").value) return;
        parts.push({ media_id: $("p-media").value }); render();
      });
      $("p-add-jingle").addEventListener("click", function () { parts.push({ jingle: true }); render(); });
      $("p-new").addEventListener("click", reset);
      $("p-stop").addEventListener("click", stop);
      $("p-audio").addEventListener("ended", playNext);
      // Which parts really started playing, in order (for people: the text; for tests: this).
      $("p-audio").addEventListener("playing", function () {
        var now = $("p-now"), n = $("p-audio").dataset.part;
        now.dataset.heard = (now.dataset.heard ? now.dataset.heard + " " : "") + n;
      });
      $("p-play").addEventListener("click", function () {
        stop(); $("p-now").dataset.heard = "";
        parts.forEach(function (p, i) { if (!p.jingle) queue.push({ p: p, n: i + 1 }); });
        playNext();
      });
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        showError("p-title-error", ""); showError("p-form-error", ""); $("p-status").textContent = "";
        if (!$("p-title").value.trim()) { showError("p-title-error", T("err_required")); $("p-title").focus(); return; }
        if (!parts.some(function (p) { return !p.jingle; })) { showError("p-form-error", T("prog_no_parts")); return; }
        var id = $("p-id").value;
        var data = { title: $("p-title").value, category: $("p-category").value, parts: parts };
        api(id ? "PUT" : "POST", "/api/v1/programmes" + (id ? "/" + encodeURIComponent(id) : ""), data).then(function (p) {
          $("p-id").value = p.id; $("p-heading").textContent = T("prog_edit");
          if (p.limit_minutes) limit = p.limit_minutes;
          $("p-status").textContent = T("prog_saved"); render(); load();
        }).catch(function (e) { showError("p-form-error", e.message); });
      });
      render();
    }
    load();
  }

  // The approval queue: approve, reject with a comment, mark urgent notices reviewed.
  function approvals() {
    var tbody = document.querySelector("#appr-table tbody");
    function decide(p, action, input) {
      if (action === "reject" && !input.value.trim()) { showError("load-error", T("appr_need_comment")); input.focus(); return; }
      api("POST", "/api/v1/approvals/" + p.kind + "/" + encodeURIComponent(p.id) + "/" + action, { comment: input.value }).then(function () {
        showError("load-error", ""); $("a-status").textContent = T("appr_done"); load();
      }).catch(function (e) { showError("load-error", e.message); });
    }
    function load() {
      api("GET", "/api/v1/approvals").then(function (list) {
        tbody.textContent = "";
        if (!list.length) { var tr0 = el("tr"); var td0 = cell(tr0, T("no_items")); td0.colSpan = 6; tbody.appendChild(tr0); }
        list.forEach(function (p) {
          var tr = el("tr"); tr.dataset.kind = p.kind; tr.dataset.id = p.id;
          var th = el("th", p.title); th.scope = "row"; tr.appendChild(th);
          cell(tr, T("kind_" + p.kind)); cell(tr, p.area); cell(tr, p.created_by);
          cell(tr, p.submitted_at ? fmtTime(p.submitted_at) : T("unknown"));
          var td = cell(tr, "");
          var input = el("input"); input.type = "text"; input.maxLength = 2000; input.placeholder = T("appr_comment");
          input.setAttribute("aria-label", T("appr_comment") + ": " + p.title); td.appendChild(input);
          var ok = el("button", p.state === "review" ? T("appr_review_done") : T("appr_approve"), "primary small");
          ok.type = "button"; ok.dataset.action = "approve";
          ok.addEventListener("click", function () { decide(p, "approve", input); }); td.appendChild(ok);
          if (p.state !== "review") {
            var no = el("button", T("appr_reject"), "danger small"); no.type = "button"; no.dataset.action = "reject";
            no.addEventListener("click", function () { decide(p, "reject", input); }); td.appendChild(no);
          }
          tbody.appendChild(tr);
        });
      }).catch(loadFailed);
    }
    load();
  }

  // Live channels for relays: add (a typed gain, or measured from the stream), change,
  // measure again, delete after a confirmation.
  function channels() {
    var tbody = document.querySelector("#channel-table tbody"), fields = ["name", "url", "gain_db"];
    var editing = null, deleting = null, measuring = false;
    function gain(v) { return (v > 0 ? "+" : "") + Number(v).toFixed(1); }
    function seconds() { return Number($("ch-seconds").value) || 20; }
    function status(msg) { var st = $("ch-status"); st.textContent = msg; st.hidden = !msg; }
    function load() {
      return api("GET", "/api/v1/channels").then(function (list) {
        showError("load-error", "");
        tbody.textContent = "";
        if (!list.length) { var tr0 = el("tr"); var td0 = cell(tr0, T("no_items")); td0.colSpan = 6; tbody.appendChild(tr0); }
        list.forEach(function (ch) {
          var tr = el("tr"); tr.dataset.channel = ch.id;
          var th = el("th", ch.name); th.scope = "row"; tr.appendChild(th);
          cell(tr, ch.url, "url");
          cell(tr, gain(ch.gain_db) + " dB", "gain");
          cell(tr, ch.loudness_lufs === null || ch.loudness_lufs === undefined ? T("channel_not_measured") : ch.loudness_lufs.toFixed(1) + " LUFS", "loudness");
          cell(tr, ch.measured_at ? fmtTime(ch.measured_at) : "—", "measured");
          var td = cell(tr, "", "actions");
          [["channel_measure", "measure", "small", measure], ["edit", "edit", "small", edit], ["delete", "delete", "danger small", askDelete]].forEach(function (a) {
            var b = el("button", T(a[0]), a[2]); b.type = "button"; b.dataset[a[1]] = ch.id;
            b.setAttribute("aria-label", T(a[0]) + ": " + ch.name);
            b.addEventListener("click", function () { a[3](ch, b); });
            td.appendChild(b);
          });
          tbody.appendChild(tr);
        });
      }).catch(loadFailed);
    }
    function measure(ch, b) {
      if (measuring) return;
      measuring = true; b.disabled = true;
      showError("measure-error", "");
      var st = $("measure-status");
      st.textContent = T("channel_measuring").replace("{name}", ch.name).replace("{s}", seconds()); st.hidden = false;
      api("POST", "/api/v1/channels/" + encodeURIComponent(ch.id) + "/measure", { seconds: seconds() }).then(function (r) {
        st.textContent = T("channel_measured").replace("{name}", r.name).replace("{lufs}", r.loudness_lufs.toFixed(1)).replace("{gain}", gain(r.gain_db));
        return load();
      }).catch(function (e) {
        st.hidden = true;
        showError("measure-error", T("channel_measure_failed").replace("{name}", ch.name) + e.message);
      }).then(function () { measuring = false; b.disabled = false; });
    }
    function edit(ch) {
      editing = ch; clearErrors("ce", fields);
      $("ce-head").textContent = T("channel_edit").replace("{name}", ch.name);
      $("ce-name").value = ch.name; $("ce-url").value = ch.url; $("ce-gain_db").value = ch.gain_db;
      $("channel-edit").hidden = false; $("ce-name").focus();
    }
    $("ce-cancel").addEventListener("click", function () { editing = null; $("channel-edit").hidden = true; });
    $("channel-edit").addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!editing) return;
      clearErrors("ce", fields);
      if (!required("ce", ["name", "url", "gain_db"])) return;
      var body = {}, g = Number($("ce-gain_db").value);
      if ($("ce-name").value.trim() !== editing.name) body.name = $("ce-name").value.trim();
      if ($("ce-url").value.trim() !== editing.url) body.url = $("ce-url").value.trim();
      if (g !== editing.gain_db) body.gain_db = g;
      if (!Object.keys(body).length) { editing = null; $("channel-edit").hidden = true; return; }
      api("PATCH", "/api/v1/channels/" + encodeURIComponent(editing.id), body).then(function (r) {
        editing = null; $("channel-edit").hidden = true;
        status(T("saved") + " " + r.name); load();
      }).catch(function (e) { fieldError("ce", fields, "name", e); });
    });
    function askDelete(ch) {
      deleting = ch;
      $("delete-q").textContent = T("channel_delete_q").replace("{name}", ch.name);
      $("delete-confirm").hidden = false; $("delete-yes").disabled = false; $("delete-yes").focus();
    }
    $("delete-no").addEventListener("click", function () { deleting = null; $("delete-confirm").hidden = true; });
    $("delete-yes").addEventListener("click", function () {
      if (!deleting) return;
      var ch = deleting; $("delete-yes").disabled = true;
      api("DELETE", "/api/v1/channels/" + encodeURIComponent(ch.id)).then(function () {
        deleting = null; $("delete-confirm").hidden = true;
        status(T("channel_deleted") + ch.name); load();
      }).catch(function (e) { deleting = null; $("delete-confirm").hidden = true; loadFailed(e); });
    });
    load();
    $("channel-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors("ch", fields); status("");
      if (!required("ch", ["name", "url"])) return;
      var body = { name: $("ch-name").value.trim(), url: $("ch-url").value.trim() };
      if ($("ch-measure").checked) { body.measure = true; body.seconds = seconds(); status(T("channel_measuring").replace("{name}", body.name).replace("{s}", body.seconds)); }
      else body.gain_db = Number($("ch-gain_db").value || 0);
      var submit = $("channel-form").querySelector("button[type=submit]"); submit.disabled = true;
      api("POST", "/api/v1/channels", body).then(function (r) {
        status(T("added") + r.name + (r.loudness_lufs === null || r.loudness_lufs === undefined ? "" : " — " + T("channel_measured").replace("{name}", r.name).replace("{lufs}", r.loudness_lufs.toFixed(1)).replace("{gain}", gain(r.gain_db))));
        $("ch-name").value = ""; $("ch-url").value = ""; $("ch-gain_db").value = "0"; $("ch-measure").checked = false; load();
      }).catch(function (e) { status(""); fieldError("ch", fields, "name", e); })
        .then(function () { submit.disabled = false; });
    });
  }

  // Live broadcast (#25): microphone → AudioWorklet (16 kHz, 16-bit PCM, 20 ms messages) →
  // the session's WebSocket. Closing the tab closes the socket, which ends the session.
  function live() {
    var button = $("lv-button"), meter = $("lv-meter"), tbody = document.querySelector("#lv-table tbody");
    var run = null; // {stream, ctx, ws, id}
    api("GET", "/api/v1/stations").then(function (l) { targetBoxes($("lv-stations"), l, "lvstation"); }).catch(loadFailed);
    api("GET", "/api/v1/areas").then(function (l) { targetBoxes($("lv-areas"), l, "lvarea"); }).catch(loadFailed);
    function recent() {
      api("GET", "/api/v1/live").then(function (list) {
        var ul = $("lv-recent"); ul.textContent = "";
        list.slice(0, 10).forEach(function (v) {
          var li = el("li", fmtTime(v.created_at) + " · " + v.title + " · " + v.created_by + " · " +
            Math.round(v.aired_s) + " s · " + (v.end_reason || T("live_on_air")));
          if (v.archive) {
            var a = el("a", T("live_recording")); a.href = "/api/v1/media/" + v.archive;
            li.appendChild(document.createTextNode(" · ")); li.appendChild(a);
          }
          ul.appendChild(li);
        });
      }).catch(loadFailed);
    }
    recent();
    function stateText(s) {
      if (s.state === "behind") return T("live_behind").replace("{n}", s.behind_ms);
      if (s.state === "ended") return T("live_state_ended");
      return T("live_" + s.state);
    }
    function showStations(list) {
      tbody.textContent = "";
      list.forEach(function (s) {
        var tr = el("tr"); tr.dataset.station = s.code;
        cell(tr, s.code); cell(tr, stateText(s), "state-" + s.state); tbody.appendChild(tr);
      });
    }
    function status(msg) { var e = $("lv-status"); e.textContent = msg || ""; e.hidden = !msg; }
    function idle() {
      button.textContent = T("live_start"); button.setAttribute("aria-pressed", "false"); button.disabled = false;
      meter.value = 0;
    }
    function stop(sendStop) {
      var r = run; run = null;
      if (!r) return;
      if (r.ws && r.ws.readyState === 1 && sendStop) r.ws.send(JSON.stringify({ type: "stop" }));
      if (r.stream) r.stream.getTracks().forEach(function (track) { track.stop(); });
      if (r.ctx) r.ctx.close();
      idle();
    }
    function fail(msg) { stop(false); showError("lv-error", msg); }
    function start() {
      showError("lv-error", ""); showError("lv-targets-error", "");
      var all = $("lv-all").checked, st = checked("lvstation"), ar = checked("lvarea");
      if (!all && !st.length && !ar.length) { showError("lv-targets-error", T("live_no_targets")); return; }
      var clean = $("lv-clean").checked;
      var prio = document.querySelector("input[name=priority]:checked").value;
      button.disabled = true; status(T("live_starting"));
      var r = run = { stream: null, ctx: null, ws: null };
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { fail(T("live_no_mic") + "getUserMedia"); return; }
      navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: clean, noiseSuppression: clean,
        autoGainControl: clean, channelCount: 1 } }).then(function (stream) {
        r.stream = stream;
        r.ctx = new AudioContext({ sampleRate: 16000 });
        return r.ctx.audioWorklet.addModule("/static/live-worklet.js").then(function () {
          return api("POST", "/api/v1/live", { title: $("lv-title").value.trim(), priority: prio,
            stations: all ? ["*"] : st, areas: all ? [] : ar,
            format: { codec: "pcm_s16le", sample_rate: r.ctx.sampleRate, channels: 1 } });
        });
      }, function (e) { throw new Error(T("live_no_mic") + e.message); }).then(function (made) {
        if (run !== r) return;
        r.id = made.id;
        var ws = r.ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + made.ingest);
        ws.binaryType = "arraybuffer";
        ws.onopen = function () {
          var node = new AudioWorkletNode(r.ctx, "loaxa-capture");
          node.port.onmessage = function (ev) {
            meter.value = ev.data.peak;
            if (ws.readyState === 1) ws.send(ev.data.pcm);
          };
          r.ctx.createMediaStreamSource(r.stream).connect(node);
          button.textContent = T("live_stop"); button.setAttribute("aria-pressed", "true"); button.disabled = false;
          status(T("live_on_air"));
        };
        ws.onmessage = function (ev) {
          var m; try { m = JSON.parse(ev.data); } catch (e) { return; }
          if (m.type === "state") showStations(m.stations || []);
          else if (m.type === "error") showError("lv-error", m.message);
          else if (m.type === "ended") { status(T("live_ended") + ": " + m.reason); stop(false); recent(); }
        };
        ws.onclose = function () { if (run === r) { stop(false); recent(); } };
      }).catch(function (e) { fail(e.message); status(""); });
    }
    button.addEventListener("click", function () { if (run) stop(true); else start(); });
    window.addEventListener("pagehide", function () { stop(true); });
  }

  var pages = { live: live, dashboard: dashboard, media: media, schedules: schedules, week: week, urgent: urgent,
    "urgent-board": urgentBoard, logs: logs, reports: reports, programmes: programmes,
    approvals: approvals, areas: areas, stations: stations, users: users, audit: audit,
    channels: channels };
  if (pages[body.dataset.page]) pages[body.dataset.page]();
})();
