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
  // Ask before destructive actions (listening on the document, so that forms a live refresh
  // brings in ask too).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-confirm]")) return;
    if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
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
  // Set while a card is being dragged: a refresh then waits, so the board does not change under
  // the pointer.
  var dragging = false;
  var refresh = function () {};
  if (live && window.EventSource && window.fetch) {
    var refreshing = false;
    var wanted = 0;
    refresh = function () {
      if (refreshing || dragging) return;
      refreshing = true;
      fetch(live.getAttribute("data-live-fragment"), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (!r.ok) throw new Error("fragment " + r.status);
          var version = parseInt(r.headers.get("x-review-version") || "0", 10);
          return r.text().then(function (html) { return { html: html, version: version }; });
        })
        .then(function (page) {
          var kept = {};
          // Only what this person changed (or is typing in) is kept: a field they left alone
          // shows the server's value, such as a group's title someone else has just edited.
          live.querySelectorAll("textarea[id], input[id]:not([type=hidden]), select[id]").forEach(function (f) {
            var box = f.type === "checkbox" || f.type === "radio";
            var changed = box ? f.checked !== f.defaultChecked
              : f.tagName === "SELECT" ? Array.prototype.some.call(f.options, function (o) { return o.selected !== o.defaultSelected; })
              : f.value !== f.defaultValue;
            if (!changed && f !== document.activeElement) return;
            kept[f.id] = box ? f.checked : f.value;
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
          // The board's dot buttons are made from the restored values, before focus returns.
          enhanceBoard();
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

  // The review board. Without this script its forms work as they are: tick cards and press
  // "Group selected"; type dots into the number fields and press "Done".
  function enhanceBoard() {
    if (!live) return;
    enhanceDots();
    enhanceDragAndDrop();
  }

  // Voting by clicking dots on a tile: each placed dot is a button that takes it back, the open
  // dot places one. The number fields stay the ballot's truth (and keep their values across live
  // refreshes); they are only hidden.
  function enhanceDots() {
    var counter = live.querySelector("[data-dots-left]");
    var inputs = Array.prototype.slice.call(live.querySelectorAll("input[data-dot-input]"));
    if (!counter || !inputs.length) return;
    var allowed = parseInt(counter.getAttribute("data-dots-allowed"), 10) || 0;
    var count = function (input) { var n = parseInt(input.value, 10); return isNaN(n) || n < 0 ? 0 : n; };
    var render = function (focusInput, focusAdd) {
      var placed = inputs.reduce(function (sum, input) { return sum + count(input); }, 0);
      var left = Math.max(0, allowed - placed);
      counter.textContent = left + " of " + allowed + (allowed === 1 ? " dot" : " dots") + " left";
      counter.hidden = false;
      inputs.forEach(function (input) {
        var field = input.closest(".dot-field");
        if (field) field.hidden = true;
        var picker = input.parentNode.parentNode.querySelector('[data-dot-picker="' + input.id + '"]');
        if (!picker) {
          picker = document.createElement("div");
          picker.className = "dot-picker";
          picker.setAttribute("data-dot-picker", input.id);
          picker.setAttribute("role", "group");
          picker.setAttribute("aria-label", "Your dots on this card");
          (field || input).insertAdjacentElement("afterend", picker);
        }
        picker.textContent = "";
        var mine = count(input);
        for (var i = 0; i < mine; i++) {
          picker.appendChild(dotButton(input, true, false, input.id + "-placed-" + i));
        }
        picker.appendChild(dotButton(input, false, left === 0, input.id + "-place"));
        if (input === focusInput) {
          var again = focusAdd && left > 0 ? picker.lastChild : picker.querySelector(".placed") || picker.lastChild;
          if (again) again.focus();
        }
      });
    };
    // Each button has an id, so that a live refresh gives focus back to the one that had it.
    var dotButton = function (input, placed, disabled, id) {
      var button = document.createElement("button");
      button.id = id;
      button.type = "button";
      button.className = placed ? "dot placed" : "dot";
      button.disabled = disabled;
      button.setAttribute("aria-describedby", input.getAttribute("aria-describedby") || "");
      var mark = document.createElement("span");
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = placed ? "●" : "+";
      var words = document.createElement("span");
      words.className = "visually-hidden";
      words.textContent = placed ? "Take back a dot" : "Place a dot";
      button.appendChild(mark);
      button.appendChild(words);
      button.addEventListener("click", function () {
        input.value = String(Math.max(0, count(input) + (placed ? -1 : 1)));
        render(input, !placed);
      });
      return button;
    };
    render(null, false);
  }

  // Drag and drop with SortableJS: dropping a tile on a group, on "new group" or back on a
  // column posts the same form as the keyboard's "Group selected", with that one card ticked.
  function enhanceDragAndDrop() {
    var form = live.querySelector("form[data-group-form]");
    if (!form || !window.Sortable) return;
    var token = form.querySelector("input[name=csrf_token]");
    var drop = live.querySelector("[data-drop-new]");
    if (drop) drop.hidden = false;
    var send = function (card, target) {
      var values = { csrf_token: token ? token.value : "", target: target, title: "" };
      values["pick_" + card] = "on";
      var done = function () { refresh(); };
      if (window.htmx) {
        window.htmx.ajax("POST", form.getAttribute("action"), { values: values, swap: "none" }).then(done, done);
      } else {
        fetch(form.getAttribute("action"), { method: "POST", credentials: "same-origin", body: new URLSearchParams(values) }).then(done, done);
      }
    };
    live.querySelectorAll("ul[data-drop-group]").forEach(function (list) {
      window.Sortable.create(list, {
        group: "board",
        draggable: "li[data-card-id]",
        filter: "input, label, button, summary, select, textarea",
        preventOnFilter: false,
        animation: 120,
        // Pointer events rather than the browser's own drag and drop: the same on touch screens,
        // and what WebDriver can drive.
        forceFallback: true,
        onStart: function () { dragging = true; },
        onEnd: function (event) {
          dragging = false;
          if (event.from === event.to) { refresh(); return; }
          var target = event.to.getAttribute("data-drop-group");
          send(event.item.getAttribute("data-card-id"), target === "" ? "none" : target);
        }
      });
    });
  }
  enhanceBoard();

  // Move focus to an error summary so screen readers announce it.
  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary) summary.focus();
})();
