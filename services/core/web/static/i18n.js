/* The page scripts' words in the reader's language: t("Saved.") or
   t("Moved to %(status)s", {status: name}). The translations come from the JSON block the
   server writes into each page (web/script_messages.py); a word without one stays English. */
(function () {
  "use strict";
  var block = document.getElementById("cardcrm-messages");
  var messages = {};
  try {
    messages = block ? JSON.parse(block.textContent || "{}") : {};
  } catch (error) {
    messages = {};
  }
  window.t = function (text, values) {
    var translated = Object.prototype.hasOwnProperty.call(messages, text) ? messages[text] : text;
    if (!values) return translated;
    return translated.replace(/%\(([a-z_]+)\)s/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  };
})();
