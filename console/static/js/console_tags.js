// Tag suggestions on the console's tag inputs: existing tags starting with the
// last word typed fill the <datalist> the input points at. Without this
// script the inputs still work (any tag may be typed).
(function () {
  "use strict";
  var timer = null;
  function lastPart(value) {
    var parts = value.split(",");
    return parts[parts.length - 1].trim();
  }
  function fill(input, names) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    var prefix = "";
    var parts = input.value.split(",");
    if (parts.length > 1) prefix = parts.slice(0, -1).join(",") + ", ";
    list.textContent = "";
    names.forEach(function (name) {
      var option = document.createElement("option");
      option.value = prefix + name;
      list.appendChild(option);
    });
  }
  function ask(input) {
    var url = input.getAttribute("data-suggest-url");
    if (!url) return;
    fetch(url + "?q=" + encodeURIComponent(lastPart(input.value)), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) { return response.ok ? response.json() : { tags: [] }; })
      .then(function (data) { fill(input, data.tags || []); })
      .catch(function () {});
  }
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-suggest-url]")) return;
    clearTimeout(timer);
    timer = setTimeout(function () { ask(input); }, 150);
  });
  document.addEventListener("focusin", function (event) {
    var input = event.target;
    if (input.matches && input.matches("input[data-suggest-url]")) ask(input);
  });
})();
