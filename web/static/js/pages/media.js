import { T, $, el, api, showError, loadFailed, fmtDuration, CSRF } from "../core.js";
import { cell } from "../tables.js";

// Media library: list, preview, upload with progress, delete.
export default function media() {
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
