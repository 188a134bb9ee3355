// The card page's timeline: it reloads itself on "card-changed" (htmx, _timeline.html); this
// marks the items that the reload brought, so that the eye finds what just happened.
(function () {
  "use strict";

  var seen = null;

  function itemIds(panel) {
    var ids = {};
    panel.querySelectorAll(".tl-item").forEach(function (item) { ids[item.id] = true; });
    return ids;
  }

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "timeline") seen = itemIds(target);
  });

  document.body.addEventListener("htmx:afterSettle", function (event) {
    var panel = document.getElementById("timeline");
    if (!panel || !seen || event.detail.target !== panel && !panel.contains(event.detail.target)) {
      return;
    }
    var before = seen;
    seen = null;
    if (panel.dataset.kind !== undefined && Object.keys(before).length === 0) return;
    panel.querySelectorAll(".tl-item").forEach(function (item) {
      if (!before[item.id]) item.classList.add("tl-new");
    });
  });
})();
