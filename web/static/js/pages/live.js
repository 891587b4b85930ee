import { T, $, el, api, showError, loadFailed, fmtTime } from "../core.js";
import { cell } from "../tables.js";
import { targetBoxes, checked } from "../forms.js";

// Live broadcast (#25): microphone → AudioWorklet (16 kHz, 16-bit PCM, 20 ms messages) →
// the session's WebSocket. Closing the tab closes the socket, which ends the session.
export default function live() {
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
      return r.ctx.audioWorklet.addModule(new URL("../live-worklet.js", import.meta.url).href).then(function () {
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

