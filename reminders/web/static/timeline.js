// The patient timeline on a phone: newest first, so the latest event is on the first
// screen. Only when the address names no order (?order=oldest|newest is always obeyed)
// and only on a narrow screen. The rows are moved in the page itself, so reading and
// tab order follow what is seen, and every label naming the order is swapped with them.
(function () {
  "use strict";
  var table = document.querySelector("table.timeline[data-phone-order]");
  if (!table || table.getAttribute("data-order") === table.getAttribute("data-phone-order")) {
    return;
  }
  if (!window.matchMedia("(max-width: 48rem)").matches) {
    return;
  }
  var past = table.querySelector("tbody.tl-past");
  var rows = Array.prototype.slice.call(past.querySelectorAll("tr:not(.tl-group)"));
  rows.reverse().forEach(function (row) { past.appendChild(row); });
  var order = table.getAttribute("data-phone-order");
  table.classList.remove("order-" + table.getAttribute("data-order"));
  table.classList.add("order-" + order);
  table.setAttribute("data-order", order);
  document.querySelectorAll("[data-flip]").forEach(function (el) {
    el.textContent = el.getAttribute("data-flip");
    if (el.hasAttribute("data-flip-href")) {
      el.setAttribute("href", el.getAttribute("data-flip-href"));
    }
  });
})();
