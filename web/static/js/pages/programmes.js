import { T, $, el, api, showError, loadFailed, fmtDuration, LANG } from "../core.js";
import { cell } from "../tables.js";

// Programmes: build from the library, reorder with up/down buttons (big enough for a
// phone), hear the parts one after the other, see the length against the slot limit.
export default function programmes() {
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
