// Tiny local filter for the agency lists: no network, no dependency. Without JavaScript the
// full list is still there; with it, a filter box appears and ?q= from the home page search
// box is applied.
(function () {
  "use strict";
  function norm(s) { return (s || "").toLowerCase().replace(/\s+/g, ""); }
  function apply(input, rows) {
    var q = norm(input.value);
    rows.forEach(function (row) {
      row.hidden = q !== "" && norm(row.getAttribute("data-search")).indexOf(q) === -1;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("filter");
    if (!input) { return; }
    var rows = Array.prototype.slice.call(document.querySelectorAll("[data-search]"));
    var box = input.closest(".filter");
    if (box) { box.hidden = false; }
    var q = new URLSearchParams(window.location.search).get("q");
    if (q) { input.value = q; }
    input.addEventListener("input", function () { apply(input, rows); });
    apply(input, rows);
  });
})();
