// On a phone a list's filters fold away under their heading, so the list
// starts on the first screen; they stay open when one of them is set. Without
// this script they are simply always open.
(function () {
  "use strict";
  var box = document.querySelector("details[data-fold-narrow]");
  if (!box || !window.matchMedia) return;
  var narrow = window.matchMedia("(max-width: 640px)");
  function fit() {
    if (!box.hasAttribute("data-active")) box.open = !narrow.matches;
  }
  fit();
  narrow.addEventListener("change", fit);
})();
