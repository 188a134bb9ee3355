// The notes composer on the card page: the Write/Preview tabs (the server renders the preview
// with the same Markdown renderer and sanitiser as a saved note) and the @ picker, which lists
// the people who may see the card and records whom the note mentions. Forms are sent by htmx
// (or, without JavaScript, as plain forms; they then carry no mentions).
(function () {
  "use strict";

  var DEBOUNCE_MS = 120;
  var TOKEN = /(?:^|[\s(])@([^\s@]{0,40})$/;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (error) {
      return "";
    }
  }

  function pickerOf(textarea) {
    var form = textarea.closest("form[data-mentionable]");
    if (!form) return null;
    var list = document.getElementById(textarea.getAttribute("aria-controls"));
    if (!list) return null;
    return { form: form, textarea: textarea, list: list };
  }

  // --- the tabs -----------------------------------------------------------------------------
  function showTabs(root) {
    (root || document).querySelectorAll(".note-tabs").forEach(function (tabs) { tabs.hidden = false; });
  }

  function selectTab(button) {
    var form = button.closest("form");
    var write = form.querySelector(".note-write");
    var preview = form.querySelector(".note-preview");
    var isPreview = button.getAttribute("data-tab") === "preview";
    form.querySelectorAll(".note-tab").forEach(function (tab) {
      var selected = tab === button;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
    });
    write.hidden = isPreview;
    preview.hidden = !isPreview;
    if (!isPreview) {
      form.querySelector("textarea").focus();
      return;
    }
    preview.textContent = t("Rendering the preview…");
    var body = new FormData();
    body.append("body", form.querySelector("textarea").value);
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken() },
      body: body,
    }).then(function (response) {
      return response.text().then(function (text) {
        if (!response.ok) throw new Error(text || "status " + response.status);
        return text;
      });
    }).then(function (html) {
      // The server's own fragment: the note's Markdown rendered and sanitised (nh3).
      preview.innerHTML = html;
    }).catch(function (error) {
      preview.textContent = t("The preview could not be made: %(error)s", { error: error.message });
    });
  }

  document.addEventListener("click", function (event) {
    var tab = event.target.closest(".note-tab");
    if (tab) selectTab(tab);
  });

  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest(".note-tab");
    if (!tab || (event.key !== "ArrowLeft" && event.key !== "ArrowRight")) return;
    var tabs = Array.prototype.slice.call(tab.parentNode.querySelectorAll(".note-tab"));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    next.focus();
    selectTab(next);
    event.preventDefault();
  });

  // --- the @ picker -------------------------------------------------------------------------
  var timer = null;
  var asked = 0;

  function tokenBeforeCaret(textarea) {
    var before = textarea.value.slice(0, textarea.selectionStart);
    var found = TOKEN.exec(before);
    return found ? found[1] : null;
  }

  function close(picker) {
    picker.list.hidden = true;
    picker.list.replaceChildren();
    picker.textarea.setAttribute("aria-expanded", "false");
    picker.textarea.removeAttribute("aria-activedescendant");
  }

  function options(picker) {
    return Array.prototype.slice.call(picker.list.querySelectorAll("[role=option]"));
  }

  function highlight(picker, index) {
    var items = options(picker);
    if (!items.length) return;
    index = (index + items.length) % items.length;
    items.forEach(function (item, at) { item.setAttribute("aria-selected", at === index ? "true" : "false"); });
    picker.textarea.setAttribute("aria-activedescendant", items[index].id);
    items[index].scrollIntoView({ block: "nearest" });
  }

  function current(picker) {
    return options(picker).findIndex(function (item) { return item.getAttribute("aria-selected") === "true"; });
  }

  function show(picker, people) {
    picker.list.replaceChildren();
    if (!people.length) {
      var none = document.createElement("li");
      none.className = "mention-none";
      none.textContent = t("Nobody who may see this card matches.");
      picker.list.appendChild(none);
    }
    people.forEach(function (person, index) {
      var item = document.createElement("li");
      item.id = picker.list.id + "-" + person.id;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", index === 0 ? "true" : "false");
      item.dataset.userId = String(person.id);
      item.dataset.name = person.name;
      var name = document.createElement("span");
      name.className = "mention-name";
      name.textContent = person.name;
      var email = document.createElement("span");
      email.className = "mention-email";
      email.textContent = person.email;
      item.append(name, email);
      picker.list.appendChild(item);
    });
    picker.list.hidden = false;
    picker.textarea.setAttribute("aria-expanded", "true");
    if (people.length) highlight(picker, 0);
  }

  function lookUp(picker, query) {
    var ticket = ++asked;
    var url = picker.form.getAttribute("data-mentionable") + "?q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (people) {
        // Only the latest question's answer, and only while an @ is still being typed.
        if (ticket === asked && tokenBeforeCaret(picker.textarea) !== null) show(picker, people);
      })
      .catch(function () { close(picker); });
  }

  function pick(picker, item) {
    var textarea = picker.textarea;
    var query = tokenBeforeCaret(textarea);
    if (query === null) return close(picker);
    var name = item.dataset.name;
    var caret = textarea.selectionStart;
    var start = caret - query.length - 1;
    var inserted = "@" + name + " ";
    textarea.value = textarea.value.slice(0, start) + inserted + textarea.value.slice(caret);
    textarea.selectionStart = textarea.selectionEnd = start + inserted.length;
    var holder = picker.form.querySelector(".note-mentions");
    var id = item.dataset.userId;
    if (!holder.querySelector('input[name=mentions][value="' + id + '"]')) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "mentions";
      input.value = id;
      input.dataset.name = name;
      input.setAttribute("data-picked", "");
      holder.appendChild(input);
    }
    close(picker);
    textarea.focus();
  }

  // A mention whose @Name was deleted from the text is no longer sent.
  function prune(picker) {
    picker.form.querySelectorAll(".note-mentions input[data-picked]").forEach(function (input) {
      var name = input.dataset.name;
      if (name && picker.textarea.value.indexOf("@" + name) === -1) input.remove();
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target.tagName !== "TEXTAREA") return;
    var picker = pickerOf(event.target);
    if (!picker) return;
    prune(picker);
    var query = tokenBeforeCaret(picker.textarea);
    clearTimeout(timer);
    if (query === null) return close(picker);
    timer = setTimeout(function () { lookUp(picker, query); }, DEBOUNCE_MS);
  });

  document.addEventListener("keydown", function (event) {
    if (event.target.tagName !== "TEXTAREA") return;
    var picker = pickerOf(event.target);
    if (!picker || picker.list.hidden) return;
    var items = options(picker);
    if (event.key === "Escape") {
      close(picker);
    } else if (event.key === "ArrowDown" && items.length) {
      highlight(picker, current(picker) + 1);
    } else if (event.key === "ArrowUp" && items.length) {
      highlight(picker, current(picker) - 1);
    } else if ((event.key === "Enter" || event.key === "Tab") && items.length) {
      pick(picker, items[Math.max(current(picker), 0)]);
    } else {
      return;
    }
    event.preventDefault();
  });

  // mousedown, not click: the textarea keeps its focus and caret.
  document.addEventListener("mousedown", function (event) {
    var item = event.target.closest && event.target.closest(".mention-list [role=option]");
    if (!item) return;
    event.preventDefault();
    var textarea = document.querySelector('[aria-controls="' + item.parentNode.id + '"]');
    var picker = textarea && pickerOf(textarea);
    if (picker) pick(picker, item);
  });

  document.addEventListener("focusout", function (event) {
    if (event.target.tagName !== "TEXTAREA") return;
    var picker = pickerOf(event.target);
    if (picker) setTimeout(function () {
      if (document.activeElement !== picker.textarea) close(picker);
    }, 150);
  });

  showTabs();
  // Panels answered by htmx (the notes panel after a save, the timeline) bring hidden tabs.
  document.addEventListener("htmx:afterSettle", function () { showTabs(); });
})();
