// The installable app's page side: registers the service worker (/sw.js), refuses changes
// while offline (the worker keeps nothing to send later), and forgets the pages kept for
// offline use when this browser logs out. The worker has no page and no translations: this
// writes its "Offline — last updated at …" banner in the reader's language, and gives it the
// words of its own offline pages (see WORKER_WORDS).
(function () {
  "use strict";

  var REFUSED = t("You are offline: this was not done, and nothing was kept to send later. Try again when you are back online.");
  // The words of the pages the worker writes itself (a page not kept, a form sent offline).
  var WORKER_WORDS = {
    lang: document.documentElement.lang || "en",
    refused: REFUSED,
    notSaved: t("Not saved: you are offline"),
    offline: t("You are offline"),
    notKept: t("This page was not kept for offline use. The Today view, your recent cards and the cards they link to open offline once you have visited them online."),
    today: t("Today (as last seen)"),
    recent: t("Recent cards"),
  };

  function showRefusal() {
    var area = document.getElementById("messages");
    var line = document.createElement("p");
    line.className = "message error";
    line.setAttribute("role", "alert");
    line.setAttribute("data-offline-refusal", "");
    line.textContent = REFUSED;
    if (area) {
      area.replaceChildren(line);
    } else {
      document.body.prepend(line);
    }
  }

  // An offline copy of a page (the worker marks its <body>), or no network at all.
  function offline() {
    return !navigator.onLine || document.body.hasAttribute("data-offline-copy");
  }

  function forgetPages() {
    if (window.caches) caches.delete("cardcrm-pages");
    var worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (worker) worker.postMessage({ type: "forget-pages" });
  }

  // Capture phase: runs before htmx's own submit handler, which then never sees the event.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var method = (event.submitter && event.submitter.getAttribute("formmethod")) ||
      form.getAttribute("method") || "get";
    if (form.hasAttribute("data-logout")) forgetPages();
    if (method.toLowerCase() === "get" || !offline()) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    showRefusal();
  }, true);

  // htmx requests not started by a form (buttons, drag and drop on the board).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var verb = ((event.detail.requestConfig || {}).verb || "get").toLowerCase();
    if (verb !== "get" && offline()) {
      event.preventDefault();
      showRefusal();
    }
  });
  // The network failed after all: the worker answered with a refusal, not the server.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.getResponseHeader("X-Cardcrm-Offline")) {
      event.detail.shouldSwap = false;
      showRefusal();
    }
  });

  // Back online on an offline copy: show the live page, once the server answers (the
  // "online" event may come before the network works, or not at all on a weak connection).
  var checking = false;
  function reloadWhenServerAnswers(delay) {
    if (checking || !document.body.hasAttribute("data-offline-copy")) return;
    checking = true;
    window.setTimeout(function () {
      fetch("/healthz", { cache: "no-store" }).then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        window.location.reload();
      }).catch(function () {
        checking = false;
        if (navigator.onLine) reloadWhenServerAnswers(Math.min(delay * 2 || 1000, 30000));
      });
    }, delay);
  }
  // Reloading restores the scroll position by the header's place, which the banner above it
  // pushes down: scroll back so that the banner and the header show.
  function showBanner() {
    var banner = document.querySelector("[data-offline-banner]");
    if (banner && window.scrollY > 0 && window.scrollY <= banner.offsetHeight) window.scrollTo(0, 0);
  }

  // The worker wrote the banner in English; say it in the page's language, with the moment
  // written as the server writes it (dates.js).
  function translateBanner() {
    var banner = document.querySelector("[data-offline-banner]");
    var kept = banner && banner.querySelector("time");
    if (!kept) return;
    var at = kept.getAttribute("datetime") || "";
    var moment = document.createElement("time");
    moment.setAttribute("datetime", at);
    moment.textContent = (window.cardcrmDates && at && window.cardcrmDates.format(at, "moment")) ||
      kept.textContent;
    var sentence = t("Offline — last updated at %(moment)s. Read-only until you are back online.");
    var parts = sentence.split("%(moment)s");
    banner.replaceChildren(document.createTextNode(parts[0]), moment,
      document.createTextNode(parts.slice(1).join("")));
  }
  translateBanner();
  window.addEventListener("load", function () { window.setTimeout(showBanner, 0); });

  window.addEventListener("online", function () { reloadWhenServerAnswers(0); });
  if (navigator.onLine) reloadWhenServerAnswers(3000);

  // A worker whose install failed (an asset that did not load: a network blip, the server
  // restarting) is tried again while the page stays open, 3 s later, then 6, 12... at most a
  // minute apart; without this the next page load was the next chance. A failed update of a
  // worker already active is left alone: the active one goes on serving.
  function registerWorker(delay) {
    function again() {
      window.setTimeout(function () { registerWorker(Math.min(delay * 2, 60000)); }, delay);
    }
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function (registration) {
      var installing = registration.installing;
      if (!installing) {
        // Its install may have ended before this ran: when it failed, no worker is left to
        // watch, and none serves; try again as for one seen failing.
        if (!registration.waiting && !registration.active) again();
        return;
      }
      installing.addEventListener("statechange", function () {
        if (installing.state === "redundant" && !registration.active) again();
      });
    }).catch(function (error) {
      console.warn("cardcrm: the offline app could not start", error);
      again();
    });
  }

  if ("serviceWorker" in navigator) {
    registerWorker(3000);
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage({ type: "words", words: WORKER_WORDS });
    });
  }
})();
