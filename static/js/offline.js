/* Field-sales CRM offline: installs the service worker (static/js/sw.js), shows the offline
   banner, and keeps what a rep does with no signal in an outbox (IndexedDB) until it is sent.

   With no signal, logging a visit, marking a planned activity done and marking a task done are
   queued (forms marked data-offline) with an Idempotency-Key made here, and sent to the API in
   the order they were made when the signal returns and on the next page load. A send whose
   answer is lost is sent again with the same key: the server answers the first result instead
   of writing twice. A refusal (4xx) stays on its item with the reason until it is discarded.
   An entry that is not one of ours (corrupt, another person's) is never sent. */
(function () {
  "use strict";
  var DB_NAME = "crm-offline";
  var STORE = "outbox";
  var KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
  var RETRY_MS = [3000, 10000, 30000, 60000];
  // How each kind of queued write is sent; the URL is made from the record's id here, never
  // read from the stored entry.
  var KINDS = {
    "visit": {method: "POST", url: function () { return "/api/activities/"; },
      fields: ["kind", "status", "customer", "due_at", "subject", "outcome", "notes"]},
    "complete": {method: "POST", url: function (id) { return "/api/activities/" + id + "/complete/"; },
      fields: ["outcome", "notes"]},
    "task-done": {method: "PATCH", url: function (id) { return "/api/tasks/" + id + "/"; },
      fields: ["status"]}
  };

  var body = document.body;
  var user = "";
  var offline = false;
  var retries = 0;
  var retryTimer = null;
  var sending = false;
  var warned = {};

  // --- IndexedDB ------------------------------------------------------------------------------
  var dbPromise = null;
  function db() {
    if (!dbPromise) dbPromise = new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, {keyPath: "id", autoIncrement: true});
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
    return dbPromise;
  }

  function store(mode, work) {
    return db().then(function (database) {
      return new Promise(function (resolve, reject) {
        var transaction = database.transaction(STORE, mode);
        var result = work(transaction.objectStore(STORE));
        transaction.oncomplete = function () { resolve(result && result.result); };
        transaction.onerror = function () { reject(transaction.error); };
      });
    });
  }

  function isPlainObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function valid(item) {
    // Ours, for this person, in the shape this code writes: anything else is left alone.
    if (!isPlainObject(item) || !KINDS[item.kind] || item.user !== user) return false;
    if (typeof item.key !== "string" || !KEY_PATTERN.test(item.key)) return false;
    if (!isPlainObject(item.body) || typeof item.label !== "string") return false;
    if (item.kind !== "visit" && !(Number.isInteger(item.target) && item.target > 0)) return false;
    return Object.keys(item.body).every(function (name) {
      var value = item.body[name];
      return KINDS[item.kind].fields.indexOf(name) >= 0 &&
        (typeof value === "string" || Number.isInteger(value) || value === null);
    });
  }

  function outbox() {
    return store("readonly", function (objects) { return objects.getAll(); }).then(function (all) {
      return (all || []).filter(function (item) {
        if (valid(item)) return true;
        var id = isPlainObject(item) ? item.id : "?";
        if (!warned[id]) {
          warned[id] = true;
          var foreign = isPlainObject(item) && typeof item.user === "string" && item.user !== user;
          console.warn(foreign ? "Outbox: another person's entry, left unsent" :
            "Outbox: an entry that is not a queued change, left unsent", item);
        }
        return false;
      });
    });
  }

  // --- The banner and the outbox list --------------------------------------------------------
  function setOffline(state) {
    offline = state;
    var banner = document.getElementById("offline-banner");
    if (banner) banner.hidden = !state;
  }

  function say(text) {
    var box = document.getElementById("messages");
    if (!box) return;
    var message = document.createElement("p");
    message.className = "message message-info";
    message.textContent = text;
    box.appendChild(message);
    message.scrollIntoView({block: "center"});
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function show() {
    var box = document.getElementById("outbox");
    if (!box || !user) return Promise.resolve();
    return outbox().then(function (items) {
      box.hidden = items.length === 0;
      box.querySelector("[data-outbox-count]").textContent = String(items.length);
      var list = box.querySelector("[data-outbox-list]");
      list.textContent = "";
      items.forEach(function (item) {
        var row = element("li", "outbox-item" + (item.reason ? " outbox-refused" : ""));
        row.appendChild(element("span", "outbox-label", item.label));
        row.appendChild(element("span", "badge" + (item.reason ? " badge-bad" : ""),
          item.reason ? "Refused" : "Waiting to be sent"));
        if (item.reason) {
          row.appendChild(element("p", "outbox-reason", item.reason));
          var discard = element("button", "btn btn-small", "Discard");
          discard.type = "button";
          discard.setAttribute("data-discard", String(item.id));
          discard.setAttribute("aria-label", "Discard: " + item.label);
          row.appendChild(discard);
        }
        list.appendChild(row);
      });
      markPending(items);
    });
  }

  function markPending(items) {
    // A task queued as done shows as pending on its row until it is sent.
    items.forEach(function (item) {
      if (item.kind !== "task-done" || item.reason) return;
      var row = document.getElementById("task-" + item.target);
      if (!row || row.classList.contains("outbox-pending")) return;
      row.classList.add("outbox-pending");
      var button = row.querySelector("form[data-offline] button");
      if (button) button.disabled = true;
      var status = row.querySelector("td[data-label=Status] > span") || row;
      status.appendChild(element("span", "badge badge-warn outbox-mark", "Pending: will be sent"));
    });
  }

  function markSent(item) {
    var mark = item.kind === "task-done" &&
      document.querySelector("#task-" + item.target + " .outbox-mark");
    if (!mark) return;
    mark.className = "badge badge-good outbox-mark";
    mark.textContent = "Done: sent";
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-discard]");
    if (!button) return;
    // Discarding loses the change for good: a second tap confirms it.
    if (!button.hasAttribute("data-armed")) {
      button.setAttribute("data-armed", "");
      button.textContent = "Discard for good";
      return;
    }
    var id = Number(button.getAttribute("data-discard"));
    store("readwrite", function (objects) { objects.delete(id); }).then(show);
  });

  // --- Queueing ------------------------------------------------------------------------------
  function zoneOffset(local, zone) {
    // "+01:00" for a wall-clock time in the person's zone (the form's), at that moment.
    var asUtc = new Date(local + ":00Z");
    var minutes;
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", {timeZone: zone, hourCycle: "h23", year: "numeric",
        month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"})
        .formatToParts(asUtc).forEach(function (part) { parts[part.type] = Number(part.value); });
      minutes = Math.round((Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour,
        parts.minute) - asUtc.getTime()) / 60000);
    } catch (error) {
      minutes = -new Date(local).getTimezoneOffset();
    }
    var sign = minutes < 0 ? "-" : "+";
    minutes = Math.abs(minutes);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return sign + two(Math.floor(minutes / 60)) + ":" + two(minutes % 60);
  }

  function fromForm(form) {
    var kind = form.getAttribute("data-offline");
    var fields = form.elements;
    var item = {kind: kind, key: crypto.randomUUID(), user: user, queuedAt: new Date().toISOString()};
    if (kind === "visit") {
      var when = fields.due_at.value;
      var customer = fields.customer;
      item.body = {
        kind: fields.kind.value,
        status: fields.done.value === "done" ? "completed" : "planned",
        due_at: /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(when)
          ? when + ":00" + zoneOffset(when, form.getAttribute("data-zone")) : when,
        customer: customer.value ? Number(customer.value) : null,
        subject: fields.subject.value,
        outcome: fields.outcome.value,
        notes: fields.notes.value
      };
      var name = customer.value ? customer.options[customer.selectedIndex].text : "no customer";
      item.label = fields.kind.options[fields.kind.selectedIndex].text + ": " + name;
    } else {
      item.target = Number(form.getAttribute("data-target"));
      item.label = "Done: " + form.getAttribute("data-title");
      item.body = kind === "task-done" ? {status: "done"}
        : {outcome: fields.outcome.value, notes: fields.notes.value};
    }
    return item;
  }

  function canQueue() {
    return Boolean(user && window.indexedDB && window.crypto && crypto.randomUUID);
  }

  function queue(form) {
    var item = fromForm(form);
    return store("readwrite", function (objects) { objects.add(item); }).then(function () {
      if (item.kind === "visit") form.reset();
      if (item.kind === "complete") form.querySelector("button[type=submit]").disabled = true;
      say(item.label + ": kept in the outbox, it will be sent when you're back.");
      return show();
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-offline]");
    if (!form || !canQueue() || (navigator.onLine && !offline)) return;
    // Captured before htmx's own listener on the form: nothing is sent now.
    event.preventDefault();
    event.stopPropagation();
    queue(form);
  }, true);

  document.addEventListener("htmx:sendError", function (event) {
    // A row's Done that got no answer: kept and sent again, which sets the same state.
    var form = event.detail.elt && event.detail.elt.closest("form[data-offline]");
    if (!form || !canQueue()) return;
    setOffline(true);
    queue(form);
  });

  // --- Sending -------------------------------------------------------------------------------
  function csrfToken() {
    try {
      return JSON.parse(body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (error) {
      return "";
    }
  }

  function reasonOf(response) {
    return response.json().then(function (answer) {
      if (!isPlainObject(answer)) return "";
      if (typeof answer.detail === "string") return answer.detail;
      return Object.keys(answer).filter(function (name) { return name !== "request_id"; })
        .map(function (name) {
          var said = answer[name];
          return name + ": " + (Array.isArray(said) ? said.join(" ") : String(said));
        }).join("; ");
    }).catch(function () { return ""; }).then(function (reason) {
      return reason || "Refused by the server (" + response.status + ").";
    });
  }

  function send(item) {
    var how = KINDS[item.kind];
    var payload = {};
    how.fields.forEach(function (name) {
      if (name in item.body) payload[name] = item.body[name];
    });
    return fetch(how.url(item.target), {
      method: how.method,
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
        "X-CSRFToken": csrfToken(), "Idempotency-Key": item.key},
      body: JSON.stringify(payload)
    }).then(function (response) {
      if (response.ok) {
        return store("readwrite", function (objects) { objects.delete(item.id); }).then(function () {
          return "sent";
        });
      }
      // Busy, throttled, the same key still in progress, the server down: later, as it is.
      if (response.status >= 500 || response.status === 408 || response.status === 409 ||
          response.status === 429) return "later";
      return reasonOf(response).then(function (reason) {
        item.reason = reason;
        return store("readwrite", function (objects) { objects.put(item); }).then(function () {
          return "refused";
        });
      });
    });
  }

  function sendAll() {
    if (!user || sending) return Promise.resolve();
    sending = true;
    var sent = 0;
    return outbox().then(function (items) {
      var waiting = items.filter(function (item) { return !item.reason; });
      // One after another, in the order they were made; the first without an answer stops it.
      return waiting.reduce(function (previous, item) {
        return previous.then(function (state) {
          if (state === "stop") return state;
          return send(item).then(function (result) {
            if (result === "sent") { sent += 1; markSent(item); }
            return result === "later" ? "stop" : result;
          });
        });
      }, Promise.resolve()).then(function (state) {
        if (state === "stop") retryLater();
        else if (waiting.length) { retries = 0; setOffline(false); }
      });
    }).catch(function () {
      setOffline(true);
      retryLater();
    }).then(function () {
      sending = false;
      if (sent) say(sent === 1 ? "1 change made offline was sent." : sent + " changes made offline were sent.");
      return show();
    });
  }

  function retryLater() {
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(sendAll, RETRY_MS[Math.min(retries, RETRY_MS.length - 1)]);
    retries += 1;
  }

  function sendAllOnce() {
    // One tab at a time sends (the others would only be answered the replay).
    if (navigator.locks) return navigator.locks.request("crm-outbox", sendAll);
    return sendAll();
  }

  window.addEventListener("online", function () {
    setOffline(false);
    retries = 0;
    sendAllOnce();
  });
  window.addEventListener("offline", function () { setOffline(true); });

  // --- The service worker --------------------------------------------------------------------
  function registerWorker() {
    var url = body.getAttribute("data-service-worker");
    if (!url || !("serviceWorker" in navigator)) return;
    var controlled = Boolean(navigator.serviceWorker.controller);
    navigator.serviceWorker.register(url).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      // Who the kept pages belong to; the first page, not fetched through the worker, is kept too.
      // A page rendered for nobody in particular (the offline page) says nothing.
      if (!body.hasAttribute("data-user")) return;
      registration.active.postMessage({type: "user", user: user, keep: !controlled});
    }).catch(function (error) {
      console.warn("Offline use is not available here:", error);
    });
  }

  document.addEventListener("submit", function (event) {
    // Logging out: the pages kept for this person go at once.
    if (event.target.getAttribute("action") !== body.getAttribute("data-logout") ||
        !navigator.serviceWorker) return;
    var worker = navigator.serviceWorker.controller;
    if (worker) worker.postMessage({type: "user", user: ""});
  });

  document.addEventListener("DOMContentLoaded", function () {
    body = document.body;
    user = body.getAttribute("data-user") || "";
    setOffline(!navigator.onLine);
    registerWorker();
    if (canQueue()) {
      show().then(function () { if (navigator.onLine) sendAllOnce(); });
    }
  });
})();
