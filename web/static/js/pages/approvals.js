import { T, $, el, api, showError, loadFailed, fmtTime } from "../core.js";
import { cell } from "../tables.js";

// The approval queue: approve, reject with a comment, mark urgent notices reviewed.
export default function approvals() {
  var tbody = document.querySelector("#appr-table tbody");
  function decide(p, action, input) {
    if (action === "reject" && !input.value.trim()) { showError("load-error", T("appr_need_comment")); input.focus(); return; }
    api("POST", "/api/v1/approvals/" + p.kind + "/" + encodeURIComponent(p.id) + "/" + action, { comment: input.value }).then(function () {
      showError("load-error", ""); $("a-status").textContent = T("appr_done"); load();
    }).catch(function (e) { showError("load-error", e.message); });
  }
  function load() {
    api("GET", "/api/v1/approvals").then(function (list) {
      tbody.textContent = "";
      if (!list.length) { var tr0 = el("tr"); var td0 = cell(tr0, T("no_items")); td0.colSpan = 6; tbody.appendChild(tr0); }
      list.forEach(function (p) {
        var tr = el("tr"); tr.dataset.kind = p.kind; tr.dataset.id = p.id;
        var th = el("th", p.title); th.scope = "row"; tr.appendChild(th);
        cell(tr, T("kind_" + p.kind)); cell(tr, p.area); cell(tr, p.created_by);
        cell(tr, p.submitted_at ? fmtTime(p.submitted_at) : T("unknown"));
        var td = cell(tr, "");
        var input = el("input"); input.type = "text"; input.maxLength = 2000; input.placeholder = T("appr_comment");
        input.setAttribute("aria-label", T("appr_comment") + ": " + p.title); td.appendChild(input);
        var ok = el("button", p.state === "review" ? T("appr_review_done") : T("appr_approve"), "primary small");
        ok.type = "button"; ok.dataset.action = "approve";
        ok.addEventListener("click", function () { decide(p, "approve", input); }); td.appendChild(ok);
        if (p.state !== "review") {
          var no = el("button", T("appr_reject"), "danger small"); no.type = "button"; no.dataset.action = "reject";
          no.addEventListener("click", function () { decide(p, "reject", input); }); td.appendChild(no);
        }
        tbody.appendChild(tr);
      });
    }).catch(loadFailed);
  }
  load();
}
