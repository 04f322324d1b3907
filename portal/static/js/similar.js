/* Similar open requests of the same institution, while a request is written.
 *
 * Asks the portal as the subject and description are typed (POST with a JSON
 * body, so the draft never stands in a URL) and lists what it answers with a
 * "follow that one instead" button. The button submits the filing form to
 * the follow address (formaction): nothing is filed. Text from the server is
 * only ever put into the page with textContent.
 */
(function () {
  "use strict";

  function setup(box) {
    var form = box.closest("form");
    var subject = document.getElementById(box.getAttribute("data-subject"));
    var text = document.getElementById(box.getAttribute("data-text") || "");
    var list = box.querySelector("[data-similar-list]");
    if (!form || !subject || !list || !window.fetch) { return; }
    var tokenInput = form.querySelector("input[name=similar_token]");
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");
    var lastQuery = "";
    var counter = 0;
    var timer = null;

    function institution() {
      var field = form.elements.namedItem("institution");
      return field ? field.value : "";
    }

    function render(rows) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      rows.forEach(function (row) {
        if (!row.reference || !row.subject) { return; }
        var item = document.createElement("li");
        var title = document.createElement("strong");
        title.textContent = row.reference + " — " + row.subject;
        item.appendChild(title);
        var meta = document.createElement("div");
        meta.className = "muted small";
        meta.textContent = (row.filed || "") + (row.status ? " · " + row.status : "");
        item.appendChild(meta);
        var button = document.createElement("button");
        button.type = "submit";
        button.className = "button secondary";
        button.name = "follow";
        button.value = row.reference;
        button.formAction = box.getAttribute("data-follow-url");
        button.formNoValidate = true;
        button.setAttribute("data-test", "follow-similar");
        button.textContent = box.getAttribute("data-follow-label");
        item.appendChild(button);
        list.appendChild(item);
      });
      box.hidden = !list.firstChild;
    }

    function lookup() {
      var query = {
        subject: subject.value.trim(),
        text: text ? text.value.trim().slice(0, 2000) : "",
        institution: institution(),
        token: tokenInput ? tokenInput.value : ""
      };
      var key = query.subject + "\n" + query.text + "\n" + query.institution;
      if (key === lastQuery) { return; }
      lastQuery = key;
      if ((query.subject + query.text).length < 3 || !query.institution) { render([]); return; }
      var mine = ++counter;
      fetch(box.getAttribute("data-similar-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Accept": "application/json",
          "Content-Type": "application/json",
          "X-CSRFToken": csrf ? csrf.value : ""
        },
        body: JSON.stringify(query)
      })
        .then(function (response) { return response.ok ? response.json() : { requests: [] }; })
        .then(function (data) {
          if (mine !== counter) { return; }
          if (tokenInput && data && data.token) { tokenInput.value = data.token; }
          render((data && data.requests) || []);
        })
        .catch(function () { /* similar requests are optional */ });
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(lookup, 400);
    }

    subject.addEventListener("input", later);
    if (text) { text.addEventListener("input", later); }
    form.addEventListener("change", function (event) {
      if (event.target && event.target.name === "institution") { later(); }
    });
    if (subject.value.trim().length >= 3) { later(); }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-similar-url]"), setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
