/* The portal's small helpers; every page works without them.
 *
 * - knowledge-base suggestions while the subject is typed;
 * (the chosen files are listed and checked by static/js/uploads.js);
 * - focus on the error summary after a failed submit;
 * - no double submit of a form that is already being sent.
 *
 * Text from the server is only ever put into the page with textContent.
 */
(function () {
  "use strict";

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, wait);
    };
  }

  function safeHref(url) {
    try {
      var parsed = new URL(url, window.location.href);
      if (parsed.protocol === "http:" || parsed.protocol === "https:") {
        return parsed.href;
      }
    } catch (e) { /* not a URL */ }
    return null;
  }

  function setupSuggestions(box) {
    var input = document.getElementById(box.getAttribute("data-source"));
    var list = box.querySelector("[data-suggestion-list]");
    var url = box.getAttribute("data-suggest-url");
    if (!input || !list || !url || !window.fetch) { return; }
    // The description refines the subject's suggestions; the token ties what
    // was shown to the request if the person files anyway.
    var extra = document.getElementById(box.getAttribute("data-extra-source") || "");
    var tokenInput = input.form ? input.form.querySelector("input[name=deflection_token]") : null;
    var csrf = input.form ? input.form.querySelector("input[name=csrfmiddlewaretoken]") : null;
    var lastQuery = "";
    var counter = 0;

    function render(articles) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      articles.forEach(function (article) {
        var href = safeHref(article.url || "");
        if (!href || !article.title) { return; }
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = article.title;
        item.appendChild(link);
        if (article.summary) {
          var summary = document.createElement("div");
          summary.className = "muted small";
          summary.textContent = article.summary;
          item.appendChild(summary);
        }
        list.appendChild(item);
      });
      box.hidden = !list.firstChild;
    }

    var lookup = debounce(function () {
      var query = input.value.trim();
      if (extra && extra.value.trim()) {
        query = (query + " " + extra.value.trim().slice(0, 160)).trim();
      }
      if (query === lastQuery) { return; }
      lastQuery = query;
      if (query.length < 3) { render([]); return; }
      var mine = ++counter;
      var token = tokenInput ? tokenInput.value : "";
      // POST, so that the draft never stands in a URL (and so in access logs).
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Accept": "application/json",
          "Content-Type": "application/json",
          "X-CSRFToken": csrf ? csrf.value : ""
        },
        body: JSON.stringify({ q: query, token: token })
      })
        .then(function (response) { return response.ok ? response.json() : { articles: [] }; })
        .then(function (data) {
          // Answers can overtake each other; only the latest query counts.
          if (mine === counter) {
            if (tokenInput && data && data.token) { tokenInput.value = data.token; }
            render((data && data.articles) || []);
          }
        })
        .catch(function () { /* suggestions are optional */ });
    }, 350);

    input.addEventListener("input", lookup);
    if (extra) { extra.addEventListener("input", lookup); }
    if (input.value.trim().length >= 3) { lookup(); }
  }

  function preventDoubleSubmit(form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sending") === "1") {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sending", "1");
      // Let the page be used again if the user comes back with "Back".
      window.addEventListener("pageshow", function () { form.removeAttribute("data-sending"); });
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-suggest-url]"), setupSuggestions);
    Array.prototype.forEach.call(
      document.querySelectorAll("form[data-prevent-double-submit]"), preventDoubleSubmit
    );
    var summary = document.querySelector(".error-summary");
    if (summary) { summary.focus(); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
