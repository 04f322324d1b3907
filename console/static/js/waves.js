/* Waves in the console: the similar-requests card and the surge alert box.
 *
 * Both are fragments the server renders (it applies visible_to() and who may
 * act on an alert); this script only fetches them, and fetches the alert box
 * again when the live socket (console.js) reports a surge. "Reply with this
 * answer" copies a resolved request's answer into the reply form.
 */
(function () {
  "use strict";

  function load(container, url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        while (container.firstChild) { container.removeChild(container.firstChild); }
        while (holder.firstChild) { container.appendChild(holder.firstChild); }
      })
      .catch(function () { /* optional */ });
  }

  function setupSimilar(card) {
    if (card.dataset.ready) { return; }
    card.dataset.ready = "1";
    var items = card.querySelector("[data-similar-items]");
    load(items, card.getAttribute("data-similar-url"));
    card.addEventListener("click", function (event) {
      var button = event.target.closest("[data-reply-from-answer]");
      if (!button) { return; }
      var source = button.parentNode.querySelector("template[data-answer-text]");
      var reply = document.querySelector("#reply-form textarea[name=text]");
      if (!source || !reply) { return; }
      reply.value = source.content.textContent.trim();
      var kind = document.querySelector("#reply-form input[name=kind][value=public]");
      if (kind) { kind.checked = true; }
      reply.focus();
      reply.scrollIntoView({ block: "center" });
    });
  }

  function setupSurges(box) {
    if (box.dataset.ready) { return; }
    box.dataset.ready = "1";
    var url = box.getAttribute("data-surge-url");
    load(box, url);
    document.addEventListener("live:surge", function () { load(box, url); });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-similar-url]#similar-card"), setupSimilar);
    Array.prototype.forEach.call(document.querySelectorAll("[data-surge-url]"), setupSurges);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
