// The Today view's keyboard: each task's secondary actions sit in a small menu (a <details>
// that works without JavaScript; here it gets aria-expanded, Esc, arrow keys and closes when
// focus or a click goes elsewhere), and after Done, Postpone or Cancel the focus moves on to
// the next task instead of dropping to the page's body.
(function () {
  "use strict";

  var list = document.getElementById("task-list");
  if (!list) return;

  // --- the row menus ----------------------------------------------------------------------
  function menus() { return list.querySelectorAll("details[data-menu]"); }

  function items(menu) {
    return Array.prototype.filter.call(
      menu.querySelectorAll(".menu-item"),
      function (node) { return !node.disabled; }
    );
  }

  function sync(menu) {
    var summary = menu.querySelector("summary");
    if (summary) summary.setAttribute("aria-expanded", menu.open ? "true" : "false");
  }

  function closeMenu(menu, focusToggle) {
    if (!menu.open) return;
    menu.open = false;
    sync(menu);
    if (focusToggle) menu.querySelector("summary").focus();
  }

  function closeOthers(except) {
    menus().forEach(function (menu) { if (menu !== except) closeMenu(menu, false); });
  }

  function prepare(root) {
    (root || list).querySelectorAll("details[data-menu]").forEach(sync);
  }
  prepare();

  list.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (!menu.matches || !menu.matches("details[data-menu]")) return;
    sync(menu);
    if (menu.open) closeOthers(menu);
  }, true);

  list.addEventListener("keydown", function (event) {
    var menu = event.target.closest && event.target.closest("details[data-menu]");
    if (!menu) return;
    var onToggle = event.target.tagName === "SUMMARY";
    var entries = items(menu);
    var at = entries.indexOf(event.target);
    if (event.key === "Escape" && menu.open) {
      event.preventDefault();
      closeMenu(menu, true);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      // In the date field the arrows change the date; leave them to it.
      if (event.target.type === "date") return;
      event.preventDefault();
      if (!menu.open) { menu.open = true; sync(menu); }
      if (!entries.length) return;
      var step = event.key === "ArrowDown" ? 1 : -1;
      var next = onToggle ? (step > 0 ? 0 : entries.length - 1)
        : (at + step + entries.length) % entries.length;
      entries[next].focus();
    } else if ((event.key === "Home" || event.key === "End") && !onToggle && event.target.type !== "date") {
      event.preventDefault();
      entries[event.key === "Home" ? 0 : entries.length - 1].focus();
    }
  });

  // A click or focus outside an open menu closes it.
  document.addEventListener("click", function (event) {
    menus().forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) closeMenu(menu, false);
    });
  });
  document.addEventListener("focusin", function (event) {
    menus().forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) closeMenu(menu, false);
    });
  });

  // --- focus after an action ---------------------------------------------------------------
  // Which row acted, and which open task follows it, noted before htmx swaps the row.
  var pending = null;

  function openRows() {
    return Array.prototype.slice.call(
      list.querySelectorAll('li.task[data-state="due"], li.task[data-state="overdue"]')
    );
  }

  list.addEventListener("htmx:beforeRequest", function (event) {
    var row = event.target.closest && event.target.closest("li.task");
    if (!row) return;
    var rows = openRows();
    var index = rows.indexOf(row);
    pending = {
      id: row.id,
      next: index >= 0 && rows[index + 1] ? rows[index + 1].id : null,
      previous: index > 0 ? rows[index - 1].id : null,
    };
  });

  function doneButton(row) { return row && row.querySelector("[data-task-done]"); }

  document.body.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.elt;
    if (!pending || !target) return;
    var row = document.getElementById(pending.id);
    if (!row || !list.contains(row)) return;
    var noted = pending;
    pending = null;
    prepare(row);
    var focus = null;
    if (row.querySelector(".message.error")) {
      focus = row.querySelector("button, a");  // the action was refused: stay on the task
    } else if (row.dataset.state === "due" || row.dataset.state === "overdue") {
      focus = doneButton(row);  // reopened (Undo): back on it
    } else {
      focus = doneButton(document.getElementById(noted.next))
        || doneButton(document.getElementById(noted.previous))
        || document.getElementById("today-title");
    }
    if (focus) focus.focus();
  });
})();
