// Protocol editor form: add, remove and move steps in place, show only the fields the
// chosen options use, number the YAML lines, and copy the live preview's field errors and
// SMS counts next to the fields. Without this script every button posts the form and the
// server does the same (app.js re-renders the preview as you type).
(function () {
  "use strict";
  var editor = document.getElementById("protocol-editor");
  if (!editor) return;
  var list = document.getElementById("steps-list");
  var blank = document.getElementById("step-template");
  var preview = document.getElementById("preview");
  var YES_NO = ["yes_no", "symptom_check"];
  var counter = 0;

  // Tell app.js the draft changed, so the preview re-renders.
  var changed = function () {
    var marker = editor.querySelector("input[name='editor']");
    if (marker) marker.dispatchEvent(new Event("change", { bubbles: true }));
  };

  var show = function (el, on) { if (el) el.hidden = !on; };

  // Only the inputs that the chosen "Send", "Repeat" and "Expected answer" use.
  var tidy = function (step) {
    var kind = step.querySelector("[data-role='when-kind']");
    if (kind) {
      Array.prototype.forEach.call(step.querySelectorAll("[data-kinds]"), function (part) {
        show(part, part.getAttribute("data-kinds").split(" ").indexOf(kind.value) >= 0);
      });
    }
    var repeat = step.querySelector("[data-role='repeat-kind']");
    if (repeat) {
      show(step.querySelector(".repeat-parts"), repeat.value !== "");
      show(step.querySelector("[data-repeat-every]"), repeat.value === "every");
    }
    var expects = step.querySelector("[data-role='expects']");
    if (expects) show(step.querySelector("[data-yes-no]"), YES_NO.indexOf(expects.value) >= 0);
  };

  var renumber = function () {
    if (!list) return;
    Array.prototype.forEach.call(list.children, function (item, i) {
      var n = item.querySelector(".step-n");
      if (n) n.textContent = "Step " + (i + 1);
      Array.prototype.forEach.call(item.querySelectorAll(".sr-n"), function (s) {
        s.textContent = " step " + (i + 1);
      });
    });
  };

  var focusButton = function (item, action) {
    var button = item && item.querySelector("[data-step-action='" + action + "']");
    if (button) button.focus();
  };

  if (list) {
    Array.prototype.forEach.call(list.children, tidy);
    editor.addEventListener("change", function (e) {
      var item = e.target.closest && e.target.closest(".step-item");
      if (item) tidy(item);
    });
    editor.addEventListener("input", function (e) {
      if (!e.target.name || !/-(title|key)$/.test(e.target.name)) return;
      var item = e.target.closest(".step-item");
      var name = item && item.querySelector(".step-name");
      if (!name) return;
      var title = item.querySelector("input[name$='-title']").value.trim();
      var key = item.querySelector("input[name$='-key']").value.trim();
      name.textContent = title || key || "(new step)";
    });
    editor.addEventListener("click", function (e) {
      var button = e.target.closest && e.target.closest("button[name='action']");
      if (!button) return;
      var action = button.getAttribute("data-step-action");
      var item = button.closest(".step-item");
      if (action && item) {
        e.preventDefault();
        if (action === "remove") {
          var next = item.nextElementSibling || item.previousElementSibling;
          item.parentNode.removeChild(item);
          if (next) focusButton(next, "remove");
        } else if (action === "up" && item.previousElementSibling) {
          list.insertBefore(item, item.previousElementSibling);
          focusButton(item, "up");
        } else if (action === "down" && item.nextElementSibling) {
          list.insertBefore(item.nextElementSibling, item);
          focusButton(item, "down");
        }
        renumber();
        changed();
      } else if (button.value === "add" && blank) {
        e.preventDefault();
        counter += 1;
        var uid = "j" + Date.now().toString(36).slice(-5) + counter;
        var holder = document.createElement("ol");
        holder.innerHTML = blank.innerHTML.replace(/uidx0/g, uid);
        var added = holder.firstElementChild;
        list.appendChild(added);
        tidy(added);
        renumber();
        var first = added.querySelector("input[name$='-title']");
        if (first) first.focus();
        changed();
      }
    });
  }

  // The preview carries the field errors and SMS counts for the draft as typed.
  var applyLive = function () {
    if (!preview) return;
    var counts = preview.querySelectorAll("[data-live-counts] li");
    Array.prototype.forEach.call(counts, function (li) {
      var out = document.getElementById(li.getAttribute("data-for"));
      if (out) out.textContent = li.textContent;
    });
    var errors = {};
    Array.prototype.forEach.call(preview.querySelectorAll("[data-live-errors] li"), function (li) {
      errors[li.getAttribute("data-for")] = li.textContent;
    });
    if (!preview.querySelector("[data-live-errors]")) return;
    Array.prototype.forEach.call(editor.querySelectorAll(".err-slot"), function (slot) {
      var id = slot.getAttribute("data-slot");
      var words = errors[id];
      var current = slot.querySelector(".field-error");
      if ((current ? current.textContent : "") === (words || "")) return;
      slot.innerHTML = "";
      var field = document.getElementById(id);
      if (words) {
        var p = document.createElement("p");
        p.className = "field-error";
        p.id = id + "-err";
        p.textContent = words;
        slot.appendChild(p);
      }
      var around = slot.closest(".field, fieldset.when");
      if (around) around.classList.toggle("has-error", !!words);
      if (field) {
        var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(
          function (x) { return x && x !== id + "-err"; });
        if (words) described.push(id + "-err");
        field.setAttribute("aria-describedby", described.join(" "));
        if (words) field.setAttribute("aria-invalid", "true");
        else field.removeAttribute("aria-invalid");
      }
    });
  };
  if (preview && window.MutationObserver) {
    new MutationObserver(applyLive).observe(preview, { childList: true });
  }

  // Line numbers beside the YAML text, kept in step with typing and scrolling.
  var yaml = editor.querySelector("textarea[name='steps']");
  var gutter = editor.querySelector("[data-gutter]");
  if (yaml && gutter) {
    var lines = function () {
      var n = yaml.value.split("\n").length, out = [];
      for (var i = 1; i <= n; i++) out.push(i);
      gutter.textContent = out.join("\n") + "\n";
      gutter.scrollTop = yaml.scrollTop;
    };
    yaml.addEventListener("input", lines);
    yaml.addEventListener("scroll", function () { gutter.scrollTop = yaml.scrollTop; });
    lines();
  }
})();
