// The card page's timeline reloads itself on "card-changed" (htmx, cards/_timeline.html);
// this marks the items such a reload brought, so that the eye finds what just happened.
(function () {
  "use strict";

  var seen = null;

  function byChange(detail) {
    var config = detail.requestConfig || {};
    return Boolean(config.triggeringEvent && config.triggeringEvent.type === "card-changed");
  }

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "timeline" || !byChange(event.detail)) return;
    seen = {};
    target.querySelectorAll(".tl-item").forEach(function (item) { seen[item.id] = true; });
  });

  document.body.addEventListener("htmx:afterSettle", function () {
    var panel = document.getElementById("timeline");
    if (!panel || !seen) return;
    var before = seen;
    seen = null;
    panel.querySelectorAll(".tl-item").forEach(function (item) {
      if (!before[item.id]) item.classList.add("tl-new");
    });
  });
})();
