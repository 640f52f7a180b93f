// Keyboard flow for the workstation: "/" jumps to the page's search box, Esc goes back
// from a form to where it came from. No inline scripts (a strict CSP stays possible).
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT" || target.isContentEditable);
    if (event.key === "/" && !typing) {
      var search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
    } else if (event.key === "Escape") {
      var back = document.querySelector("[data-back]");
      if (back) { event.preventDefault(); window.location.href = back.getAttribute("href"); }
    }
  });
})();
