/* Field-sales CRM tracker: include it with your key, and it sends a page view; call
   crmTracker.track("signup", {plan: "pro"}) for anything else. Events are sent in batches,
   the last ones with sendBeacon as the page goes away; a failed send is tried once more.
   Nothing is sent when the browser asks not to be tracked (Do Not Track, Global Privacy
   Control). No cookies, no dependencies. A browser that announces itself as a bot (a headless
   one running the site's tests) has its events stored flagged, or dropped: with the attribute
   data-skip-bot-filter they count as a person's. */
(function () {
  "use strict";
  var script = document.currentScript;
  var key = script && script.getAttribute("data-key");
  if (!key || window.crmTracker) return;
  var endpoint = script.src.replace(/\/t\/tracker\.js(\?.*)?$/, "") + "/t/batch?key=" + encodeURIComponent(key);
  var skipBotFilter = script.hasAttribute("data-skip-bot-filter");
  var optedOut = navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl === true;
  var queue = [], timer = null, memorySession = null;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 3 | 8)).toString(16);
    });
  }

  // An event's id: a UUIDv7 (the millisecond first), so that the server's index of event ids
  // grows at its edge.
  function eventId() {
    var random = uuid().replace(/-/g, "");
    var millis = ("000000000000" + Date.now().toString(16)).slice(-12);
    return millis + "7" + random.slice(13, 16) + random.slice(16);
  }

  function sessionId() {
    try {
      var id = sessionStorage.getItem("crm_session");
      if (!id) { id = uuid(); sessionStorage.setItem("crm_session", id); }
      return id;
    } catch (e) {
      return memorySession || (memorySession = uuid());
    }
  }

  function send(events, again, beacon) {
    var batch = {batch: events, sent_at: new Date().toISOString()};
    if (skipBotFilter) batch.skip_bot_filter = true;
    var body = JSON.stringify(batch);
    // text/plain: a "simple" request, no CORS preflight.
    if (beacon && navigator.sendBeacon && navigator.sendBeacon(endpoint, new Blob([body], {type: "text/plain"}))) return;
    if (!window.fetch) return;
    fetch(endpoint, {method: "POST", body: body, headers: {"Content-Type": "text/plain"}, keepalive: true, credentials: "omit"})
      .then(function (answer) { if (answer.status >= 500 && again) send(events, false, false); })
      .catch(function () { if (again) setTimeout(function () { send(events, false, false); }, 1000); });
  }

  function flush(beacon) {
    if (timer) { clearTimeout(timer); timer = null; }
    while (queue.length) send(queue.splice(0, 500), true, beacon);
  }

  function track(type, props) {
    if (optedOut || typeof type !== "string") return;
    queue.push({
      evt_type: type, uuid: eventId(), timestamp: new Date().toISOString(), session_id: sessionId(),
      url: location.href, referrer: document.referrer || undefined, props: props || {}
    });
    if (!timer) timer = setTimeout(function () { timer = null; flush(false); }, 1000);
  }

  window.crmTracker = {track: track, flush: function () { flush(false); }};
  track("page_view", {title: document.title, screen: screen.width + "x" + screen.height, language: navigator.language});
  addEventListener("pagehide", function () { flush(true); });
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(true); });
})();
