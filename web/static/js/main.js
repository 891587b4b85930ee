// Loa Xã pages: the entry module. Each page's script is a module of its own under
// pages/, loaded for the page the server rendered (<body data-page>); the shared helpers
// are core.js, tables.js and forms.js. No build step: the browser loads them as they are.

// The language switch comes back to this page.
var sw = document.querySelector("[data-lang-switch]");
if (sw) sw.href = sw.getAttribute("href") + encodeURIComponent(location.pathname + location.search);

var PAGES = ["live", "dashboard", "media", "schedules", "week", "urgent", "urgent-board", "logs",
  "reports", "programmes", "approvals", "areas", "stations", "users", "audit", "channels"];
var page = document.body.dataset.page;
if (PAGES.indexOf(page) >= 0) {
  import("./pages/" + page + ".js").then(function (m) { m.default(); }).catch(function (e) {
    var box = document.getElementById("load-error");
    if (box) { box.textContent = String(e && e.message || e); box.hidden = false; }
  });
}
