// The board's drag and drop, with SortableJS (static/Sortable.min.js, see NOTICE.txt).
// A card dropped on another column is moved with the same POST as its Move form (the CSRF
// token and the card's version); the server answers with the board as it now is: counts and
// sums updated, and a plugin's veto or a stale version shown on the card, back in its column.
// Without JavaScript (or from the keyboard) each card's Move form does the same.
(function () {
  "use strict";

  var sortables = [];
  var scrollKept = null;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (error) {
      return "";
    }
  }

  function board() {
    return document.getElementById("board");
  }

  function setUp() {
    sortables.forEach(function (sortable) { sortable.destroy(); });
    sortables = [];
    var area = board();
    if (!area || !window.Sortable) return;
    area.classList.add("can-drag");
    area.querySelectorAll(".column-cards").forEach(function (list) {
      sortables.push(window.Sortable.create(list, {
        group: "board-" + area.getAttribute("data-product-id"),
        draggable: ".board-card",
        filter: ".move, .move *",
        preventOnFilter: false,
        forceFallback: true,        // the same drag with a mouse, a pen or a finger
        fallbackOnBody: true,       // the dragged card is not clipped by the scrolling board
        fallbackTolerance: 4,       // a click on the title stays a click
        delay: 200,                 // on a phone a long press drags; a swipe scrolls
        delayOnTouchOnly: true,
        animation: 150,
        scroll: true,
        bubbleScroll: true,
        ghostClass: "is-ghost",
        chosenClass: "is-chosen",
        dragClass: "is-dragging",
        onEnd: dropped,
      }));
    });
    var moved = area.querySelector("[data-moved]");
    // After a move the focus (on the Move button, now replaced) goes to the moved card.
    if (moved && (!document.activeElement || document.activeElement === document.body)) {
      var link = moved.querySelector(".board-card-title");
      if (link) link.focus({ preventScroll: true });
    }
  }

  function putBack(event) {
    var card = event.item;
    var list = event.from;
    card.remove();
    list.insertBefore(card, list.children[event.oldIndex] || null);
  }

  function say(card, text) {
    var old = card.querySelector(".board-card-message");
    if (old) old.remove();
    var line = document.createElement("p");
    line.className = "message error board-card-message";
    line.setAttribute("role", "alert");
    line.textContent = text;
    card.insertBefore(line, card.querySelector("form.move"));
    card.classList.add("is-refused");
  }

  function dropped(event) {
    var card = event.item;
    if (event.from === event.to) {
      // A column keeps its own order (next task first): there is nothing to save.
      if (event.oldIndex !== event.newIndex) putBack(event);
      return;
    }
    var form = new FormData();
    form.append("status_id", event.to.getAttribute("data-status-id"));
    form.append("version", card.getAttribute("data-version"));
    card.classList.add("is-saving");
    card.setAttribute("aria-busy", "true");
    fetch(card.getAttribute("data-move-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "HX-Request": "true" },
      body: form,
    }).then(function (response) {
      return response.text().then(function (html) {
        var fresh = response.status === 200 || response.status === 412 || response.status === 422;
        if (!fresh || !replaceBoard(html)) {
          putBack(event);
          card.classList.remove("is-saving");
          card.removeAttribute("aria-busy");
          say(card, t("The card could not be moved (the server answered %(status)s).", { status: response.status }));
        }
      });
    }).catch(function () {
      putBack(event);
      card.classList.remove("is-saving");
      card.removeAttribute("aria-busy");
      say(card, t("The server could not be reached: the card was not moved."));
    });
  }

  function replaceBoard(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var fresh = holder.content.getElementById("board");
    var old = board();
    if (!fresh || !old) return false;
    var left = old.scrollLeft;
    old.replaceWith(fresh);
    fresh.scrollLeft = left;
    if (window.htmx) window.htmx.process(fresh);
    setUp();
    return true;
  }

  // The Move form (htmx) swaps the board too: keep its scroll position and drag set-up.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var area = board();
    if (area && event.detail.target === area) scrollKept = area.scrollLeft;
  });
  document.addEventListener("htmx:afterSettle", function () {
    var area = board();
    if (!area || scrollKept === null) return;
    area.scrollLeft = scrollKept;
    scrollKept = null;
    setUp();
  });

  setUp();
})();
