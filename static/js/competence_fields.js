// A form that files a request asks each competence's own questions (the portal's
// filing form, the console's new-request page). Without this script every group
// shows under its competence's name and the server keeps only the chosen one's
// answers; with it, only the chosen competence's group shows and the others'
// inputs are disabled (so they are not sent). The competence is chosen by radio
// buttons or a select named "competence".
(function () {
  "use strict";
  function chosen(form) {
    var radio = form.querySelector('input[name="competence"]:checked');
    if (radio) return radio.value;
    var select = form.querySelector('select[name="competence"]');
    return select ? select.value : "";
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
    document.querySelectorAll("fieldset.competence-fields").forEach(function (group) {
      var form = group.form || group.closest("form");
      if (!form || form.dataset.competenceFields) return;
      form.dataset.competenceFields = "on";
      form.addEventListener("change", function (event) {
        if (event.target.name === "competence") update(form);
      });
      update(form);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
