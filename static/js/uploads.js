/* Chosen files checked in the browser before anything is sent.
 *
 * The limits and the wording come from the server (helpdesk/uploads.py
 * browser_rules(), rendered as JSON next to each file input), so the browser
 * refuses exactly what the server would refuse for size and count; the type is
 * judged by the file's name here and by its content on the server, which checks
 * everything again either way. Sizes are written as helpdesk/sizes.py writes them.
 * Without JavaScript the form works as before and the server answers.
 */
(function () {
  "use strict";

  function formatSize(bytes, format) {
    var KIB = 1024, MIB = KIB * 1024, GIB = MIB * 1024;
    var value = bytes, unit = "B";
    if (bytes >= GIB) { value = bytes / GIB; unit = "GB"; }
    else if (bytes >= MIB) { value = bytes / MIB; unit = "MB"; }
    else if (bytes >= KIB) { value = bytes / KIB; unit = "KB"; }
    var decimals = (value < 10 && unit !== "B") ? 1 : 0;
    var factor = Math.pow(10, decimals);
    var rounded = Math.round(value * factor) / factor;
    if (rounded === Math.floor(rounded)) { decimals = 0; }
    var number = rounded.toFixed(decimals).replace(".", format.decimal);
    return format.units[unit].replace("%(size)s", number);
  }

  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : whole;
    });
  }

  function extension(name) {
    var dot = name.lastIndexOf(".");
    return dot > 0 ? name.slice(dot).toLowerCase() : "";
  }

  // Return the people's sentences about what is wrong with `files`, [] when nothing.
  function problems(files, rules) {
    var found = [];
    var total = 0;
    var tooBig = false;
    if (files.length > rules.maxFiles) {
      found.push(fill(rules.allFiles, { reason: rules.reasons.tooMany }));
    }
    files.forEach(function (file) {
      total += file.size;
      var reason = "";
      var ext = extension(file.name);
      if (file.size === 0) {
        reason = rules.reasons.empty;
      } else if (file.size > rules.maxFileBytes) {
        reason = rules.reasons.tooBig;
        tooBig = true;
      } else if ((ext || file.type) && rules.extensions.indexOf(ext) < 0
                 && rules.types.indexOf(file.type) < 0) {
        reason = fill(rules.reasons.type, { type: ext || file.type });
      }
      if (reason) { found.push(fill(rules.oneFile, { name: file.name, reason: reason })); }
    });
    // A file too big on its own is the thing to fix; the total is said only when
    // every file fits but together they do not.
    if (total > rules.maxRequestBytes && !tooBig) {
      found.push(fill(rules.allFiles, { reason: rules.reasons.tooMuch }));
    }
    return found;
  }

  function setup(input) {
    var source = document.getElementById(input.getAttribute("data-upload-rules"));
    var field = input.closest(".field");
    if (!source || !field) { return; }
    var rules = JSON.parse(source.textContent);
    var list = field.querySelector("[data-file-list]");
    var box = field.querySelector("[data-upload-problem]");
    var describedBy = input.getAttribute("aria-describedby") || "";

    function check() {
      var files = Array.prototype.slice.call(input.files || []);
      var found = problems(files, rules);
      if (list) {
        while (list.firstChild) { list.removeChild(list.firstChild); }
        files.forEach(function (file) {
          var item = document.createElement("li");
          item.textContent = file.name + " (" + formatSize(file.size, rules.size) + ")";
          list.appendChild(item);
        });
      }
      if (box) {
        while (box.firstChild) { box.removeChild(box.firstChild); }
        found.forEach(function (text) {
          var line = document.createElement("span");
          line.textContent = text;
          box.appendChild(line);
        });
        box.hidden = found.length === 0;
      }
      field.classList.toggle("has-error", found.length > 0);
      if (found.length) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", (box ? box.id + " " : "") + describedBy);
      } else {
        input.removeAttribute("aria-invalid");
        input.setAttribute("aria-describedby", describedBy);
      }
      return found;
    }

    input.addEventListener("change", check);
    if (input.form) {
      // Capture: runs before the portal's double-submit guard, which must not
      // lock a form that was never sent.
      input.form.addEventListener("submit", function (event) {
        if (check().length) {
          event.preventDefault();
          event.stopImmediatePropagation();
          if (box) { box.setAttribute("role", "alert"); }
          input.focus();
        }
      }, true);
    }
  }

  function init() {
    Array.prototype.forEach.call(
      document.querySelectorAll("input[type=file][data-upload-rules]"), setup
    );
  }

  window.helpdeskFormatSize = formatSize;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
