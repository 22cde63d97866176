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
  // A page that answers a form in place (a newly logged loop) shows its own address, so that
  // reloading it does not send the form again.
  var address = document.querySelector("[data-address]");
  if (address && window.history.replaceState) {
    window.history.replaceState(null, "", address.getAttribute("data-address"));
  }
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
  // Review sessions: the server announces "now at version N" (never content) over server-sent
  // events; the page then fetches its own fragment, so what it shows is decided by an ordinary
  // request. Typed but unsent text and the focused field survive the swap.
  var live = document.querySelector("[data-live-events]");
  if (live && window.EventSource && window.fetch) {
    var refreshing = false;
    var wanted = 0;
    var refresh = function () {
      if (refreshing) return;
      refreshing = true;
      fetch(live.getAttribute("data-live-fragment"), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (!r.ok) throw new Error("fragment " + r.status);
          var version = parseInt(r.headers.get("x-review-version") || "0", 10);
          return r.text().then(function (html) { return { html: html, version: version }; });
        })
        .then(function (page) {
          var kept = {};
          live.querySelectorAll("textarea[id], input[id]:not([type=hidden]), select[id]").forEach(function (f) {
            kept[f.id] = f.type === "checkbox" || f.type === "radio" ? f.checked : f.value;
          });
          var active = document.activeElement;
          var focused = active && live.contains(active) ? active.id : null;
          var caret = focused && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
          live.innerHTML = page.html;
          Object.keys(kept).forEach(function (id) {
            var f = document.getElementById(id);
            if (!f || !live.contains(f)) return;
            if (f.type === "checkbox" || f.type === "radio") f.checked = kept[id]; else f.value = kept[id];
          });
          if (focused) {
            var again = document.getElementById(focused);
            if (again) {
              again.focus();
              if (caret && typeof again.setSelectionRange === "function") {
                try { again.setSelectionRange(caret[0], caret[1]); } catch (e) { /* not a text field */ }
              }
            }
          }
          live.setAttribute("data-version", String(page.version));
          startTimers();
        })
        .catch(function () {})
        .then(function () {
          refreshing = false;
          if (wanted > parseInt(live.getAttribute("data-version") || "0", 10)) refresh();
        });
    };
    var source = new EventSource(live.getAttribute("data-live-events"));
    source.addEventListener("review", function (event) {
      var data = {};
      try { data = JSON.parse(event.data); } catch (e) { return; }
      wanted = Math.max(wanted, data.version || 0);
      if (wanted > parseInt(live.getAttribute("data-version") || "0", 10)) refresh();
    });
  }
  // Phase timers count down in place; the server's own deadline stays the truth.
  var timers = [];
  function startTimers() {
    timers.forEach(clearInterval);
    timers = [];
    document.querySelectorAll("[data-seconds-left]").forEach(function (el) {
      var left = parseInt(el.getAttribute("data-seconds-left"), 10);
      var shown = el.querySelector("strong");
      if (isNaN(left) || !shown) return;
      var tick = function () {
        if (left < 0) left = 0;
        shown.textContent = Math.floor(left / 60) + " min " + (left % 60) + " s";
        if (left === 0) { el.classList.add("timer-done"); shown.textContent += " — time is up"; return false; }
        left -= 1;
        return true;
      };
      tick();
      var handle = setInterval(function () { if (!tick()) clearInterval(handle); }, 1000);
      timers.push(handle);
    });
  }
  startTimers();
  // Move focus to an error summary so screen readers announce it.
  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary) summary.focus();
})();
