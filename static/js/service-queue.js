// After an inline queue action swaps its row, put keyboard focus on the row's message (or the row's first
// control), so keyboard and screen-reader users stay where they were instead of falling back to the page top.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || !target.id || target.id.indexOf("case-") !== 0) return;
    var row = document.getElementById(target.id);
    if (!row) return;
    var focus = row.querySelector(".row-message") || row.querySelector("button, select, summary");
    if (focus) focus.focus();
  });
})();
