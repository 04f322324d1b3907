/* The agent's day in the console: the notification bell, flagged placeholders,
 * @mention autocomplete. Plain JavaScript, no build step; the server decides
 * who may be mentioned (only colleagues who may see the request are offered,
 * and the note's action checks again).
 */
(function () {
  "use strict";

  // --- the bell ------------------------------------------------------------------
  var bellCount = document.getElementById("bell-count");
  function showUnread(n) {
    if (!bellCount) return;
    bellCount.textContent = String(n);
    bellCount.parentElement.classList.toggle("has-unread", n > 0);
  }
  document.addEventListener("console:live", function (event) {
    var data = event.detail || {};
    if (data.type === "notification" && typeof data.unread === "number") showUnread(data.unread);
  });
  if (bellCount) showUnread(Number(bellCount.textContent) || 0);

  // --- canned replies with placeholders that could not be filled ------------------
  var canned = document.getElementById("canned");
  var unknownBox = document.getElementById("canned-unknown");
  if (canned && unknownBox) {
    // Runs before console.js resets the choice (listeners fire in order; this
    // script is loaded first, in the page's navigation).
    canned.addEventListener("change", function () {
      var option = canned.options[canned.selectedIndex];
      var unknown = option && option.dataset.unknown;
      unknownBox.hidden = !unknown;
      // The label comes translated from the page (data-label).
      unknownBox.textContent = unknown ? unknownBox.dataset.label + " " + unknown : "";
    });
  }

  // --- @mentions -------------------------------------------------------------------
  var help = document.getElementById("mention-help");
  var list = document.getElementById("mention-list");
  var form = document.getElementById("reply-form");
  if (!help || !list || !form) return;
  var textarea = form.elements.text;
  var timer = null;

  function isNote() {
    var radio = form.querySelector('input[name="kind"]:checked');
    return radio && radio.value === "internal";
  }

  function currentHandle() {
    var before = textarea.value.slice(0, textarea.selectionStart || 0);
    var match = /(^|[\s(])@([A-Za-z0-9._+-]{0,64})$/.exec(before);
    return match ? match[2] : null;
  }

  function choose(handle) {
    var end = textarea.selectionStart || 0;
    var before = textarea.value.slice(0, end);
    var start = before.lastIndexOf("@") + 1;
    textarea.value = before.slice(0, start) + handle + " " + textarea.value.slice(end);
    textarea.focus();
    textarea.selectionStart = textarea.selectionEnd = start + handle.length + 1;
    list.hidden = true;
  }

  function lookup() {
    var handle = currentHandle();
    if (handle === null || !isNote()) { list.hidden = true; return; }
    fetch(help.dataset.url + "?q=" + encodeURIComponent(handle), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { agents: [] }; })
      .then(function (data) {
        list.textContent = "";
        (data.agents || []).forEach(function (agent) {
          var li = document.createElement("li");
          var button = document.createElement("button");
          button.type = "button";
          button.className = "link";
          button.dataset.handle = agent.handle;
          button.textContent = "@" + agent.handle + " — " + agent.name;
          button.addEventListener("click", function () { choose(agent.handle); });
          li.append(button);
          list.append(li);
        });
        list.hidden = !list.children.length;
      })
      .catch(function () { list.hidden = true; });
  }

  textarea.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(lookup, 200);
  });
})();
