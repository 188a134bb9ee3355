// The card page's files panel: files chosen with the button or dropped on the panel are uploaded
// one by one with a progress bar; the panel is redrawn from the server's answer (with its error
// message on 413 or 422), and "card-changed" tells the page's other panels. Removing a file asks
// first (app.js's data-confirm) and redraws the panel the same way. Without this script the
// panel's forms post and come back to the card page.
(function () {
  "use strict";
  if (window.cardcrmFiles) return; // the panel may be drawn again; listen once
  window.cardcrmFiles = true;
  document.documentElement.classList.add("files-js"); // the button uploads at once

  function panel() { return document.querySelector("[data-files-panel]"); }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (error) {
      return "";
    }
  }

  function showError(text) {
    var area = panel() && panel().querySelector("[data-files-error]");
    if (!area) return;
    area.textContent = text || "";
    area.hidden = !text;
  }

  function progress(text, percent) {
    var box = panel() && panel().querySelector("[data-files-progress]");
    if (!box) return;
    box.hidden = text === null;
    if (text === null) return;
    box.querySelector("[data-files-progress-text]").textContent = text;
    var bar = box.querySelector("progress");
    if (percent === null) bar.removeAttribute("value"); else bar.value = percent;
  }

  // Put the server's panel in place of ours; true when the answer was one.
  function redraw(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.querySelector("[data-files-panel]");
    var current = panel();
    if (!fresh || !current) return false;
    current.replaceWith(fresh);
    return true;
  }

  function answerText(html, status) {
    var holder = document.createElement("div");
    holder.innerHTML = html || "";
    var message = holder.querySelector(".message, .detail, p");
    var text = message ? message.textContent.trim() : "";
    return text || t("The upload failed (the server answered %(status)s).", { status: status });
  }

  function changed() { document.body.dispatchEvent(new CustomEvent("card-changed")); }

  function send(url, body, onProgress) {
    return new Promise(function (resolve) {
      var request = new XMLHttpRequest();
      request.open("POST", url);
      request.setRequestHeader("X-CSRF-Token", csrfToken());
      request.setRequestHeader("HX-Request", "true");
      if (onProgress) {
        request.upload.addEventListener("progress", function (event) {
          if (event.lengthComputable) onProgress(Math.round((100 * event.loaded) / event.total));
        });
      }
      request.addEventListener("load", function () {
        resolve({ status: request.status, text: request.responseText });
      });
      request.addEventListener("error", function () { resolve({ status: 0, text: "" }); });
      request.send(body);
    });
  }

  function uploadOne(file, index, count) {
    var box = panel();
    var max = Number(box.getAttribute("data-max-bytes"));
    var limit = box.getAttribute("data-max-size");
    var values = { name: file.name, number: index + 1, count: count, limit: limit };
    if (max && file.size > max) {
      return Promise.resolve(t("“%(name)s” is over the upload limit of %(limit)s.", values));
    }
    if (file.size === 0) return Promise.resolve(t("“%(name)s” is empty.", values));
    var form = new FormData();
    form.append("file", file, file.name);
    var uploading = count > 1 ? t("Uploading “%(name)s” (%(number)s of %(count)s)…", values)
      : t("Uploading “%(name)s”…", values);
    progress(uploading, 0);
    return send(box.getAttribute("data-upload-url"), form, function (percent) {
      progress(uploading + " " + percent + " %", percent);
    }).then(function (answer) {
      if (answer.status === 200) {
        redraw(answer.text);
        changed();
        return null;
      }
      if (answer.status === 0) {
        return t("“%(name)s” could not be sent: the connection failed (over the limit of %(limit)s?). Try again.", values);
      }
      if (redraw(answer.text)) return panel().querySelector("[data-files-error]").textContent;
      return answerText(answer.text, answer.status);
    });
  }

  function uploadAll(files) {
    var list = Array.prototype.slice.call(files || []);
    if (!list.length || !panel()) return;
    var errors = [];
    showError("");
    list.reduce(function (previous, file, index) {
      return previous.then(function () {
        return uploadOne(file, index, list.length).then(function (error) {
          if (error) errors.push(error);
        });
      });
    }, Promise.resolve()).then(function () {
      progress(null);
      showError(errors.join(" "));
    });
  }

  // --- the button: upload as soon as files are chosen -------------------------------------------
  document.addEventListener("change", function (event) {
    if (!event.target.matches || !event.target.matches("[data-files-input]")) return;
    uploadAll(event.target.files);
    event.target.value = "";
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented) return; // e.g. a confirmation answered "no"
    if (form.matches("[data-files-form]")) {
      event.preventDefault();
      uploadAll(form.querySelector("[data-files-input]").files);
    } else if (form.matches("[data-files-delete]")) {
      event.preventDefault();
      send(form.action, new FormData(form)).then(function (answer) {
        if (answer.status === 200) {
          redraw(answer.text);
          changed();
        } else if (!redraw(answer.text)) {
          showError(answerText(answer.text, answer.status));
        }
      });
    }
  });

  // --- drag and drop onto the panel ------------------------------------------------------------
  function dropTarget(event) {
    var box = event.target.closest ? event.target.closest("[data-files-panel]") : null;
    return box && box.querySelector("[data-files-form]") ? box : null;
  }
  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var box = dropTarget(event);
      if (!box || !event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types, "Files") === -1) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      box.classList.add("is-dragging");
    });
  });
  ["dragleave", "dragend"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var box = dropTarget(event);
      if (box && !box.contains(event.relatedTarget)) box.classList.remove("is-dragging");
    });
  });
  document.addEventListener("drop", function (event) {
    var box = dropTarget(event);
    if (!box) return;
    event.preventDefault();
    box.classList.remove("is-dragging");
    uploadAll(event.dataTransfer && event.dataTransfer.files);
  });
})();
