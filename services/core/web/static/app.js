// cardcrm's few lines of JavaScript: confirmations, the time zone guess, htmx error messages,
// and the panels that talk to the sidecars (notifications, calendar sync) with a bearer token.
// Every page works without it, except those two sidecar panels.
(function () {
  "use strict";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (error) {
      return "";
    }
  }

  function showMessage(text, isError) {
    var area = document.getElementById("messages");
    if (!area) return;
    var line = document.createElement("p");
    line.className = "message " + (isError ? "error" : "info");
    line.textContent = text;
    area.replaceChildren(line);
  }

  // --- confirmations: <button data-confirm="Delete it?"> ----------------------------------
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // --- logging out: the tab forgets its token for the sidecars (the server ends it too) ------
  document.addEventListener("submit", function (event) {
    if (event.target.hasAttribute("data-logout")) sessionStorage.removeItem("cardcrm.apiToken");
  });

  // --- the first-run page guesses the browser's time zone ----------------------------------
  document.querySelectorAll("input[data-guess-timezone]").forEach(function (input) {
    if (!input.value && window.Intl) {
      input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    }
  });

  // --- htmx: say so when a request could not be sent -----------------------------------------
  document.addEventListener("htmx:sendError", function () {
    showMessage(t("The server could not be reached. Check the connection and try again."), true);
  });
  document.addEventListener("htmx:afterSwap", function () {
    var flashes = document.querySelectorAll("#messages .message.info");
    flashes.forEach(function (node) { node.remove(); });
  });

  // --- talking to the sidecars as the logged-in user ------------------------------------------
  var tokenPromise = null;

  function apiToken() {
    var kept = sessionStorage.getItem("cardcrm.apiToken");
    if (kept) return Promise.resolve(kept);
    if (!tokenPromise) {
      tokenPromise = fetch("/session/api-token", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken() },
      }).then(function (response) {
        if (!response.ok) throw new Error("no token (" + response.status + ")");
        return response.json();
      }).then(function (body) {
        sessionStorage.setItem("cardcrm.apiToken", body.token);
        return body.token;
      }).finally(function () { tokenPromise = null; });
    }
    return tokenPromise;
  }

  function sidecar(method, path, body) {
    return apiToken().then(function (token) {
      var options = { method: method, headers: { Authorization: "Bearer " + token } };
      if (body !== undefined) {
        options.headers["Content-Type"] = "application/json";
        options.body = JSON.stringify(body);
      }
      return fetch(path, options);
    }).then(function (response) {
      if (response.status === 401) sessionStorage.removeItem("cardcrm.apiToken");
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (error) { data = null; }
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function problemText(answer) {
    var data = answer.data || {};
    var parts = [data.detail || data.title || t("The service answered %(status)s.", { status: answer.status })];
    Object.keys(data.errors || {}).forEach(function (key) {
      var text = [].concat(data.errors[key]).join(" ");
      if (parts[0].indexOf(text) === -1) parts.push(key + ": " + text);
    });
    return parts.join(" ");
  }

  function itemsOf(data) {
    if (Array.isArray(data)) return data;
    return (data && data.items) || [];
  }

  // The settings pages' own scripts (notification_settings.js) talk to the sidecars through this.
  window.cardcrmSidecar = sidecar;

  // --- notifications: poll the in-app inbox; browser pop-ups where the user switched them on ---
  var inboxList = document.getElementById("inbox");
  var notifyState = document.querySelector("[data-notifications-state]");
  var settingsUrl = inboxList ? inboxList.getAttribute("data-settings-url") : null;
  var POLL_MS = 30000;

  function seenIds() {
    try { return JSON.parse(localStorage.getItem("cardcrm.seen") || "null"); } catch (e) { return null; }
  }

  function popUps() {
    return localStorage.getItem("cardcrm.notifications") === "on" &&
      window.Notification && Notification.permission === "granted";
  }

  // "a, b or c" and "a and b": a list in a sentence, its last joining word translated whole.
  function listed(items, joining) {
    if (items.length < 2) return items[0] || "";
    var values = { items: items.slice(0, -1).join(", "), last: items[items.length - 1] };
    return joining === "or" ? t("%(items)s or %(last)s", values) : t("%(items)s and %(last)s", values);
  }

  // What the user is told about, in words, from their preferences (for the empty inbox).
  function toldAbout(prefs) {
    var when = [];
    if (prefs.assigned) when.push(t("someone assigns you a task"));
    if (prefs.status_changes) when.push(t("a card you own changes status"));
    if (prefs.mentioned !== false) when.push(t("someone mentions you in a note"));
    var also = [];
    var minutes = prefs.due_reminder_minutes;
    if (minutes !== null && minutes !== undefined) {
      also.push(t("%(minutes)s minutes before your tasks are due", { minutes: minutes }));
    }
    if (prefs.daily_digest_at) {
      also.push(t("with a digest every day at %(time)s", { time: prefs.daily_digest_at }));
    }
    if (!when.length && !also.length) return t("Nothing new. Every notification is off.");
    var events = listed(when, "or");
    var extras = listed(also, "and");
    if (when.length && also.length) {
      return t("Nothing new. You are notified when %(events)s, and %(extras)s.", { events: events, extras: extras });
    }
    if (when.length) return t("Nothing new. You are notified when %(events)s.", { events: events });
    return t("Nothing new. You are notified %(extras)s.", { extras: extras });
  }

  function showEmptyInbox() {
    var line = document.createElement("li");
    line.className = "inbox-empty";
    var words = document.createElement("span");
    words.textContent = t("Nothing new.");
    line.appendChild(words);
    inboxList.replaceChildren(line);
    sidecar("GET", "/notifications/api/v1/preferences").then(function (answer) {
      if (answer.ok) words.textContent = toldAbout(answer.data || {});
      if (settingsUrl) {
        line.appendChild(document.createTextNode(" — "));
        var link = document.createElement("a");
        link.href = settingsUrl;
        link.textContent = t("settings");
        line.appendChild(link);
      }
    });
  }

  // An item's text without what the panel shows otherwise: the link to its card and the
  // e-mail's footer ("-- ").
  function inboxText(text, url) {
    var paragraphs = String(text).split("\n-- \n")[0].split("\n\n");
    return paragraphs.filter(function (part) {
      return part.trim() && !(url && part.indexOf(url) !== -1);
    }).join(" ").trim();
  }

  function pollInbox() {
    sidecar("GET", "/notifications/api/v1/inbox").then(function (answer) {
      if (!answer.ok) {
        if (notifyState) notifyState.textContent = t("The notification service is not answering (%(status)s).", { status: answer.status });
        return;
      }
      var items = itemsOf(answer.data);
      var seen = seenIds();
      var first = seen === null;
      seen = seen || [];
      if (!items.length) {
        if (!inboxList.querySelector(".inbox-empty")) showEmptyInbox();
        localStorage.setItem("cardcrm.seen", JSON.stringify(seen));
        return;
      }
      inboxList.replaceChildren();
      items.slice(0, 10).forEach(function (item) {
        var title = item.title || item.subject || item.type || t("Notification");
        var text = item.body || item.text || item.message || "";
        var line = document.createElement("li");
        var link = typeof item.url === "string" && /^(https?:\/\/|\/)/.test(item.url);
        var head = document.createElement(link ? "a" : "strong");
        head.textContent = title;
        if (link) {
          head.href = item.url;
          head.addEventListener("click", function () {
            sidecar("POST", "/notifications/api/v1/inbox/" + item.id + "/read", {});
          });
        }
        if (item.read === false) line.className = "unread";
        line.appendChild(head);
        text = inboxText(text, item.url);
        if (text) {
          var words = document.createElement("span");
          words.className = "inbox-text";
          words.textContent = text;
          line.appendChild(words);
        }
        inboxList.appendChild(line);
        if (!first && seen.indexOf(item.id) === -1 && popUps()) {
          new Notification(title, { body: text, tag: "cardcrm-" + item.id });
        }
      });
      var ids = items.map(function (item) { return item.id; });
      localStorage.setItem("cardcrm.seen", JSON.stringify(ids.concat(seen).slice(0, 200)));
    }).catch(function () {
      if (notifyState) notifyState.textContent = t("Notifications could not be loaded.");
    });
  }

  if (inboxList) {
    pollInbox();
    window.setInterval(pollInbox, POLL_MS);
  }

  // --- calendar sync page -------------------------------------------------------------------
  var calendar = document.getElementById("calendar-sync");
  if (calendar) {
    var base = calendar.getAttribute("data-calendar-base");
    var feedInput = document.getElementById("feed-url");
    var feedButton = document.getElementById("feed-create");
    var copyButton = document.getElementById("feed-copy");
    var feedState = document.getElementById("feed-state");

    // Dates as the server writes them, in the user's zone (dates.js).
    var calendarDay = function (iso) { return window.cardcrmDates.format(iso, "day"); };
    var calendarTime = function (iso) { return window.cardcrmDates.format(iso, "moment"); };

    var todosText = function (url) {
      return url ? " " + t("For to-dos (Thunderbird, task apps): %(url)s", { url: url }) : "";
    };

    var showFeed = function (url) {
      feedInput.value = url || "";
      copyButton.hidden = !url;
      feedButton.textContent = url ? t("Make a new address (the old one stops working)") : t("Make a feed address");
      if (url) feedButton.setAttribute("data-confirm-rotate", "1");
    };

    // The address can be shown again (on another device too), unless it was made before
    // cardcrm kept it: then only a new one helps.
    sidecar("GET", base + "/api/v1/feed").then(function (answer) {
      if (answer.ok && answer.data && answer.data.active && answer.data.url) {
        showFeed(answer.data.url);
        feedState.textContent = (answer.data.created_at
          ? t("Your feed address, made %(day)s. Keep it secret: anyone with it can read your tasks.",
            { day: calendarDay(answer.data.created_at) })
          : t("Your feed address. Keep it secret: anyone with it can read your tasks.")) +
          todosText(answer.data.todos_url);
      } else if (answer.ok && answer.data && answer.data.active) {
        feedButton.textContent = t("Make a new address (the old one stops working)");
        feedButton.setAttribute("data-confirm-rotate", "1");
        feedState.textContent = answer.data.created_at
          ? t("You have a feed address, made %(day)s, before cardcrm could show it again. If you lost it, make a new one.",
            { day: calendarDay(answer.data.created_at) })
          : t("You have a feed address, made before cardcrm could show it again. If you lost it, make a new one.");
      } else if (!answer.ok) {
        feedState.textContent = problemText(answer);
      }
    }).catch(function () { feedState.textContent = t("The calendar service is not answering."); });

    feedButton.addEventListener("click", function () {
      if (feedButton.hasAttribute("data-confirm-rotate") &&
          !window.confirm(t("Make a new address? Calendars subscribed to the old one stop updating."))) return;
      sidecar("POST", base + "/api/v1/feed", {}).then(function (answer) {
        if (answer.ok && answer.data) {
          showFeed(answer.data.url);
          feedState.textContent = t("Copy this address into your calendar app. You can come back here for it later.") +
            todosText(answer.data.todos_url);
        } else {
          feedState.textContent = problemText(answer);
        }
      });
    });

    copyButton.addEventListener("click", function () {
      feedInput.select();
      if (navigator.clipboard) navigator.clipboard.writeText(feedInput.value);
      feedState.textContent = t("Copied.");
    });

    var accounts = document.getElementById("caldav-accounts");
    var form = document.getElementById("caldav-form");
    var caldavState = document.getElementById("caldav-state");

    var loadAccounts = function () {
      sidecar("GET", base + "/api/v1/caldav").then(function (answer) {
        accounts.replaceChildren();
        itemsOf(answer.data).forEach(function (account) {
          var line = document.createElement("li");
          line.className = "row";
          var state = account.last_error ? t("error: %(error)s", { error: account.last_error })
            : account.last_sync_at ? t("last sync %(moment)s", { moment: calendarTime(account.last_sync_at) })
            : t("waiting for the first sync");
          var values = { user: account.username || "", url: account.url || "", calendar: account.calendar, state: state };
          line.textContent = account.calendar
            ? t("%(user)s at %(url)s (%(calendar)s) — %(state)s", values)
            : t("%(user)s at %(url)s — %(state)s", values);
          accounts.appendChild(line);
        });
      });
    };
    loadAccounts();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {
        url: form.elements.url.value,
        username: form.elements.username.value,
        password: form.elements.password.value,
      };
      if (form.elements.calendar.value) body.calendar = form.elements.calendar.value;
      caldavState.textContent = t("Connecting…");
      fieldErrors(form, {});
      sidecar("POST", base + "/api/v1/caldav", body).then(function (answer) {
        if (answer.ok) {
          form.reset();
          caldavState.textContent = t("Connected: your open tasks will appear in that calendar.");
          loadAccounts();
        } else {
          var data = answer.data || {};
          var rest = fieldErrors(form, data.errors || {});
          caldavState.textContent = problemText({status: answer.status, data: {
            detail: data.detail, title: data.title, errors: rest}});
        }
      });
    });
  }

  // Logging out ends the sidecars' token too (the server revokes it); forget it here.
  document.querySelectorAll("form[action='/logout']").forEach(function (form) {
    form.addEventListener("submit", function () {
      sessionStorage.removeItem("cardcrm.apiToken");
    });
  });

  // Messages of a problem+json answer beside the inputs they name (a form sent by script);
  // returns the ones that name no input of the form. fieldErrors(form, {}) clears them.
  function fieldErrors(form, errors) {
    form.querySelectorAll(".field-error[data-by-script]").forEach(function (node) { node.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (input) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
    var rest = {};
    var first = null;
    Object.keys(errors).forEach(function (key) {
      var input = form.elements[key];
      if (!input || !input.id) { rest[key] = errors[key]; return; }
      var message = document.createElement("p");
      message.className = "field-error";
      message.id = "error-" + input.id;
      message.setAttribute("data-by-script", "");
      message.textContent = [].concat(errors[key]).join(" ");
      input.insertAdjacentElement("afterend", message);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", message.id);
      if (!first) first = input;
    });
    if (first) first.focus();
    return rest;
  }

  // --- a refused form comes back with its messages beside the fields: the first message's
  // field has autofocus (no JavaScript needed); when that message is not a field's, or htmx
  // swapped the form in, focus the first invalid field instead of leaving the focus nowhere.
  function focusFirstInvalid() {
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var field = document.querySelector("form [aria-invalid='true']");
    if (field && typeof field.focus === "function") field.focus();
  }
  focusFirstInvalid();
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 422) focusFirstInvalid();
  });
})();
