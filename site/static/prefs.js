// Large-font mode, remembered in localStorage. Loaded in <head> without defer so the page is
// drawn at the chosen size from the first paint.
(function () {
  "use strict";
  var KEY = "agencywatch-large-font";
  var root = document.documentElement;
  function stored() {
    try { return window.localStorage.getItem(KEY) === "1"; } catch (e) { return false; }
  }
  function store(on) {
    try { window.localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* private mode */ }
  }
  if (stored()) { root.classList.add("large"); }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("font-toggle");
    if (!button) { return; }
    button.hidden = false;
    button.setAttribute("aria-pressed", root.classList.contains("large") ? "true" : "false");
    button.addEventListener("click", function () {
      var on = !root.classList.contains("large");
      root.classList.toggle("large", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      store(on);
    });
  });
})();
