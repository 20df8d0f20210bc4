/* Field-sales CRM: the little the pages script themselves (htmx does the rest). A file, never
   inline code: the Content-Security-Policy allows no inline script. Every page works without it. */
(function () {
  "use strict";
  // Scripted: the phone layout may fold the menu and the filters away.
  document.documentElement.classList.add("js");

  var PHONE = "(max-width: 48rem)";

  function setUpMenu() {
    var button = document.querySelector(".menu-button");
    if (!button) return;
    button.hidden = false;
    function toggle(open) {
      button.setAttribute("aria-expanded", String(open));
      document.body.classList.toggle("menu-open", open);
    }
    button.addEventListener("click", function () {
      toggle(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && document.body.classList.contains("menu-open")) {
        toggle(false);
        button.focus();
      }
    });
  }

  function foldFilters() {
    // On a phone the filters are one "Filter" control until tapped (open when one is in use).
    if (!window.matchMedia(PHONE).matches) return;
    document.querySelectorAll("details.filterbox:not([data-active])").forEach(function (box) {
      box.open = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpMenu();
    foldFilters();
  });
})();
