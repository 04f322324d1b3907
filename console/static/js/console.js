/* Agent console: live updates over WebSocket, keyboard shortcuts, small helpers.
 *
 * Plain JavaScript, no build step. The server stays the judge of what a
 * person may see: a live event only says "ticket N changed"; the row or the
 * messages are then fetched from console endpoints that apply visible_to().
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (format, values) {
    return format.replace(/%\((\w+)\)s/g, function (_m, name) { return String(values[name]); });
  };
  var rows = document.getElementById("rows");
  var ticketRoot = document.getElementById("ticket-root");
  var liveState = document.getElementById("live-state");
  var socket = null;
  var retryDelay = 1000;
  var viewers = {};

  // --- WebSocket -----------------------------------------------------------------

  function setLive(on) {
    if (!liveState) return;
    liveState.textContent = on ? t("live") : t("offline");
    liveState.classList.toggle("on", on);
    document.documentElement.dataset.live = on ? "on" : "off";
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + location.host + "/ws/live/");
    } catch (e) {
      setLive(false);
      return;
    }
    socket.addEventListener("open", function () {
      retryDelay = 1000;
      setLive(true);
      if (ticketRoot) {
        socket.send(JSON.stringify({ action: "watch", ticket_id: Number(ticketRoot.dataset.ticketId) }));
      }
    });
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "ticket") onTicket(data);
      else if (data.type === "presence") onPresence(data);
      // Other kinds are for the page's other scripts: "surge" for waves.js as
      // "live:surge", and every frame as "console:live" (the bell, agent_day.js).
      else if (typeof data.type === "string") document.dispatchEvent(new CustomEvent("live:" + data.type, { detail: data }));
      document.dispatchEvent(new CustomEvent("console:live", { detail: data }));
    });
    socket.addEventListener("close", function () {
      setLive(false);
      viewers = {};
      showViewers();
      // Reconnect with back-off, e.g. after a server restart.
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  }

  function onTicket(data) {
    if (rows) {
      refreshRow(data.ticket_id);
      scheduleCounts();
    }
    if (ticketRoot && Number(ticketRoot.dataset.ticketId) === data.ticket_id) onOpenTicketChanged(data);
  }

  // --- lists ---------------------------------------------------------------------

  function refreshRow(ticketId) {
    var url = rows.dataset.rowUrl.replace(/0\/$/, ticketId + "/");
    var query = "queue=" + encodeURIComponent(rows.dataset.queue) + (rows.dataset.query ? "&" + rows.dataset.query : "");
    fetch(url + "?" + query, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        var existing = rows.querySelector('tr[data-id="' + ticketId + '"]');
        if (response.status === 204) {
          if (existing) existing.remove();
          return null;
        }
        if (!response.ok) return null;
        return response.text().then(function (html) {
          var holder = document.createElement("tbody");
          holder.innerHTML = html.trim();
          var row = holder.querySelector("tr");
          if (!row) return;
          var checkbox = existing && existing.querySelector('input[type="checkbox"]');
          if (checkbox && checkbox.checked) row.querySelector('input[type="checkbox"]').checked = true;
          if (existing) {
            if (existing.classList.contains("selected")) row.classList.add("selected");
            existing.replaceWith(row);
          } else if (rows.dataset.firstPage === "1") {
            var empty = rows.querySelector("tr.empty");
            if (empty) empty.remove();
            rows.insertBefore(row, rows.firstChild);
          }
        });
      })
      .catch(function () { /* the next event or a reload will catch up */ });
  }

  // The counts are one aggregate query on the server: ask at most every 10 s.
  var countsTimer = null;
  var countsAskedAt = 0;

  function scheduleCounts() {
    if (countsTimer) return;
    var wait = Math.max(1000, 10000 - (Date.now() - countsAskedAt));
    countsTimer = setTimeout(function () {
      countsTimer = null;
      countsAskedAt = Date.now();
      fetch(rows.dataset.countsUrl, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : {}; })
        .then(function (counts) {
          Object.keys(counts).forEach(function (key) {
            var cell = document.querySelector('[data-count="' + key + '"]');
            if (cell) cell.textContent = counts[key];
          });
        })
        .catch(function () {});
    }, wait);
  }

  // --- an open ticket ------------------------------------------------------------

  function lastShownId() {
    var items = document.querySelectorAll("#conversation > li[data-message-id]");
    var last = 0;
    items.forEach(function (li) { last = Math.max(last, Number(li.dataset.messageId)); });
    return last;
  }

  function onOpenTicketChanged(data) {
    if (data.change === "message" || data.change === "merged") {
      var url = ticketRoot.dataset.messagesUrl + "?after=" + lastShownId();
      fetch(url, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          if (!html.trim()) return;
          var list = document.getElementById("conversation");
          list.insertAdjacentHTML("beforeend", html);
          warnIfNewer();
        });
    } else {
      var notice = document.getElementById("live-notice");
      if (notice) {
        notice.hidden = false;
        notice.textContent = "";
        notice.append(t("This request was changed by someone else") + " (" + data.change + "). ");
        var link = document.createElement("a");
        link.href = location.pathname;
        link.textContent = t("Reload to see it");
        notice.append(link);
      }
    }
  }

  function warnIfNewer() {
    var form = document.getElementById("reply-form");
    if (!form) return;
    var seen = Number(form.elements.last_message_id.value || 0);
    if (lastShownId() > seen) {
      document.getElementById("newer-warning").hidden = false;
      var confirmBox = document.getElementById("confirm-stale");
      if (confirmBox) confirmBox.hidden = false;
    }
  }

  function onPresence(data) {
    if (!ticketRoot || Number(ticketRoot.dataset.ticketId) !== data.ticket_id) return;
    if (data.state === "left") delete viewers[data.user_id];
    else viewers[data.user_id] = { name: data.name, seen: Date.now() };
    showViewers();
  }

  // Everyone on the page says "still here" every 20 s; someone not heard of
  // for 45 s is gone even if their "left" was lost (a closed laptop, a
  // restarted server).
  var HEARTBEAT_MS = 20000;
  var FORGET_MS = 45000;

  function heartbeat() {
    if (socket && socket.readyState === WebSocket.OPEN && ticketRoot) {
      socket.send(JSON.stringify({ action: "watch", ticket_id: Number(ticketRoot.dataset.ticketId) }));
    }
    var now = Date.now();
    Object.keys(viewers).forEach(function (key) {
      if (now - viewers[key].seen > FORGET_MS) delete viewers[key];
    });
    showViewers();
  }

  function showViewers() {
    var box = document.getElementById("presence");
    if (!box) return;
    var names = Object.keys(viewers).map(function (k) { return viewers[k].name; });
    box.hidden = names.length === 0;
    box.textContent = names.length ? t("Also viewing this request:") + " " + names.join(", ") : "";
  }

  // --- helpers on the ticket page ----------------------------------------------------

  function insertAtCursor(textarea, text) {
    var start = textarea.selectionStart || 0;
    var end = textarea.selectionEnd || 0;
    var before = textarea.value.slice(0, start);
    var after = textarea.value.slice(end);
    textarea.value = before + text + after;
    textarea.focus();
    textarea.selectionStart = textarea.selectionEnd = start + text.length;
  }

  function replyBox(kind) {
    var form = document.getElementById("reply-form");
    if (!form) return;
    var radio = form.querySelector('input[name="kind"][value="' + kind + '"]');
    if (radio) radio.checked = true;
    form.elements.text.focus();
    form.scrollIntoView({ block: "center" });
  }

  function setUpTicketPage() {
    var canned = document.getElementById("canned");
    if (canned) {
      canned.addEventListener("change", function () {
        var option = canned.options[canned.selectedIndex];
        if (option && option.dataset.text) {
          insertAtCursor(document.getElementById("reply-form").elements.text, option.dataset.text);
        }
        canned.selectedIndex = 0;
      });
    }
    var merge = document.getElementById("merge-form");
    if (merge) {
      // Without this script the server asks on a page of its own; a "yes"
      // here skips that page.
      merge.addEventListener("submit", function (event) {
        if (!window.confirm(merge.dataset.confirm)) {
          event.preventDefault();
          return;
        }
        var yes = merge.querySelector('input[name="confirm"]') || document.createElement("input");
        yes.type = "hidden";
        yes.name = "confirm";
        yes.value = "yes";
        merge.append(yes);
      });
    }
    var kbButton = document.querySelector('[data-action="kb-search"]');
    if (kbButton) kbButton.addEventListener("click", kbSearch);
    var kbInput = document.getElementById("kb-q");
    if (kbInput) {
      kbInput.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); kbSearch(); }
      });
    }
  }

  function kbSearch() {
    var input = document.getElementById("kb-q");
    var list = document.getElementById("kb-results");
    var url = input.dataset.url + "?q=" + encodeURIComponent(input.value);
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { articles: [] }; })
      .then(function (data) {
        list.textContent = "";
        (data.articles || []).slice(0, 8).forEach(function (article) {
          var li = document.createElement("li");
          var button = document.createElement("button");
          button.type = "button";
          button.className = "link";
          button.textContent = article.title;
          button.addEventListener("click", function () {
            var absolute = new URL(article.url, location.origin).href;
            insertAtCursor(document.getElementById("reply-form").elements.text, article.title + ": " + absolute);
          });
          li.append(button);
          list.append(li);
        });
        if (!list.children.length) list.textContent = t("Nothing found.");
      });
  }

  // --- where a ticket was opened from: previous / next in that list ------------------
  //
  // The queue page notes its rows (in the order shown, with its filters and
  // sort in the address) in this tab's sessionStorage; a ticket page opened
  // from it offers "previous / next" and the way back to exactly that list.
  // The note survives the ticket's own actions (each reloads the page).

  var LIST_KEY = "console.list";

  function rememberList() {
    if (!rows) return;
    var note = {
      url: location.pathname + location.search,
      label: rows.dataset.label || "",
      items: tableRows().map(function (row) { return row.dataset.url; }),
      next: rows.dataset.nextPage ? location.pathname + rows.dataset.nextPage : ""
    };
    try { sessionStorage.setItem(LIST_KEY, JSON.stringify(note)); } catch (e) { /* private mode */ }
  }

  function rememberedList() {
    try {
      var note = JSON.parse(sessionStorage.getItem(LIST_KEY) || "null");
      return note && Array.isArray(note.items) ? note : null;
    } catch (e) {
      return null;
    }
  }

  var steps = { previous: null, next: null };

  function stepLink(href, text, rel) {
    var link = document.createElement("a");
    link.href = href;
    link.textContent = text;
    if (rel) link.rel = rel;
    return link;
  }

  function showSteps() {
    var nav = document.getElementById("ticket-steps");
    var note = rememberedList();
    if (!nav || !note) return;
    var index = note.items.indexOf(location.pathname);
    if (index < 0) return;
    nav.textContent = "";
    if (index > 0) {
      steps.previous = note.items[index - 1];
      nav.append(stepLink(steps.previous, "‹ " + t("Previous"), "prev"));
    }
    var position = document.createElement("span");
    position.className = "position";
    position.append(interpolate(t("%(n)s of %(total)s in"), { n: index + 1, total: note.items.length }, true) + " ");
    position.append(stepLink(note.url, note.label || t("the list")));
    nav.append(position);
    if (index < note.items.length - 1) {
      steps.next = note.items[index + 1];
      nav.append(stepLink(steps.next, t("Next") + " ›", "next"));
    } else if (note.next) {
      steps.next = note.next;
      nav.append(stepLink(note.next, t("Next page of the list") + " ›", "next"));
    }
    nav.hidden = false;
  }

  // --- keyboard ----------------------------------------------------------------------
  //
  // Single-key shortcuts (WCAG 2.1.4): they can be turned off (a switch in the
  // console menu, remembered by this browser), and they never act while a
  // form control has the focus. Enter opens the selected row only when the
  // focus is on the page itself, never when it is on a button, a link, a
  // drop-down or a disclosure, whose own action Enter is (2.1.1).

  var SHORTCUTS_KEY = "console.shortcuts";

  function shortcutsOn() {
    try { return localStorage.getItem(SHORTCUTS_KEY) !== "off"; } catch (e) { return true; }
  }

  function applyShortcutsSetting() {
    var on = shortcutsOn();
    document.body.classList.toggle("shortcuts-off", !on);
    var box = document.getElementById("shortcuts-on");
    if (box) box.checked = on;
    document.querySelectorAll("[aria-keyshortcuts], [data-keyshortcuts]").forEach(function (element) {
      if (!element.dataset.keyshortcuts) element.dataset.keyshortcuts = element.getAttribute("aria-keyshortcuts");
      if (on) element.setAttribute("aria-keyshortcuts", element.dataset.keyshortcuts);
      else element.removeAttribute("aria-keyshortcuts");
    });
  }

  function setUpShortcutsSwitch() {
    var holder = document.getElementById("shortcuts-switch");
    var box = document.getElementById("shortcuts-on");
    if (!holder || !box) return;
    holder.hidden = false;
    box.addEventListener("change", function () {
      try { localStorage.setItem(SHORTCUTS_KEY, box.checked ? "on" : "off"); } catch (e) { /* not remembered */ }
      applyShortcutsSetting();
    });
    applyShortcutsSetting();
  }

  function tableRows() {
    return rows ? Array.prototype.slice.call(rows.querySelectorAll("tr[data-id]")) : [];
  }

  function select(row) {
    var current = rows.querySelector("tr.selected");
    if (current) current.classList.remove("selected");
    row.classList.add("selected");
  }

  function move(step) {
    var all = tableRows();
    if (!all.length) return;
    var current = rows.querySelector("tr.selected");
    var index = current ? all.indexOf(current) + step : 0;
    index = Math.max(0, Math.min(all.length - 1, index));
    var row = all[index];
    select(row);
    var link = row.querySelector("a.ref");
    if (link) link.focus();
  }

  // A control whose own keys must not be taken over.
  var CONTROLS = "input, textarea, select, button, summary, dialog, [contenteditable], [role=textbox], [role=combobox], [role=listbox]";

  function inControl(target) {
    return Boolean(target && target.closest && target.closest(CONTROLS));
  }

  function focusOnPage() {
    var active = document.activeElement;
    return !active || active === document.body || active === document.documentElement || active.id === "main";
  }

  var pendingG = false;

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (inControl(event.target)) {
      var tag = event.target.tagName;
      if (event.key === "Escape" && (tag === "INPUT" || tag === "TEXTAREA")) event.target.blur();
      return;
    }
    if (!shortcutsOn()) return;
    var dialog = document.getElementById("shortcuts");
    if (pendingG) {
      pendingG = false;
      if (event.key === "q") { location.href = "/console/"; return; }
    }
    switch (event.key) {
      case "j":
        if (rows) move(1);
        else if (steps.next) location.href = steps.next;
        break;
      case "k":
        if (rows) move(-1);
        else if (steps.previous) location.href = steps.previous;
        break;
      case "x": {
        var selected = rows && rows.querySelector("tr.selected input[type=checkbox]");
        if (selected) {
          selected.checked = !selected.checked;
          selected.dispatchEvent(new Event("change", { bubbles: true }));
        }
        break;
      }
      case "Enter": {
        var row = rows && rows.querySelector("tr.selected");
        if (!row || !focusOnPage()) return;
        location.href = row.dataset.url;
        break;
      }
      case "/": {
        var search = document.getElementById("id_q");
        if (search) { event.preventDefault(); search.focus(); }
        return;
      }
      case "r": if (ticketRoot) { event.preventDefault(); replyBox("public"); } return;
      case "n": if (ticketRoot) { event.preventDefault(); replyBox("internal"); } return;
      case "t": {
        var take = document.getElementById("take-form");
        if (take) take.submit();
        return;
      }
      case "g": pendingG = true; return;
      case "?": if (dialog && !dialog.open) dialog.showModal(); return;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var action = event.target.closest("[data-action]");
    if (!action) return;
    var name = action.dataset.action;
    if (name === "help") document.getElementById("shortcuts").showModal();
    else if (name === "reply") replyBox("public");
    else if (name === "note") replyBox("internal");
  });

  // --- the bulk bar: only the fields the chosen action needs, and how many are chosen ----

  function setUpBulkBar() {
    var form = document.getElementById("bulk-form");
    if (!form) return;
    var action = form.elements.action;
    var show = function () {
      form.querySelectorAll("[data-for]").forEach(function (field) {
        // data-for names the actions (space-separated) that need the field
        field.hidden = field.dataset.for.split(" ").indexOf(action.value) < 0;
      });
    };
    action.addEventListener("change", show);
    show();
    var count = document.getElementById("selected-count");
    var recount = function () {
      var n = document.querySelectorAll('#rows input[name="ids"]:checked').length;
      if (count) count.textContent = n ? interpolate(t("%(n)s selected"), { n: n }, true) : "";
    };
    document.addEventListener("change", function (event) {
      if (event.target.name === "ids" || event.target.id === "select-all") recount();
    });
    recount();
  }

  var selectAll = document.getElementById("select-all");
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      tableRows().forEach(function (row) {
        row.querySelector('input[type="checkbox"]').checked = selectAll.checked;
      });
    });
  }
  if (rows) {
    rows.addEventListener("click", function (event) {
      var row = event.target.closest("tr[data-id]");
      if (row) select(row);
    });
    rememberList();
    new MutationObserver(rememberList).observe(rows, { childList: true });
  }
  setUpShortcutsSwitch();
  setUpBulkBar();
  // On a narrow screen the console menu is one line that scrolls sideways:
  // bring the current queue into view.
  var menu = document.querySelector(".console-nav");
  var here = menu && menu.querySelector('a[aria-current="page"]');
  if (here && menu.scrollWidth > menu.clientWidth) {
    menu.scrollLeft += here.getBoundingClientRect().left - menu.getBoundingClientRect().left - 8;
  }
  if (ticketRoot) {
    setUpTicketPage();
    showSteps();
    setInterval(heartbeat, HEARTBEAT_MS);
  }
  // Every console page says "still connected" now and then: a colleague's
  // @mention is mailed only to agents without an open console.
  setInterval(function () {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ action: "ping" }));
  }, 30000);
  if ("WebSocket" in window) connect();
})();
