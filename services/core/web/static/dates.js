// Dates and times written as the server writes them (services/core/web/dates.py): the same
// named CLDR patterns, locale, zone and relative words, passed on <html data-dates>. Intl gives
// the localized names and numbers, put together in the pattern's order.
//   cardcrmDates.format("2026-12-06T00:32:00Z", "moment")  → "Sun 6 Dec 2026, 02:32"
//   cardcrmDates.format("2026-12-06", "day")               → "Sun 6 Dec 2026" (a date as it is)
//   names: day, day_short, day_long, day_month, moment, moment_short, time, and the compact
//   day_compact and moment_compact (Today, Tomorrow, Yesterday; no year in the current year).
(function () {
  "use strict";

  var settings = {};
  try {
    settings = JSON.parse(document.documentElement.getAttribute("data-dates") || "{}");
  } catch (error) {
    settings = {};
  }
  var locale = settings.locale || "en";
  var zone = settings.zone || "UTC";
  var patterns = settings.patterns || {};
  var words = settings.words || {};
  var DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

  // An LDML field's Intl option and the formatToParts part that carries it.
  function option(letter, width) {
    switch (letter) {
      case "E": case "c": return ["weekday", width >= 4 ? "long" : "short"];
      case "d": return ["day", width === 2 ? "2-digit" : "numeric"];
      case "M": case "L":
        return ["month", width >= 4 ? "long" : width === 3 ? "short" : width === 2 ? "2-digit" : "numeric"];
      case "y": return ["year", width === 2 ? "2-digit" : "numeric"];
      case "H": case "h": return ["hour", width === 2 ? "2-digit" : "numeric"];
      case "m": return ["minute", "2-digit"];
      case "s": return ["second", "2-digit"];
      case "a": return ["dayPeriod", null];
      default: return null;
    }
  }

  // "EEE d MMM y, HH:mm" → [{letter: "E", width: 3}, {text: " "}, …]; 'quoted' text is kept.
  function tokens(pattern) {
    var found = [];
    var at = 0;
    while (at < pattern.length) {
      var char = pattern[at];
      if (char === "'") {
        var end = at + 1;
        var text = "";
        while (end < pattern.length) {
          if (pattern[end] === "'" && pattern[end + 1] === "'") { text += "'"; end += 2; continue; }
          if (pattern[end] === "'") break;
          text += pattern[end];
          end += 1;
        }
        found.push({ text: text || "'" });
        at = end + 1;
      } else if (/[A-Za-z]/.test(char)) {
        var width = 1;
        while (pattern[at + width] === char) width += 1;
        found.push({ letter: char, width: width });
        at += width;
      } else {
        found.push({ text: char });
        at += 1;
      }
    }
    return found;
  }

  function render(instant, pattern, timeZone) {
    var parts = tokens(pattern);
    var options = { timeZone: timeZone };
    parts.forEach(function (part) {
      var chosen = part.letter && option(part.letter, part.width);
      if (!chosen) return;
      if (chosen[1]) options[chosen[0]] = chosen[1];
      if (part.letter === "H") options.hourCycle = "h23";
      if (part.letter === "h" || part.letter === "a") options.hourCycle = "h12";
    });
    if (options.hourCycle === "h12" && !options.hour) options.hour = "numeric";
    var values = {};
    new Intl.DateTimeFormat(locale, options).formatToParts(instant).forEach(function (part) {
      values[part.type] = part.value;
    });
    return parts.map(function (part) {
      if (!part.letter) return part.text;
      var chosen = option(part.letter, part.width);
      if (!chosen) return "";
      var value = values[chosen[0]] || "";
      // Intl drops a leading zero in some combinations (a minute alone); the pattern keeps it.
      if (part.width === 2 && /^\d$/.test(value)) value = "0" + value;
      if (chosen[0] === "minute" && part.width === 1) value = String(Number(value));
      return value;
    }).join("");
  }

  // The calendar date (year, month, day) an instant has in the user's zone, as a UTC noon.
  function dayIn(instant) {
    var values = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone, year: "numeric", month: "numeric", day: "numeric",
    }).formatToParts(instant).forEach(function (part) { values[part.type] = Number(part.value); });
    return new Date(Date.UTC(values.year, values.month - 1, values.day, 12));
  }

  function relativeWord(day) {
    var days = Math.round((day - dayIn(new Date())) / 86400000);
    return { "-1": words.yesterday, "0": words.today, "1": words.tomorrow }[String(days)] || null;
  }

  function sameYear(day) {
    return day.getUTCFullYear() === dayIn(new Date()).getUTCFullYear();
  }

  function format(value, name) {
    if (!value) return "";
    name = name || "moment";
    var dateOnly = DATE_ONLY.exec(String(value));
    // A date stays the date it is (an all-day deadline); an instant is seen in the user's zone.
    var instant = dateOnly
      ? new Date(Date.UTC(Number(dateOnly[1]), Number(dateOnly[2]) - 1, Number(dateOnly[3]), 12))
      : new Date(value);
    if (isNaN(instant.getTime())) return "";
    var day = dateOnly ? instant : dayIn(instant);
    if (name === "day_compact") {
      return relativeWord(day) || render(day, patterns[sameYear(day) ? "day_short" : "day"], "UTC");
    }
    if (name === "moment_compact") {
      var word = relativeWord(day);
      if (word) {
        return (words.join || "{1}, {0}").replace("{1}", word).replace("{0}", render(instant, patterns.time, zone));
      }
      return render(instant, patterns[sameYear(day) ? "moment_short" : "moment"], zone);
    }
    if (!patterns[name]) throw new Error("cardcrmDates: no format named " + name);
    var isDayFormat = name.indexOf("day") === 0;
    return isDayFormat ? render(day, patterns[name], "UTC") : render(instant, patterns[name], zone);
  }

  window.cardcrmDates = { format: format, settings: settings };
})();
