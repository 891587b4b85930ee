import { T, $, el, api, showError, loadFailed, fmtTime } from "../core.js";
import { cell } from "../tables.js";
import { fieldError, clearErrors, required } from "../forms.js";

// Live channels for relays: add (a typed gain, or measured from the stream), change,
// measure again, delete after a confirmation.
export default function channels() {
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
