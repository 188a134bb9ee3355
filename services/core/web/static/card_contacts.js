// The card page's contacts panel: the picker's keyboard (arrows, Enter, Escape) and clicks on
// a match, and after a change the details form's version (see keepDetailsVersion).
(function () {
  "use strict";

  function options() {
    var list = document.getElementById("contact-options");
    return list ? Array.prototype.slice.call(list.querySelectorAll("[role=option]")) : [];
  }

  function activate(input, index) {
    var all = options();
    all.forEach(function (option, i) {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
      option.classList.toggle("is-active", i === index);
    });
    if (index >= 0 && all[index]) {
      input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function activeIndex() {
    return options().findIndex(function (option) {
      return option.getAttribute("aria-selected") === "true";
    });
  }

  function choose(option) {
    var form = option && option.querySelector("form");
    if (form) form.requestSubmit();
  }

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input || input.id !== "contact-search") return;
    var all = options();
    var index = activeIndex();
    if (event.key === "ArrowDown" && all.length) {
      event.preventDefault();
      activate(input, (index + 1) % all.length);
    } else if (event.key === "ArrowUp" && all.length) {
      event.preventDefault();
      activate(input, index <= 0 ? all.length - 1 : index - 1);
    } else if (event.key === "Enter") {
      // Enter links the highlighted match (or the only one); it never reloads the page.
      event.preventDefault();
      if (index >= 0) choose(all[index]);
      else if (all.length === 1) choose(all[0]);
    } else if (event.key === "Escape") {
      var list = document.getElementById("contact-options");
      if (list) list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      activate(input, -1);
    }
  });

  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest("#contact-options [role=option]");
    if (option && !event.target.closest("button, a")) choose(option);
  });

  // The matches arrived: show them, nothing highlighted yet.
  document.addEventListener("htmx:afterSettle", function () {
    var input = document.getElementById("contact-search");
    var list = document.getElementById("contact-options");
    if (input && list) {
      input.setAttribute("aria-expanded", list.hidden ? "false" : "true");
      if (activeIndex() < 0) input.removeAttribute("aria-activedescendant");
    }
    keepDetailsVersion();
  });

  // A contact change makes a new version of the card. The details form above still carries
  // the one it was shown with; when that is the version this change started from, nobody
  // else wrote in between, so the form takes the new one (its fields are not the contacts).
  function keepDetailsVersion() {
    var panel = document.getElementById("contacts");
    if (!panel || !panel.dataset.previousVersion) return;
    var field = document.querySelector("#card-form input[name=version]");
    if (field && field.value === panel.dataset.previousVersion) {
      field.value = panel.dataset.cardVersion;
    }
    delete panel.dataset.previousVersion;
  }
})();
