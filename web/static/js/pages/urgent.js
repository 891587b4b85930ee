import { T, $, el, api, showError, loadFailed, fmtTime } from "../core.js";
import { targetBoxes, checked, mediaOptions } from "../forms.js";

// Urgent notice: form, confirmation, then the board.
export default function urgent() {
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
