import { T, $, el, api, showError, loadFailed } from "../core.js";
import { cell } from "../tables.js";
import { areaOptions, fieldError, clearErrors, required } from "../forms.js";

export default function stations() {
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
