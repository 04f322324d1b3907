/* Person picker of the console: search institution staff by name, e-mail or
 * НЕИСПУО code (console:person_search, agents only) and fill a form's hidden
 * person id (and the institution's code, when the form has one).
 *
 * Without JavaScript the forms still work: a typed e-mail address is sent as
 * it is and the server finds the person by it.
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };

  function item(list, text, onClick) {
    var li = document.createElement("li");
    if (onClick) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = text;
      button.addEventListener("click", onClick);
      li.appendChild(button);
    } else {
      li.textContent = text;
    }
    list.appendChild(li);
    return li;
  }

  function picker(root) {
    var q = root.querySelector("[data-picker-q]");
    var list = root.querySelector("[data-picker-results]");
    var picked = root.querySelector("[data-picked]");
    var id = root.querySelector("[data-picked-id]");
    var code = root.querySelector("[data-picked-institution]");
    var url = root.dataset.searchUrl;
    var timer = null;
    var asked = 0;
    if (!q || !list || !id || !url) return;

    function setInstitution(value) {
      if (code) code.value = value;
    }

    function choose(person) {
      id.value = String(person.id);
      if (q.dataset.pickerKeep !== "text") q.value = person.email;
      if (picked) {
        picked.hidden = false;
        picked.textContent = t("Chosen:") + " " + (person.name || person.email) + " <" + person.email + ">";
      }
      list.textContent = "";
      if (!code) return;
      if (person.institutions.length === 1) {
        setInstitution(person.institutions[0].code);
      } else {
        item(list, t("Which institution?"));
        person.institutions.forEach(function (inst) {
          item(list, inst.code + " " + inst.name, function () {
            setInstitution(inst.code);
            list.textContent = "";
          });
        });
      }
    }

    function show(data, page) {
      if (page === 1) list.textContent = "";
      if (data.error) { item(list, data.error); return; }
      data.people.forEach(function (person) {
        var places = person.institutions.map(function (i) { return i.code + " " + i.name; }).join("; ");
        var li = item(list, (person.name || person.email) + " <" + person.email + ">", function () { choose(person); });
        li.dataset.personId = String(person.id);
        var where = document.createElement("span");
        where.className = "muted";
        where.textContent = " " + places;
        li.appendChild(where);
      });
      if (code) {
        data.institutions.forEach(function (inst) {
          item(list, t("Institution only:") + " " + inst.code + " " + inst.name, function () {
            setInstitution(inst.code);
            list.textContent = "";
          });
        });
      }
      if (!data.people.length && !data.institutions.length) item(list, t("Nobody found."));
      if (data.has_next) {
        var more = item(list, t("more…"), function () { more.remove(); search(page + 1); });
      }
    }

    function search(page) {
      var text = q.value.trim();
      if (text.length < 2) { list.textContent = ""; return; }
      var mine = ++asked;
      var query = new URLSearchParams({ q: text, page: String(page) });
      fetch(url + "?" + query.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { if (mine === asked) show(data, page); })
        .catch(function () {});
    }

    q.addEventListener("input", function () {
      id.value = "";
      if (picked) picked.hidden = true;
      clearTimeout(timer);
      timer = setTimeout(function () { search(1); }, 250);
    });
    // Text typed before this script ran (a slow page, a quick typist) had no
    // listener: search it now, unless a person is already chosen.
    if (!id.value && q.value.trim().length >= 2) search(1);
    if (q.dataset.enterSearches !== undefined) {
      q.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); search(1); }
      });
    }
  }

  document.querySelectorAll("[data-person-picker]").forEach(picker);
})();
