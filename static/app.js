// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Copy buttons next to one-time secrets (invitation links, new tokens).
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy-target"));
      if (!source) return;
      navigator.clipboard.writeText(source.value).then(function () {
        var previous = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = previous; }, 2000);
      });
    });
  });
  // Select one-time secrets on focus so they are easy to copy by keyboard.
  document.querySelectorAll("[data-copy-source]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });
  // Ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
  // Move focus to an error summary so screen readers announce it.
  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary) summary.focus();
})();
