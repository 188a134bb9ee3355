// cardcrm's service worker (served at /sw.js by web/pwa.py, which fills in the two
// placeholders). Pages: network first; the Today view, recent cards and the cards they link
// to are kept, and shown read-only with an "Offline" banner when the network fails. Static
// assets: cache first, in a cache named after their digest, so a release replaces them.
// Changes (POST and friends) are never kept to send later: offline they are refused.
"use strict";

var ASSETS = "cardcrm-assets-__ASSETS_VERSION__";
var ASSET_URLS = __ASSET_URLS__;
var PAGES = "cardcrm-pages";
var OWNER_HEADER = "X-Cardcrm-Page-Owner";
var KEPT_AT_HEADER = "X-Cardcrm-Kept-At";
var OWNER_KEY = "/__cardcrm_page_owner__";
// The pages kept for offline use: "/" (Today), "/recent" and the card pages.
var KEPT_PATHS = /^\/(recent|cards\/\d+)?$/;
var LISTS = /^\/(recent)?$/;
var CARD_LINK = /href="(\/cards\/\d+)"/g;
var PREFETCH_AT_MOST = 20;
var FRESH_FOR_MS = 60 * 60 * 1000;
// The worker has no translations of its own: the page (pwa.js) sends the words of the pages
// below in the reader's language, kept in their own cache (they outlive logging out); English
// until a page has.
var WORDS = "cardcrm-words";
var WORDS_KEY = "/__cardcrm_words__";
var ENGLISH = {
  lang: "en",
  refused: "You are offline: this was not done, and nothing was kept to send later. " +
    "Try again when you are back online.",
  notSaved: "Not saved: you are offline",
  offline: "You are offline",
  notKept: "This page was not kept for offline use. The Today view, your recent cards and the " +
    "cards they link to open offline once you have visited them online.",
  today: "Today (as last seen)",
  recent: "Recent cards",
};

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(ASSETS).then(function (cache) { return cache.addAll(ASSET_URLS); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("cardcrm-assets-") === 0 && name !== ASSETS;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "forget-pages") event.waitUntil(forgetPages());
  if (event.data && event.data.type === "words" && event.data.words) {
    event.waitUntil(caches.open(WORDS).then(function (cache) {
      return cache.put(WORDS_KEY, new Response(JSON.stringify(event.data.words)));
    }));
  }
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") {
    event.respondWith(change(request, url));
  } else if (url.pathname.indexOf("/assets/") === 0) {
    event.respondWith(asset(request));
  } else if (request.mode === "navigate") {
    event.respondWith(page(event, request, url));
  }
  // Anything else (htmx fragments, the API, the sidecars) goes to the network untouched.
});

function forgetPages() {
  return caches.delete(PAGES);
}

function change(request, url) {
  // Logging in or out: whatever was kept belonged to the session that ends.
  var before = /^\/log(in|out)$/.test(url.pathname) ? forgetPages() : Promise.resolve();
  return before.then(function () { return fetch(request); }).catch(function () {
    return words().then(function (said) {
      if (request.mode === "navigate") return offlineHtml(said, said.notSaved, said.refused, 503);
      return new Response(said.refused, {
        status: 503,
        headers: { "Content-Type": "text/plain; charset=utf-8", "X-Cardcrm-Offline": "refused",
                   "HX-Reswap": "none" },
      });
    });
  });
}

function asset(request) {
  return caches.open(ASSETS).then(function (cache) {
    return cache.match(request, { ignoreSearch: true }).then(function (kept) {
      return kept || fetch(request).then(function (response) {
        if (response.ok) cache.put(request, response.clone());
        return response;
      });
    });
  });
}

function page(event, request, url) {
  return fetch(request).then(function (response) {
    event.waitUntil(keep(url, response.clone()).catch(function (error) {
      console.warn("cardcrm: could not keep the page for offline use", error);
    }));
    return response;
  }, function () {
    return offlineCopy(request);
  });
}

// Keep a page fetched from the network, if it is one to keep and belongs to whoever owns the
// kept pages; a page of someone else or of nobody (logged out) forgets them all first.
function keep(url, response) {
  if (response.type !== "basic" || response.status !== 200) return Promise.resolve();
  if ((response.headers.get("Content-Type") || "").indexOf("text/html") !== 0) {
    return Promise.resolve();
  }
  var owner = response.headers.get(OWNER_HEADER);
  if (!owner) return forgetPages();
  return caches.open(PAGES).then(function (cache) {
    return cache.match(OWNER_KEY).then(function (known) {
      return known ? known.text() : null;
    }).then(function (knownOwner) {
      if (knownOwner === owner) return cache;
      return forgetPages().then(function () { return caches.open(PAGES); }).then(function (fresh) {
        return fresh.put(OWNER_KEY, new Response(owner)).then(function () { return fresh; });
      });
    }).then(function (cache) {
      if (!KEPT_PATHS.test(url.pathname)) return null;
      return response.text().then(function (html) {
        var headers = new Headers(response.headers);
        headers.set(KEPT_AT_HEADER, new Date().toISOString());
        return cache.put(url.href, new Response(html, { status: 200, headers: headers }))
          .then(function () { if (LISTS.test(url.pathname)) return prefetchCards(cache, html, owner); });
      });
    });
  });
}

// The cards that Today and the recent cards link to, so that they open offline too. The
// Sec-Purpose header tells core not to count these as cards the user opened.
function prefetchCards(cache, html, owner) {
  var paths = [];
  var found;
  CARD_LINK.lastIndex = 0;
  while ((found = CARD_LINK.exec(html)) !== null) {
    if (paths.indexOf(found[1]) < 0) paths.push(found[1]);
  }
  var chain = Promise.resolve();
  paths.slice(0, PREFETCH_AT_MOST).forEach(function (path) {
    var url = new URL(path, self.location.origin).href;
    chain = chain.then(function () {
      return cache.match(url).then(function (kept) {
        var at = kept && Date.parse(kept.headers.get(KEPT_AT_HEADER) || "");
        if (at && Date.now() - at < FRESH_FOR_MS) return null;
        return fetch(url, { credentials: "same-origin", headers: { "Sec-Purpose": "prefetch" } })
          .then(function (response) {
            if (response.status !== 200 || response.headers.get(OWNER_HEADER) !== owner) return null;
            var headers = new Headers(response.headers);
            headers.set(KEPT_AT_HEADER, new Date().toISOString());
            return response.text().then(function (text) {
              return cache.put(url, new Response(text, { status: 200, headers: headers }));
            });
          });
      });
    });
  });
  return chain.catch(function () { return null; });  // offline half-way: keep what we have
}

function offlineCopy(request) {
  return caches.open(PAGES).then(function (cache) {
    return cache.match(request.url, { ignoreVary: true });
  }).then(function (kept) {
    if (!kept) {
      return words().then(function (said) {
        return offlineHtml(said, said.offline, said.notKept, 503);
      });
    }
    var at = kept.headers.get(KEPT_AT_HEADER) || "";
    return kept.text().then(function (html) {
      var banner = '<div class="offline-banner" role="status" data-offline-banner>' +
        "Offline — last updated at <time datetime=\"" + at + "\">" + shown(at) + "</time>. " +
        "Read-only until you are back online.</div>";
      html = html.replace(/<body([^>]*)>/, function (tag, attributes) {
        return "<body" + attributes + ' data-offline-copy="' + at + '">' + banner;
      });
      var headers = new Headers(kept.headers);
      headers.delete(KEPT_AT_HEADER);
      return new Response(html, { status: 200, headers: headers });
    });
  });
}

function shown(iso) {
  var when = new Date(iso);
  if (isNaN(when.getTime())) return "an unknown time";
  return when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

// The words the page sent last (pwa.js), each one English where it sent none.
function words() {
  return caches.open(WORDS).then(function (cache) { return cache.match(WORDS_KEY); })
    .then(function (kept) { return kept ? kept.json() : {}; })
    .catch(function () { return {}; })
    .then(function (sent) {
      var said = {};
      Object.keys(ENGLISH).forEach(function (key) {
        said[key] = typeof sent[key] === "string" && sent[key] ? sent[key] : ENGLISH[key];
      });
      return said;
    });
}

function escaped(text) {
  return String(text).replace(/[&<>"]/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
  });
}

function offlineHtml(said, title, text, status) {
  title = escaped(title);
  text = escaped(text);
  var body = "<!doctype html><html lang=\"" + escaped(said.lang) + "\"><head><meta charset=\"utf-8\">" +
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
    "<title>" + title + " · cardcrm</title><link rel=\"stylesheet\" href=\"/assets/app.css\">" +
    "</head><body data-offline-copy=\"\"><main id=\"main\"><section class=\"prose\">" +
    "<h1>" + title + "</h1><p class=\"message error\" role=\"alert\">" + text + "</p>" +
    "<p><a href=\"/\">" + escaped(said.today) + "</a> · <a href=\"/recent\">" + escaped(said.recent) + "</a></p>" +
    "</section></main></body></html>";
  return new Response(body, {
    status: status,
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'",
    },
  });
}
