// The notification settings page: reads the preferences from the notifications service,
// shows them, and saves them back with PUT (errors beside their fields). Browser pop-ups are
// this browser's own choice (the Notification API's permission, kept in localStorage).
(function () {
  "use strict";
  var root = document.getElementById("notification-settings");
  var api = window.cardcrmSidecar;
  if (!root || !api) return;

  var base = root.getAttribute("data-notifications-base") + "/api/v1";
  var accountEmail = root.getAttribute("data-account-email");
  var form = document.getElementById("notification-form");
  var state = document.getElementById("settings-state");
  var problem = document.getElementById("settings-problem");
  var field = function (id) { return document.getElementById(id); };
  var loaded = null;
  var emailUnavailable = null; // why this server cannot send e-mail (no SMTP), if it cannot

  function clearErrors() {
    form.querySelectorAll(".field-error").forEach(function (node) {
      node.textContent = "";
      node.hidden = true;
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) {
      node.removeAttribute("aria-invalid");
    });
  }

  function showErrors(errors) {
    var first = null;
    Object.keys(errors).forEach(function (key) {
      var text = [].concat(errors[key]).join(" ");
      var slot = field("error-" + key);
      if (!slot) {
        slot = field("error-other");
        text = key + ": " + text;
      }
      slot.textContent = (slot.textContent ? slot.textContent + " " : "") + text;
      slot.hidden = false;
      var input = form.querySelector("[name='" + key + "']");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        if (!first) first = input;
      }
    });
    if (first) first.focus();
  }

  function when(instant) {
    if (!instant) return "";
    return window.cardcrmDates.format(instant, "moment_compact");
  }

  function showEmailState(prefs) {
    var node = field("email-state");
    var resend = field("email-resend");
    resend.hidden = true;
    node.className = "small-text";
    if (emailUnavailable) {
      field("email-on").disabled = true;
      node.textContent = emailUnavailable;
      node.className = "small-text warn-text";
      return;
    }
    if (!prefs.email) {
      node.textContent = t("No e-mails are sent.");
      return;
    }
    if (prefs.email_verified) {
      node.textContent = t("Verified: notifications go to %(email)s.", { email: prefs.email });
      node.className = "small-text ok-text";
      return;
    }
    var values = {
      email: prefs.email,
      when: when(prefs.email_verification_sent_at),
      fallback: prefs.email_in_effect || accountEmail,
      error: prefs.email_verification_error,
    };
    var text = prefs.email_verification_sent_at
      ? t("Not confirmed yet: open the link we sent to %(email)s (%(when)s). Until then e-mails go to %(fallback)s.", values)
      : t("Not confirmed yet: open the link we sent to %(email)s. Until then e-mails go to %(fallback)s.", values);
    if (prefs.email_verification_error) text += " " + t("The last link could not be sent: %(error)s", values);
    node.textContent = text;
    node.className = "small-text warn-text";
    resend.hidden = false;
  }

  function setReminder(minutes) {
    var select = field("due-reminder");
    var value = minutes === null || minutes === undefined ? "" : String(minutes);
    if (value && !select.querySelector("option[value='" + value + "']")) {
      var option = document.createElement("option");
      option.value = value;
      option.textContent = t("%(minutes)s minutes before", { minutes: value });
      select.appendChild(option);
    }
    select.value = value;
  }

  function show(prefs) {
    loaded = prefs;
    field("rule-assigned").checked = !!prefs.assigned;
    field("rule-status").checked = !!prefs.status_changes;
    field("rule-mentioned").checked = prefs.mentioned !== false;
    setReminder(prefs.due_reminder_minutes);
    field("digest-on").checked = !!prefs.daily_digest_at;
    field("digest-at").value = prefs.daily_digest_at || "08:00";
    field("digest-at").disabled = !prefs.daily_digest_at;
    if (prefs.timezone) field("settings-timezone").textContent = prefs.timezone;
    field("email-on").checked = !!prefs.email;
    field("email").value = prefs.email || accountEmail;
    field("email").disabled = !prefs.email;
    field("webhook-url").value = prefs.webhook_url || "";
    field("webhook-secret").value = prefs.webhook_secret || "";
    showEmailState(prefs);
  }

  function body() {
    var reminder = field("due-reminder").value;
    var data = {
      assigned: field("rule-assigned").checked,
      status_changes: field("rule-status").checked,
      mentioned: field("rule-mentioned").checked,
      due_reminder_minutes: reminder === "" ? null : Number(reminder),
      daily_digest_at: field("digest-on").checked ? field("digest-at").value : null,
      email: field("email-on").checked ? field("email").value.trim() : null,
      webhook_url: field("webhook-url").value.trim() || null,
      channels: (loaded && loaded.channels) || {},
    };
    var secret = field("webhook-secret").value.trim();
    // An unchanged secret is kept by leaving it out; a new one replaces it.
    if (secret && (!loaded || secret !== loaded.webhook_secret)) data.webhook_secret = secret;
    return data;
  }

  function fail(answer) {
    problem.textContent = answer && answer.status
      ? t("The notification service is not answering (%(status)s).", { status: answer.status })
      : t("The notification service is not answering.");
    problem.hidden = false;
  }

  function load() {
    return api("GET", base + "/preferences").then(function (answer) {
      if (!answer.ok) return fail(answer);
      show(answer.data);
      form.setAttribute("aria-busy", "false");
    }).catch(fail);
  }

  api("GET", base + "/channels").then(function (answer) {
    if (!answer.ok) return;
    (answer.data.items || []).forEach(function (channel) {
      if (channel.name === "email" && !channel.available) {
        emailUnavailable = channel.reason || t("This server cannot send e-mail.");
        if (loaded) showEmailState(loaded);
      }
    });
  });

  field("digest-on").addEventListener("change", function () {
    field("digest-at").disabled = !this.checked;
  });
  field("email-on").addEventListener("change", function () {
    field("email").disabled = !this.checked;
    if (this.checked) field("email").focus();
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    problem.hidden = true;
    state.textContent = t("Saving…");
    field("settings-save").disabled = true;
    api("PUT", base + "/preferences", body()).then(function (answer) {
      if (answer.ok) {
        show(answer.data);
        state.textContent = t("Saved.");
        return;
      }
      state.textContent = t("Not saved: see the marked fields.");
      var data = answer.data || {};
      if (answer.status === 422 && data.errors) {
        showErrors(data.errors);
      } else {
        state.textContent = data.detail || data.title
          ? t("Not saved: %(reason)s", { reason: data.detail || data.title })
          : t("Not saved: the service answered %(status)s.", { status: answer.status });
      }
    }).catch(function () {
      state.textContent = t("Not saved: the notification service is not answering.");
    }).finally(function () {
      field("settings-save").disabled = false;
    });
  });

  field("email-resend").addEventListener("click", function () {
    var node = field("email-state");
    api("POST", base + "/preferences/email/resend", {}).then(function (answer) {
      if (answer.ok) {
        showEmailState(answer.data);
        node.textContent = t("Sent. %(state)s", { state: node.textContent });
      } else {
        node.textContent = (answer.data && answer.data.detail) || t("Not sent (%(status)s).", { status: answer.status });
      }
    });
  });

  // --- browser notifications: this browser's choice -------------------------------------------
  var browserOn = field("browser-on");
  var browserState = field("browser-state");
  function showBrowser() {
    if (!("Notification" in window)) {
      browserOn.checked = false;
      browserOn.disabled = true;
      browserState.textContent = t("This browser cannot show notifications; the in-app inbox lists them.");
      return;
    }
    var on = localStorage.getItem("cardcrm.notifications") === "on";
    browserOn.checked = on && Notification.permission === "granted";
    if (on && Notification.permission === "denied") {
      browserState.textContent = t("The browser blocks notifications from this site: allow them in its site settings.");
    } else if (browserOn.checked) {
      browserState.textContent = t("On in this browser, while a cardcrm page is open.");
    } else {
      browserState.textContent = t("Off in this browser.");
    }
  }
  browserOn.addEventListener("change", function () {
    if (!browserOn.checked) {
      localStorage.setItem("cardcrm.notifications", "off");
      showBrowser();
      return;
    }
    Promise.resolve(Notification.requestPermission()).then(function () {
      localStorage.setItem("cardcrm.notifications", "on");
      showBrowser();
    });
  });
  showBrowser();

  load();
})();
