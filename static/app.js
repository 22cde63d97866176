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
  // Writing hints from the blameless-language linter, for fields marked data-lint. They appear
  // in a polite live region under the field, each with its kind in words (never colour alone).
  var csrf = document.querySelector('meta[name="csrf-token"]');
  if (csrf && window.fetch) {
    document.querySelectorAll("textarea[data-lint]").forEach(function (field) {
      var region = document.createElement("div");
      region.className = "lint-hints";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      region.id = (field.id || "field") + "-lint";
      field.insertAdjacentElement("afterend", region);
      field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + region.id).trim());
      var timer = null;
      var labels = {
        blame_person: "Blames a person", counterfactual: "Counterfactual", human_error: "Stops at human error",
        root_cause_singular: "Single root cause", moralising: "Moralising", hindsight_certainty: "Hindsight certainty"
      };
      function post(url, body) {
        return fetch(url, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf.content },
          body: JSON.stringify(body)
        });
      }
      function check() {
        var text = field.value;
        if (!text.trim()) { region.textContent = ""; return; }
        post("/api/v1/lint", { text: text }).then(function (r) { return r.ok ? r.json() : null; }).then(function (report) {
          if (!report || field.value !== text) return;
          region.textContent = "";
          if (!report.findings.length) return;
          var heading = document.createElement("p");
          heading.textContent = "Writing hints (" + report.findings.length + "):";
          region.appendChild(heading);
          var list = document.createElement("ul");
          report.findings.forEach(function (f) {
            var chars = Array.from(text);
            var item = document.createElement("li");
            var kind = document.createElement("strong");
            kind.textContent = "⚠ " + (labels[f.category] || f.category) + ": ";
            item.appendChild(kind);
            item.appendChild(document.createTextNode("“" + chars.slice(f.start, f.end).join("") + "” — " + f.message + " Try asking: " + f.suggestion + " "));
            var dismiss = document.createElement("button");
            dismiss.type = "button";
            dismiss.className = "secondary small";
            dismiss.textContent = "Dismiss";
            dismiss.addEventListener("click", function () {
              var reason = window.prompt("Why is this wording right here?");
              if (!reason) return;
              post("/api/v1/lint/dismissals", { text: text, rule: f.rule, start: f.start, reason: reason }).then(check);
            });
            item.appendChild(dismiss);
            list.appendChild(item);
          });
          region.appendChild(list);
        }).catch(function () {});
      }
      field.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(check, 600);
      });
      if (field.value.trim()) check();
    });
  }
  // Move focus to an error summary so screen readers announce it.
  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary) summary.focus();
})();
