// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Phone header: the Menu button folds the navigation away (CSS hides it on narrow
  // screens only where scripts run, so without this file the full navigation shows).
  var header = document.querySelector("header.top");
  var toggle = header && header.querySelector(".nav-toggle");
  if (toggle) {
    var setOpen = function (open) {
      header.classList.toggle("nav-open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    };
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
    header.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && header.classList.contains("nav-open")) {
        setOpen(false);
        toggle.focus();
      }
    });
  }

  // Concern inbox: refresh the list in place every few seconds. A resolution note being
  // typed survives it: the concern it belongs to keeps its textarea (text, focus, cursor),
  // and everything around it is replaced by the fresh copy, so new concerns still appear.
  var list = document.getElementById("concern-list");
  if (list) {
    var url = list.getAttribute("data-refresh-url");
    var seconds = parseInt(list.getAttribute("data-refresh-seconds"), 10) || 20;
    var inProgress = function (t) {
      return t.value.trim() !== "" || t === document.activeElement;
    };
    var notesIn = function (node) {
      if (node.nodeType !== 1) return [];
      if (node.tagName === "TEXTAREA") return inProgress(node) ? [node] : [];
      return Array.prototype.filter.call(node.querySelectorAll("textarea"), inProgress);
    };
    var holds = function (node, id) {
      return node.nodeType === 1 && (node.id === id || node.querySelector("#" + CSS.escape(id)) !== null);
    };
    var copyAttributes = function (from, to) {
      Array.prototype.slice.call(to.attributes).forEach(function (a) {
        if (!from.hasAttribute(a.name)) to.removeAttribute(a.name);
      });
      Array.prototype.forEach.call(from.attributes, function (a) {
        if (to.getAttribute(a.name) !== a.value) to.setAttribute(a.name, a.value);
      });
    };
    // Make ``live``'s children those of ``fresh``, except that a child holding a note in
    // progress is kept (and merged the same way) rather than replaced. Nodes are inserted
    // around a kept one, never moved, so the focused textarea keeps its focus.
    var merge = function (live, fresh) {
      var wanted = Array.prototype.slice.call(fresh.childNodes);
      Array.prototype.slice.call(live.childNodes).forEach(function (child, index) {
        var notes = notesIn(child);
        if (!notes.length) return;
        var twin = null;
        wanted.forEach(function (candidate, i) {
          if (twin === null && holds(candidate, notes[0].id)) twin = i;
        });
        if (twin !== null) {
          if (child.tagName !== "TEXTAREA") { merge(child, wanted[twin]); copyAttributes(wanted[twin], child); }
          wanted[twin] = child;
        } else if (child.classList && child.classList.contains("concern")) {
          // Resolved or gone elsewhere meanwhile: keep the note in sight, and say so.
          if (!child.querySelector(".gone")) {
            var gone = document.createElement("p");
            gone.className = "field-error gone";
            gone.textContent = "This concern was resolved or closed by someone else; your note was not saved.";
            child.insertBefore(gone, child.firstChild);
          }
          wanted.splice(Math.min(index, wanted.length), 0, child);
        }
      });
      Array.prototype.slice.call(live.childNodes).forEach(function (child) {
        if (wanted.indexOf(child) < 0) live.removeChild(child);
      });
      wanted.forEach(function (node, i) {
        if (live.childNodes[i] !== node) live.insertBefore(node, live.childNodes[i] || null);
      });
    };
    setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          if (r.redirected || !r.ok) { window.location.reload(); return null; }
          return r.text();
        })
        .then(function (html) {
          if (html === null) return;
          var active = document.activeElement;
          var typing = active && active.tagName === "TEXTAREA" && list.contains(active);
          var start = typing ? active.selectionStart : 0;
          var end = typing ? active.selectionEnd : 0;
          var fresh = document.createElement("div");
          fresh.innerHTML = html;
          merge(list, fresh);
          if (typing && document.activeElement !== active && document.contains(active)) {
            active.focus();  // only if a kept note had to move (its concern changed place)
            active.setSelectionRange(start, end);
          }
          // Keep the tab title's emergency count current for a nurse on another tab.
          var summary = list.querySelector("[data-emergencies]");
          var n = summary ? parseInt(summary.getAttribute("data-emergencies"), 10) : 0;
          var base = document.title.replace(/^\(\d+ EMERGENCY\) /, "");
          document.title = n > 0 ? "(" + n + " EMERGENCY) " + base : base;
        })
        .catch(function () { /* offline for a moment: try again next tick */ });
    }, seconds * 1000);
  }

  // Protocol editor: re-render the preview as the coordinator types (debounced).
  var editor = document.getElementById("protocol-editor");
  var preview = document.getElementById("preview");
  if (editor && preview) {
    var timer = null;
    var seq = 0;
    var refresh = function () {
      var mine = ++seq;
      var data = new FormData(editor);
      fetch(editor.getAttribute("data-preview-url"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" }
      }).then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null && mine === seq) preview.innerHTML = html; })
        .catch(function () {});
    };
    var schedule = function (e) {
      // Template textareas sit outside the <form> element (form="protocol-editor").
      if (e.target.form !== editor) return;
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    };
    document.addEventListener("input", schedule);
    document.addEventListener("change", schedule);
  }

  // A form sent back with errors (a 422 page): one summary at the top lists every error
  // as a link to its field, and takes the focus, so a keyboard or screen-reader user hears
  // what went wrong and can go straight to it. Pages only mark the errors (.field-error,
  // and optionally a server-written .error-summary with role="alert"); this does the rest.
  var main = document.getElementById("main");
  if (main) {
    var skip = "#preview, [data-no-error-summary]";  // live previews are not form errors
    var errors = Array.prototype.filter.call(main.querySelectorAll(".field-error"), function (e) {
      return !e.closest(skip) && e.textContent.trim() !== "";
    });
    var summary = main.querySelector(".error-summary[role='alert']");
    if (errors.length || summary) {
      if (!summary || summary.tagName === "P") {
        var box = document.createElement("div");
        box.className = "error-summary";
        box.setAttribute("role", "alert");
        if (summary) {
          var lead = document.createElement("p");
          lead.textContent = summary.textContent;
          box.appendChild(lead);
          summary.parentNode.replaceChild(box, summary);
        } else {
          var heading = document.createElement("p");
          heading.textContent = "Nothing was saved. Please correct:";
          box.appendChild(heading);
          var h1 = main.querySelector("h1");
          main.insertBefore(box, h1 ? h1.nextSibling : main.firstChild);
        }
        summary = box;
      }
      if (errors.length) {
        var links = document.createElement("ul");
        errors.forEach(function (error, i) {
          if (!error.id) error.id = "error-" + (i + 1);
          var field = main.querySelector("[aria-describedby~='" + error.id + "']");
          if (!field) {
            var around = error.closest(".field, .has-error, fieldset, article, form");
            field = around && around.querySelector(
              "[aria-invalid='true'], textarea, select, input:not([type='hidden'])");
          }
          var target = field || error;
          if (!target.id) target.id = error.id + "-field";
          var link = document.createElement("a");
          link.href = "#" + target.id;
          link.textContent = error.textContent.trim();
          link.addEventListener("click", function (e) {
            e.preventDefault();
            if (!field) target.setAttribute("tabindex", "-1");
            target.focus();
            target.scrollIntoView({ block: "center" });
          });
          var item = document.createElement("li");
          item.appendChild(link);
          links.appendChild(item);
        });
        summary.appendChild(links);
      }
      summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
  }

  // Ask before destructive actions (cancel an enrolment, publish).
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
})();
