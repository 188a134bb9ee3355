// The card's e-mail panel: "Copy" puts the address on the clipboard, or, where the browser
// has no clipboard for this page (plain http, an old browser), selects it for Ctrl+C.
(function () {
  "use strict";
  if (window.cardcrmMailPanel) return; // the panel (and this script) come back after htmx swaps
  window.cardcrmMailPanel = true;

  function say(button, text) {
    var panel = button.closest(".email-panel");
    var status = panel && panel.querySelector(".email-copy-status");
    if (status) status.textContent = text;
  }

  function selectText(input) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
  }

  function fallback(button, input) {
    selectText(input);
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    say(button, copied ? t("Copied.") : t("Selected: press Ctrl+C (⌘C) to copy."));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) return;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(
        function () { say(button, t("Copied.")); },
        function () { fallback(button, input); }
      );
    } else {
      fallback(button, input);
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.classList && event.target.classList.contains("email-address-text")) {
      selectText(event.target);
    }
  });
})();
