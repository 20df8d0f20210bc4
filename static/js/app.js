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

  function countDown(root) {
    // A wait announced by the server (a 429's Retry-After, in data-countdown): the buttons that
    // would ask again wait too, and the seconds count down to zero.
    root.querySelectorAll("[data-countdown]").forEach(function (notice) {
      var left = parseInt(notice.getAttribute("data-countdown"), 10) || 1;
      var value = notice.querySelector(".countdown-value");
      var buttons = document.querySelectorAll(".review-button");
      notice.removeAttribute("data-countdown");
      buttons.forEach(function (b) { b.disabled = true; });
      var timer = window.setInterval(function () {
        left -= 1;
        if (value) value.textContent = String(Math.max(left, 0));
        if (left <= 0) {
          window.clearInterval(timer);
          buttons.forEach(function (b) { b.disabled = false; });
          notice.textContent = "You can ask for a review again.";
        }
      }, 1000);
    });
  }

  // --- Supervision: what needs attention before a day is saved (the GOV.UK error summary) ---
  function focusAttention() {
    // Focused as the page loads, so that it is read out and the keyboard starts there; its
    // links focus the field they name, not only scroll to it.
    var box = document.querySelector("[data-focus-on-load]");
    if (!box) return;
    box.focus();
    box.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var field = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!field) return;
      event.preventDefault();
      field.scrollIntoView({block: "center"});
      field.focus({preventScroll: true});
    });
  }
  document.addEventListener("DOMContentLoaded", focusAttention);

  document.addEventListener("DOMContentLoaded", function () {
    setUpMenu();
    foldFilters();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    countDown(event.target);
  });

  /* --- Tracking: a button that copies the text of the element it names (data-copy="id"),
     shown only where the clipboard can be written. --- */
  function setUpCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", setUpCopyButtons);
})();
