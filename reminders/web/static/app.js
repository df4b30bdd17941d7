// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Concern inbox: refresh the list in place, unless someone is typing a note in it.
  var list = document.getElementById("concern-list");
  if (list) {
    var url = list.getAttribute("data-refresh-url");
    var seconds = parseInt(list.getAttribute("data-refresh-seconds"), 10) || 20;
    var busy = function () {
      var active = document.activeElement;
      if (active && list.contains(active) && active.tagName === "TEXTAREA") return true;
      return Array.prototype.some.call(list.querySelectorAll("textarea"), function (t) {
        return t.value.trim() !== "";
      });
    };
    setInterval(function () {
      if (busy() || document.hidden) return;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          if (r.redirected || !r.ok) { window.location.reload(); return null; }
          return r.text();
        })
        .then(function (html) {
          if (html === null || busy()) return;
          list.innerHTML = html;
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

  // Ask before destructive actions (cancel an enrolment, publish).
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
})();
