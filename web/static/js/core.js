// Loa Xã pages: the helpers every page uses. Plain ES modules, no build step. Talks to
// /api/v1 with the session cookie; changes carry the X-CSRF-Token header. Everything
// shown goes through textContent.

const body = document.body;
export const CSRF = body.dataset.csrf || "";
export const LANG = body.dataset.lang || "vi";
export const LOCALE = LANG === "vi" ? "vi-VN" : "en-GB";
const STR = JSON.parse(document.getElementById("i18n").textContent);

export function T(k) { return Object.prototype.hasOwnProperty.call(STR, k) ? STR[k] : k; }
export function $(id) { return document.getElementById(id); }
export function el(tag, text, cls) {
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
// `data` goes as JSON, or as it is when `ctype` names its type (CAP XML).
export function api(method, path, data, ctype) {
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
export function showError(id, msg) { var e = $(id); if (!e) return; e.textContent = msg || ""; e.hidden = !msg; }
export function loadFailed(err) { showError("load-error", T("load_failed") + err.message); }
export function fmtTime(iso, tz) {
  if (!iso) return T("nothing");
  var o = { dateStyle: "short", timeStyle: "short" }; if (tz) o.timeZone = tz;
  return new Date(iso).toLocaleString(LOCALE, o);
}
export function fmtDuration(ms) {
  var s = Math.round(ms / 1000), m = Math.floor(s / 60); s = s % 60;
  return m + ":" + (s < 10 ? "0" : "") + s;
}
