// The header's search box: "/" focuses it; typing shows the first cards and contacts found
// (a fragment from /search/suggest); arrow keys walk them, Enter opens one, Escape closes.
// Without this script the box submits to the results page.
(function () {
  "use strict";
  var form = document.querySelector("[data-global-search]");
  if (!form) return;
  var input = form.querySelector("input[name=q]");
  var panel = document.getElementById("global-search-results");
  var timer = null;
  var asked = 0;

  function options() { return Array.prototype.slice.call(panel.querySelectorAll("[role=option]")); }

  function close() {
    panel.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function choose(index) {
    var all = options();
    all.forEach(function (option, at) {
      option.setAttribute("aria-selected", at === index ? "true" : "false");
      option.id = "search-option-" + at;
    });
    if (index >= 0 && all[index]) {
      input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function selected() { return options().findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; }); }

  function suggest() {
    var q = input.value.trim();
    if (!q) { panel.replaceChildren(); close(); return; }
    var ticket = ++asked;
    fetch(form.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.text() : ""; })
      .then(function (html) {
        if (ticket !== asked) return; // an older answer arriving late
        var parsed = new DOMParser().parseFromString(html, "text/html");
        panel.replaceChildren.apply(panel, Array.prototype.slice.call(parsed.body.childNodes));
        panel.hidden = !html.trim();
        input.setAttribute("aria-expanded", panel.hidden ? "false" : "true");
        choose(-1);
      })
      .catch(function () { close(); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(suggest, 120);
  });

  input.addEventListener("keydown", function (event) {
    var all = options();
    var at = selected();
    if (event.key === "ArrowDown" && all.length) {
      event.preventDefault();
      if (panel.hidden) { panel.hidden = false; input.setAttribute("aria-expanded", "true"); }
      choose(Math.min(at + 1, all.length - 1));
    } else if (event.key === "ArrowUp" && all.length) {
      event.preventDefault();
      choose(Math.max(at - 1, -1));
    } else if (event.key === "Enter" && at >= 0 && !panel.hidden) {
      event.preventDefault();
      window.location.href = all[at].querySelector("a").getAttribute("href");
    } else if (event.key === "Escape") {
      if (!panel.hidden) { event.preventDefault(); close(); } else { input.blur(); }
    }
  });

  document.addEventListener("click", function (event) { if (!form.contains(event.target)) close(); });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
    if (typing) return;
    event.preventDefault();
    input.focus();
    input.select();
  });
})();
