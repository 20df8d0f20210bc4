/* Field-sales CRM offline: installs the service worker (static/js/sw.js), shows the offline
   banner, and keeps what a rep does with no signal in an outbox (IndexedDB) until it is sent.

   With no signal, logging a visit, marking a planned activity done and marking a task done are
   queued (forms marked data-offline) with an Idempotency-Key made here, and sent to the API in
   the order they were made when the signal returns and on the next page load. A send whose
   answer is lost is sent again with the same key: the server answers the first result instead
   of writing twice. A refusal (4xx) stays on its item with the reason until it is discarded.
   An entry that is not one of ours (corrupt, another person's) is never sent. A supervisor's
   day is saved the same way (the supervision section). */
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
      fields: ["status"]},
    // A supervision day's save, posted as the day page posts it (see the supervision section).
    "day-save": {method: "POST", url: function (day) { return "/supervision/routes/" + day + "/save/"; },
      fields: /^((visited|qty|reason|note|base)-\d{1,19}|record_version|client_token|action)$/}
  };
  var DAY_TARGET = /^\d{1,19}\/\d{4}-\d\d-\d\d$/;

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
    var fields = KINDS[item.kind].fields;
    if (item.kind === "day-save" ? !DAY_TARGET.test(item.target) :
        item.kind !== "visit" && !(Number.isInteger(item.target) && item.target > 0)) return false;
    return Object.keys(item.body).every(function (name) {
      var value = item.body[name];
      return (fields.test ? fields.test(name) : fields.indexOf(name) >= 0) &&
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
      reapply(items);
      items.forEach(function (item) {
        var row = element("li", "outbox-item" + (item.reason ? " outbox-refused" : ""));
        row.appendChild(element("span", "outbox-label", item.label));
        row.appendChild(element("span", "badge" + (item.reason ? " badge-bad" : ""),
          item.conflict ? CHANGED_MEANWHILE : item.reason ? "Refused" : "Waiting to be sent"));
        if (item.reason) {
          row.appendChild(element("p", "outbox-reason", item.reason));
          if (item.conflict) row.appendChild(mergeButton(item));
          var discard = element("button", "btn btn-small", "Discard");
          discard.type = "button";
          discard.setAttribute("data-discard", String(item.id));
          discard.setAttribute("aria-label", "Discard: " + item.label);
          row.appendChild(discard);
        }
        list.appendChild(row);
      });
      markPending(items);
      pendingVisits(items);
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

  function pendingVisits(items) {
    // A rep's activity list: the visits logged with no signal, on top, until they are sent.
    var list = document.querySelector("#activity-list tbody");
    if (!list) return;
    list.querySelectorAll(".outbox-visit").forEach(function (row) { row.remove(); });
    var empty = list.querySelector(".empty-row");
    items.filter(function (item) { return item.kind === "visit" && !item.reason; }).forEach(function (item) {
      var row = element("tr", "outbox-pending outbox-visit");
      var cells = [item.label + (item.body.notes ? ": " + item.body.notes : ""),
        (item.body.due_at || "").slice(0, 16).replace("T", " ") + " " + (item.body.due_at || "").slice(19)];
      ["", "Due", "Customer", "Rep", "Status", ""].forEach(function (label, index) {
        if (label === "Rep" && list.parentNode.querySelectorAll("thead th").length < 6) return;
        var cell = row.appendChild(element("td", "", cells[index]));
        if (label) cell.setAttribute("data-label", label);
        if (label === "Customer") cell.textContent = item.label.split(": ").slice(1).join(": ");
        if (label === "Status") cell.appendChild(element("span", "badge badge-warn outbox-mark", "Pending: will be sent"));
      });
      list.insertBefore(row, list.firstChild);
    });
    if (empty) empty.hidden = Boolean(list.querySelector(".outbox-visit"));
  }
  document.addEventListener("htmx:afterSwap", function () {
    if (document.getElementById("activity-list")) show();
  });

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
    if (item.kind === "day-save") return sendDay(item, false);
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
      if (dayReload) return window.location.reload();
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

  // --- Supervision: a route's day with no signal ---------------------------------------------
  /* The day page (#day-form[data-offline-day]) works with no signal: each line is checked here
     with the rules' own numbers and messages (the page's JSON block from supervision.rules, not
     a second copy), the figures follow, and Save keeps the day's save (the changed lines, their
     bases, record_version, client_token) in the outbox: one per day, the latest replacing a
     waiting one. Sent, it is the page's own post: a 409 the server merged with no clash (its
     merge page) is sent again from that page, once; a clash opens that merge page; a day that
     became read-only keeps the server's reason until discarded. */
  var CHANGED_MEANWHILE = "Changed by someone else meanwhile";
  var DAY_KEPT = "Saved on this phone: will be sent when you're back.";
  var dayReload = false;

  function dayForm() { return document.querySelector("#day-form[data-offline-day]"); }

  function lineIds(form) {
    return Array.prototype.map.call(form.querySelectorAll("input[name^='base-']"), function (input) {
      return input.name.slice(5);
    });
  }

  function field(form, name, id) { return form.querySelector("[name='" + name + "-" + id + "']"); }

  function readLine(form, id) {
    // [visited, quantity as typed, reason, note], as a base holds them; null for a line being chosen.
    var qty = field(form, "qty", id), visited = field(form, "visited", id);
    var reason = field(form, "reason", id), note = field(form, "note", id);
    if (!qty || !visited || !reason || !note || visited.type !== "checkbox") return null;
    return [visited.checked, qty.value.trim(), reason.value, note.value];
  }

  function baseOf(form, id) {
    try { return JSON.parse(field(form, "base", id).value); } catch (error) { return null; }
  }

  function changedLines(form, action) {
    // What the page posts for the lines that differ from their base, and what it names besides.
    var body = {record_version: form.querySelector("[name=record_version]").value,
      client_token: form.querySelector("[name=client_token]").value, action: action};
    lineIds(form).forEach(function (id) {
      var now = readLine(form, id), base = baseOf(form, id);
      if (!now || (base && base[0] === now[0] && String(base[1]) === now[1] &&
          base[2] === now[2] && base[3] === now[3].trim())) return;
      if (now[0]) body["visited-" + id] = "on";
      body["qty-" + id] = now[1];
      body["reason-" + id] = now[2];
      body["note-" + id] = now[3];
      body["base-" + id] = field(form, "base", id).value;
    });
    return body;
  }

  var ruleBook = null;
  function rulesOf() {
    if (!ruleBook) {
      try { ruleBook = JSON.parse(document.getElementById("supervision-rules").textContent); }
      catch (error) { ruleBook = {}; }
    }
    return ruleBook;
  }

  function quantity(raw) {
    // supervision.rules.clean_quantity: [whole number, notice] or [null, error].
    // Whole or not is read from the digits (as Python's Decimal does), never from a float.
    var r = rulesOf();
    if (!raw) return [0, ""];
    raw = raw.replace(/(\d)_(?=\d)/g, "$1");
    var parts = /^[+-]?(\d*)\.?(\d*)(?:e([+-]?\d+))?$/i.exec(raw);
    if (!parts || !(parts[1] + parts[2]) || /^[+-]?\.?e/i.test(raw)) return [null, r.notWhole];
    var point = parts[1].length + Number(parts[3] || 0);
    if (/[1-9]/.test((parts[1] + parts[2]).slice(Math.max(point, 0)))) return [null, r.notWhole];
    var number = /[1-9]/.test(parts[1] + parts[2]) ? Number(raw) : 0;
    if (number < 0) return [0, r.reset];
    if (number > r.maxQuantity) return [null, r.tooLarge];
    return [number, ""];
  }

  function checkLine(form, id, quiet) {
    // The page's line check (supervision.rules.apply_change): messages on the line; true if none refuse it.
    var r = rulesOf(), now = readLine(form, id);
    var box = document.getElementById("line-" + id + "-messages");
    if (!now || !box) return true;
    var qty = field(form, "qty", id), visited = field(form, "visited", id);
    var said = quantity(now[1]), errors = [], notices = [];
    if (said[0] === null) errors.push(said[1]);
    else {
      if (said[1]) notices.push(said[1]);
      qty.value = String(said[0]);
      if (said[0] > 0 && !visited.checked) { visited.checked = true; notices.push(r.markedVisited); }
      if (now[2] && visited.checked && said[0] > 0) errors.push(r.reasonForMisses);
      else if (now[2] === r.other && !now[3].trim()) errors.push(r.noteForOther);
    }
    if (now[3].trim().length > r.noteLength) errors.push(r.noteTooLong);
    qty.toggleAttribute("aria-invalid", said[0] === null);
    if (quiet && !errors.length) return true;  // what the line said when it was changed stays
    box.textContent = "";
    errors.forEach(function (text) {
      box.appendChild(element("p", "error", text)).setAttribute("role", "alert");
    });
    notices.forEach(function (text) {
      box.appendChild(element("p", "line-notice", text)).setAttribute("role", "status");
    });
    return errors.length === 0;
  }

  function hundredths(part, whole) { return whole ? Math.floor(part * 10000 / whole + 0.5) : 0; }
  function decimal(value) { return value % 100 ? (value / 100).toFixed(2) : String(value / 100); }

  function showFigures(form) {
    // supervision.rules.figures, written where the page shows them (data-fig).
    var f = {customers_visited: 0, productive_stops: 0, actual_total: 0, unvisited_stops: 0};
    var planned = 0, stops = 0;
    lineIds(form).forEach(function (id) {
      var now = readLine(form, id), base = baseOf(form, id), cell = document.querySelector(
        "#line-" + id + " td[data-label=Planned]");
      var qty = now ? quantity(now[1])[0] : null;
      if (qty === null) qty = base ? base[1] : 0;
      var visited = now ? now[0] : Boolean(base && base[0]);
      stops += 1;
      planned += cell ? Number(cell.textContent) || 0 : 0;
      f.customers_visited += visited ? 1 : 0;
      f.productive_stops += visited && qty > 0 ? 1 : 0;
      f.actual_total += qty;
    });
    var group = new Intl.NumberFormat("en-US");
    f.zero_sale_visits = f.customers_visited - f.productive_stops;
    f.unvisited_stops = stops - f.customers_visited;
    f.visit_compliance = decimal(hundredths(f.customers_visited, stops));
    f.strike_rate = decimal(hundredths(f.productive_stops, stops));
    f.achievement_percent = decimal(Math.min(hundredths(f.actual_total, planned), 99999999));
    f.gap = group.format(planned - f.actual_total);
    f.drop_size = f.productive_stops ? group.format(hundredths(f.actual_total, f.productive_stops * 100) / 100) : "0";
    f.actual_total = group.format(f.actual_total);
    document.querySelectorAll("[data-fig]").forEach(function (node) {
      node.textContent = String(f[node.getAttribute("data-fig")]);
    });
  }

  function checkDay(form) {
    var fine = lineIds(form).map(function (id) { return checkLine(form, id, true); });
    showFigures(form);
    return fine.indexOf(false) < 0;
  }

  function isOffline() { return offline || !navigator.onLine; }

  document.addEventListener("change", function (event) {
    var form = dayForm();
    if (!form || !isOffline() || !form.contains(event.target)) return;
    var id = (event.target.name || "").split("-")[1];
    if (id) { checkLine(form, id); showFigures(form); }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    // No signal: the line is checked here instead, reviews wait.
    var form = dayForm();
    if (form && isOffline() && form.contains(event.detail.elt)) event.preventDefault();
  });

  document.addEventListener("htmx:sendError", function (event) {
    var form = dayForm(), id = (event.detail.elt.name || "").split("-")[1];
    if (!form || !form.contains(event.detail.elt) || !id) return;
    setOffline(true);
    checkLine(form, id);
    showFigures(form);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form !== dayForm() || !canQueue() || !isOffline()) return;
    event.preventDefault();
    event.stopPropagation();
    var dialog = document.querySelector(".confirm-save");
    if (dialog) dialog.open = false;
    if (!checkDay(form)) {
      var bad = form.querySelector("[aria-invalid], .line-messages .error");
      if (bad) bad.scrollIntoView({block: "center"});
      return say("A line needs fixing first: nothing was kept.");
    }
    var target = form.getAttribute("data-offline-day");
    var item = {kind: "day-save", key: crypto.randomUUID(), user: user, target: target,
      label: form.getAttribute("data-title"), queuedAt: new Date().toISOString(),
      body: changedLines(form, event.submitter && event.submitter.value === "save" ? "save" : "draft")};
    // A token of its own: a kept page opened again would offer one already sent, which the
    // server would answer as that write, applied already.
    item.body.client_token = crypto.randomUUID();
    outbox().then(function (items) {
      var waiting = items.filter(function (old) {
        return old.kind === "day-save" && old.target === target && !old.reason;
      })[0];
      if (waiting) item.id = waiting.id;
      return store("readwrite", function (objects) { objects.put(item); });
    }).then(function () {
      say(item.label + " \u2014 " + DAY_KEPT);
      return show();
    });
  }, true);

  var reapplied = false;
  function reapply(items) {
    // The day's save waiting in the outbox, on the day again (a reload with no signal).
    var form = dayForm();
    if (!form || reapplied) return;
    reapplied = true;
    items.forEach(function (item) {
      if (item.kind !== "day-save" || item.reason || item.target !== form.getAttribute("data-offline-day") ||
          item.body.record_version !== form.querySelector("[name=record_version]").value) return;
      lineIds(form).forEach(function (id) {
        if (!(("qty-" + id) in item.body) || !readLine(form, id)) return;
        field(form, "visited", id).checked = ("visited-" + id) in item.body;
        field(form, "qty", id).value = item.body["qty-" + id];
        field(form, "reason", id).value = item.body["reason-" + id];
        field(form, "note", id).value = item.body["note-" + id];
      });
      checkDay(form);
      say(item.label + " \u2014 " + DAY_KEPT);
    });
  }

  function sendDay(item, merged) {
    var form = new URLSearchParams();
    Object.keys(item.body).forEach(function (name) { form.append(name, item.body[name]); });
    return fetch(KINDS["day-save"].url(item.target), {method: "POST", credentials: "same-origin",
      headers: {"X-CSRFToken": csrfToken()}, body: form}).then(function (response) {
      if (response.ok && response.redirected &&
          new URL(response.url).pathname === "/supervision/routes/" + item.target + "/") {
        var form = dayForm();
        dayReload = dayReload || Boolean(form && form.getAttribute("data-offline-day") === item.target);
        return store("readwrite", function (objects) { objects.delete(item.id); }).then(function () {
          return "sent";
        });
      }
      if ([400, 403, 404, 409].indexOf(response.status) < 0) return "later";
      return response.text().then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var day = page.getElementById("day-form");
        var readOnly = page.querySelector(".badge-readonly");
        // Refused, but not by the day (a form token from before signing in again): later, as it is.
        if (response.status === 403 && !day) return "later";
        item.conflict = response.status === 409 && !readOnly;
        if (item.conflict && day && !merged && !page.querySelector("[name^='conflict-'], #attention li")) {
          // Put together with theirs, nothing to choose: what is still ours, at their version.
          item.body = changedLines(day, item.body.action);
          delete item.conflict;
          return store("readwrite", function (objects) { objects.put(item); }).then(function () {
            return sendDay(item, true);
          });
        }
        var why = page.querySelector(readOnly ? "p.notice" : day ? "#attention" : ".panel p");
        item.reason = item.conflict ? "Both of you changed a line: open the merge to choose what to keep." :
          (why && why.textContent.replace(/\s+/g, " ").trim()) || "Refused (" + response.status + ").";
        return store("readwrite", function (objects) { objects.put(item); }).then(function () {
          return "refused";
        });
      });
    });
  }

  function mergeButton(item) {
    // The day's own merge page: the queued save posted as the page posts it.
    var button = element("button", "btn btn-small btn-primary", "Open the merge");
    button.type = "button";
    button.addEventListener("click", function () {
      if (isOffline()) return say("The merge opens when you're back.");
      var form = element("form");
      form.method = "post";
      form.action = KINDS["day-save"].url(item.target);
      form.hidden = true;
      item.body.csrfmiddlewaretoken = csrfToken();
      item.body.action = "draft";
      Object.keys(item.body).forEach(function (name) {
        var input = element("input");
        input.type = "hidden";
        input.name = name;
        input.value = item.body[name];
        form.appendChild(input);
      });
      document.body.appendChild(form);
      // The merge page holds these changes now: the outbox need not.
      store("readwrite", function (objects) { objects.delete(item.id); }).then(function () {
        form.submit();
      });
    });
    return button;
  }

  document.addEventListener("click", function (event) {
    // The supervision index: today's and yesterday's days kept for offline, in one tap.
    var button = event.target.closest("[data-keep-days]");
    if (!button || !navigator.serviceWorker) return;
    var status = document.getElementById("keep-days-status");
    navigator.serviceWorker.ready.then(function (registration) {
      var channel = new MessageChannel();
      channel.port1.onmessage = function (answer) {
        status.textContent = "Kept for offline: " + answer.data.kept + " of " + answer.data.asked + " days.";
      };
      registration.active.postMessage({type: "keep", urls: button.getAttribute("data-keep-days").split(" ")},
        [channel.port2]);
    });
  });

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
