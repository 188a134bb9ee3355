/* The calendar page's "Phone and computer calendars (CalDAV)" section: make an app password for
   a device (shown once, with a copy button), list them with when each was last used, revoke
   one. Talks to the calendar sync service through app.js's window.cardcrmSidecar. */
(function () {
  "use strict";
  var page = document.getElementById("calendar-sync");
  var form = document.getElementById("app-password-form");
  if (!page || !form || !window.cardcrmSidecar) return;
  var sidecar = window.cardcrmSidecar;
  var base = page.getAttribute("data-calendar-base") + "/api/v1/app-passwords";
  var list = document.getElementById("app-passwords");
  var state = document.getElementById("app-password-state");
  var made = document.getElementById("app-password-made");
  var madeText = document.getElementById("app-password-made-text");
  var secret = document.getElementById("app-password-value");
  var shownId = null;  // the password on show: hidden again if it is revoked

  function moment(iso) { return window.cardcrmDates.format(iso, "moment"); }
  function day(iso) { return window.cardcrmDates.format(iso, "day"); }

  function problem(answer) {
    var data = answer.data || {};
    var fields = data.errors ? Object.keys(data.errors).map(function (key) {
      return [].concat(data.errors[key]).join(" ");
    }) : [];
    return fields.length ? fields.join(" ")
      : data.detail || data.title || t("The service answered %(status)s.", { status: answer.status });
  }

  function copy(input, button) {
    var text = input.value !== undefined ? input.value : input.textContent;
    if (input.select) input.select();
    if (navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
    button.textContent = t("Copied.");
  }

  function row(item) {
    var line = document.createElement("li");
    line.className = "row app-password";
    var name = document.createElement("strong");
    name.textContent = item.name;
    var when = document.createElement("span");
    when.className = "muted";
    when.textContent = t("made %(day)s", { day: day(item.created_at) }) + " · " +
      (item.last_used_at ? t("last used %(moment)s", { moment: moment(item.last_used_at) })
        : t("never used"));
    var revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "small danger";
    revoke.textContent = t("Revoke");
    revoke.setAttribute("aria-label", t("Revoke the app password of %(name)s", { name: item.name }));
    revoke.addEventListener("click", function () {
      if (!window.confirm(t("Revoke the app password of %(name)s? That device stops syncing at once.",
        { name: item.name }))) return;
      revoke.disabled = true;
      sidecar("DELETE", base + "/" + item.id).then(function (answer) {
        if (answer.ok || answer.status === 404) {
          if (item.id === shownId) {
            made.hidden = true;
            secret.value = "";
            shownId = null;
          }
          state.textContent = t("Revoked: %(name)s can no longer sign in.", { name: item.name });
          load();
        } else {
          revoke.disabled = false;
          state.textContent = problem(answer);
        }
      });
    });
    var text = document.createElement("span");
    text.className = "app-password-text";
    text.append(name, " ", when);
    line.append(text, revoke);
    return line;
  }

  function load() {
    return sidecar("GET", base).then(function (answer) {
      if (!answer.ok) { state.textContent = problem(answer); return; }
      list.replaceChildren.apply(list, (answer.data.items || []).map(row));
    }).catch(function () { state.textContent = t("The calendar service is not answering."); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = form.elements.name.value.trim();
    if (!name) return;
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    sidecar("POST", base, { name: name }).then(function (answer) {
      button.disabled = false;
      if (!answer.ok) { state.textContent = problem(answer); return; }
      form.reset();
      made.hidden = false;
      madeText.textContent = t("The app password for %(name)s. Enter it in that device now: it is shown only this once.",
        { name: answer.data.name });
      secret.value = answer.data.password;
      shownId = answer.data.id;
      document.getElementById("app-password-copy").textContent = t("Copy");
      state.textContent = "";
      secret.focus();
      secret.select();
      load();
    }).catch(function () {
      button.disabled = false;
      state.textContent = t("The calendar service is not answering.");
    });
  });

  document.getElementById("app-password-copy").addEventListener("click", function (event) {
    copy(secret, event.currentTarget);
  });
  var urlCopy = document.getElementById("dav-url-copy");
  if (urlCopy) urlCopy.addEventListener("click", function () {
    copy(document.getElementById("dav-url"), urlCopy);
  });

  load();
})();
