import { T, $, el, api, loadFailed } from "../core.js";
import { cell } from "../tables.js";
import { areaOptions, fieldError, clearErrors, required } from "../forms.js";

export default function areas() {
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
