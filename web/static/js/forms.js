// Forms: target boxes, media and area pickers, field errors.
import { T, $, el, api, showError, fmtDuration } from "./core.js";

export function targetBoxes(container, list, name) {
  list.forEach(function (s) {
    var l = el("label", null, "check"); var c = el("input"); c.type = "checkbox"; c.name = name; c.value = s.code;
    l.appendChild(c); l.appendChild(document.createTextNode(" " + s.name + " (" + s.code + ")")); container.appendChild(l);
  });
}

export function checked(name) {
  return Array.prototype.map.call(document.querySelectorAll("input[name=" + name + "]:checked"), function (c) { return c.value; });
}

export function mediaOptions(select) {
  return api("GET", "/api/v1/media").then(function (list) {
    list.forEach(function (m) {
      var o = el("option", m.title + " (" + fmtDuration(m.duration_ms) + ")"); o.value = m.sha256; select.appendChild(o);
    });
    return list;
  });
}

// The areas in reach as <option>s, indented by depth; answers the list with depths.
export function areaOptions(select) {
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

// Administration forms: an API refusal names its field first ("code: …"); show it next to
// that field, a conflict ("… already exists") next to the key field, anything else under
// the form.
export function fieldError(prefix, fields, keyField, e) {
  var m = /^(\w+)/.exec(e.message || ""), f = m && m[1];
  if (fields.indexOf(f) < 0) f = e.code === "conflict" ? keyField : (e.code === "forbidden" && fields.indexOf("area") >= 0 ? "area" : null);
  var id = f ? prefix + "-" + f + "-error" : prefix + "-form-error";
  showError(id, e.message);
  var input = f && $(prefix + "-" + f);
  if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
}

export function clearErrors(prefix, fields) {
  fields.concat(["form"]).forEach(function (f) {
    showError(prefix + "-" + f + "-error", "");
    var input = $(prefix + "-" + f); if (input) input.removeAttribute("aria-invalid");
  });
}

export function required(prefix, fields) {
  var ok = true;
  fields.forEach(function (f) {
    if (!$(prefix + "-" + f).value.trim()) { showError(prefix + "-" + f + "-error", T("err_required")); $(prefix + "-" + f).setAttribute("aria-invalid", "true"); ok = false; }
  });
  return ok;
}
