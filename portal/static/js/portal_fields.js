// The filing form asks each competence's own questions. Without this script
// every group shows under its competence's name and the server keeps only the
// chosen one's answers; with it, only the chosen competence's group shows and
// the others' inputs are disabled (so they are not sent).
(function () {
  "use strict";
  function chosen(form) {
    var radio = form.querySelector('input[name="competence"]:checked');
    return radio ? radio.value : "";
  }
  function update(form) {
    var current = chosen(form);
    form.querySelectorAll("fieldset.competence-fields").forEach(function (group) {
      var on = group.getAttribute("data-competence") === current;
      group.hidden = !on;
      group.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !on;
      });
    });
  }
  function init() {
    var form = document.getElementById("ticket-form");
    if (!form) return;
    form.addEventListener("change", function (event) {
      if (event.target.name === "competence") update(form);
    });
    update(form);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
