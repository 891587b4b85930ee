// Tables: cells, station state, pages of rows.
import { T, $, el, api, showError, loadFailed } from "./core.js";

export function cell(tr, text, cls) { var td = el("td", text, cls); tr.appendChild(td); return td; }

export function stationState(s) {
  var warn = [];
  if (s.clock_offset_ms !== null && s.clock_offset_ms !== undefined && Math.abs(s.clock_offset_ms) > 2000) warn.push("clock");
  if (s.cache_ready === false) warn.push("cache");
  if (s.output_error) warn.push("output");
  return warn;
}

// A table read a page of `size` rows at a time, newest first: asks for one row more than
// it shows to know whether there is a next page. `query()` answers the filter's query
// parameters (or null when the filter is invalid: nothing is loaded); `row(r)` makes a
// row. The page number and the buttons are `${prefix}-page`, `-prev` and `-next`; the
// filter form reloads from the first page.
export function pagedTable(o) {
  var page = 0, size = o.size || 50;
  function load() {
    var q = o.query(); if (q === null) return;
    q = ["limit=" + (size + 1), "offset=" + page * size].concat(q);
    api("GET", o.path + "?" + q.join("&")).then(function (list) {
      showError("load-error", "");
      o.tbody.textContent = "";
      list.slice(0, size).forEach(function (r) { o.tbody.appendChild(o.row(r)); });
      if (!list.length) { var tr0 = el("tr"); cell(tr0, T("no_items")).colSpan = o.columns; o.tbody.appendChild(tr0); }
      $(o.prefix + "-page").textContent = page + 1; $(o.prefix + "-prev").disabled = page === 0; $(o.prefix + "-next").disabled = list.length <= size;
    }).catch(loadFailed);
  }
  o.form.addEventListener("submit", function (ev) { ev.preventDefault(); page = 0; load(); });
  $(o.prefix + "-prev").addEventListener("click", function () { if (page > 0) { page--; load(); } });
  $(o.prefix + "-next").addEventListener("click", function () { page++; load(); });
  load();
}
