/* Field-sales CRM service worker, served at /sw.js (crm.views.service_worker), which puts
   self.SHELL (the files every page needs and the offline page, last) and self.VERSION above
   this code.

   - The app shell is kept from installation on; static files are served from it first.
   - Pages (GET navigations) come from the network first; what answered is kept, and served
     when there is no signal (or none within a few seconds); a page never opened shows the
     offline page.
   - Writes never touch a cache: anything but GET goes to the network as it is.
   - Kept pages belong to the person signed in: each page tells the worker who that is
     (offline.js), and when it is someone else, or nobody (logged out), they are all deleted
     before anything more is kept. */
"use strict";

var SHELL_CACHE = "crm-shell-" + self.VERSION;
var PAGES_CACHE = "crm-pages";
var OWNER_URL = "/__pages-owner__";
var OFFLINE_URL = self.SHELL[self.SHELL.length - 1];
var STATIC_PREFIX = self.SHELL[0].slice(0, self.SHELL[0].indexOf("/", 1) + 1);
// A weak signal that answers slowly: the kept page after this long, if there is one.
var NETWORK_PATIENCE_MS = 4000;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) {
      return cache.addAll(self.SHELL);
    }).then(function () {
      return self.skipWaiting();
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("crm-shell-") === 0 && name !== SHELL_CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () {
      return self.clients.claim();
    })
  );
});

function pageOwner() {
  return caches.open(PAGES_CACHE).then(function (cache) {
    return cache.match(OWNER_URL);
  }).then(function (response) {
    return response ? response.text() : null;
  });
}

function setOwner(user) {
  // Another person (or nobody): the pages kept so far are not theirs to see.
  return pageOwner().then(function (owner) {
    if (owner === user) return false;
    return caches.delete(PAGES_CACHE).then(function () {
      return caches.open(PAGES_CACHE);
    }).then(function (cache) {
      return cache.put(OWNER_URL, new Response(user)).then(function () { return true; });
    });
  });
}

// The supervision index's one tap: pages of this origin fetched and kept now, to open offline.
function keepPages(event, urls) {
  var paths = urls.filter(function (url) { return /^\/[^\/]/.test(url); });
  event.waitUntil(caches.open(PAGES_CACHE).then(function (cache) {
    return Promise.all(paths.map(function (path) {
      return fetch(path, {credentials: "same-origin"}).then(function (response) {
        return keepPage(cache, path, response);
      }).then(function () {
        return cache.match(path);
      }).catch(function () {});
    }));
  }).then(function (kept) {
    event.ports[0].postMessage({asked: paths.length, kept: kept.filter(Boolean).length});
  }));
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "keep" && Array.isArray(data.urls) && event.ports[0]) return keepPages(event, data.urls);
  if (data.type !== "user" || typeof data.user !== "string") return;
  event.waitUntil(setOwner(data.user).then(function () {
    // The page that registered the worker was not fetched through it: keep it too.
    var url = event.source && event.source.url;
    if (!data.user || !url || data.keep !== true) return;
    return caches.open(PAGES_CACHE).then(function (cache) {
      return cache.match(url).then(function (kept) {
        if (!kept) return fetch(url, {credentials: "same-origin"}).then(function (response) {
          return keepPage(cache, url, response);
        });
      });
    });
  }).catch(function () {}));
});

function keepPage(cache, request, response) {
  // Only a page that answered as itself: not an error, not the login page it redirected to.
  if (response.status !== 200 || response.redirected || response.type !== "basic") return;
  return pageOwner().then(function (owner) {
    if (owner) return cache.put(request, response);
  });
}

function fromNetworkFirst(event) {
  var request = event.request;
  var network = fetch(request).then(function (response) {
    var copy = response.clone();
    event.waitUntil(caches.open(PAGES_CACHE).then(function (cache) {
      return keepPage(cache, request, copy);
    }));
    return response;
  });
  var kept = caches.match(request, {cacheName: PAGES_CACHE});
  var patience = new Promise(function (resolve) {
    setTimeout(resolve, NETWORK_PATIENCE_MS);
  }).then(function () { return kept; }).then(function (page) {
    return page || network;
  });
  return Promise.race([network, patience]).catch(function () {
    return kept.then(function (page) {
      return page || caches.match(OFFLINE_URL);
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") {
    // A form sent with no signal at all: the offline page, not the browser's error.
    if (request.mode === "navigate") {
      event.respondWith(fetch(request).catch(function () {
        return caches.match(OFFLINE_URL);
      }));
    }
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(fromNetworkFirst(event));
  } else if (url.pathname.indexOf(STATIC_PREFIX) === 0 || self.SHELL.indexOf(url.pathname) >= 0) {
    event.respondWith(caches.match(request).then(function (kept) {
      return kept || fetch(request);
    }));
  }
});
