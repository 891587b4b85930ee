import { T, $, el, api, showError, loadFailed } from "../core.js";
import { cell } from "../tables.js";
import { areaOptions, fieldError, clearErrors, required } from "../forms.js";

export default function users() {
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
