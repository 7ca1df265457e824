// Live call detail: while the call is not disconnected, fetch its state, participants
// and timeline again every 2 s and swap them in, keeping opened payloads open.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function current() {
    return document.getElementById("call-live");
  }

  function openKeys(root) {
    var keys = {};
    root.querySelectorAll("details[open]").forEach(function (d) { keys[d.dataset.key] = true; });
    return keys;
  }

  function refresh() {
    var live = current();
    var url = live && live.dataset.refreshUrl;
    if (!url) return;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html.trim();
        var fresh = template.content.querySelector("#call-live");
        if (!fresh) return;
        var opened = openKeys(current());
        fresh.querySelectorAll("details").forEach(function (d) {
          if (opened[d.dataset.key]) d.open = true;
        });
        current().replaceWith(fresh);
      })
      .catch(function () { /* a missed refresh is retried on the next tick */ })
      .finally(function () {
        if (current() && current().dataset.refreshUrl) setTimeout(refresh, INTERVAL_MS);
      });
  }

  if (current() && current().dataset.refreshUrl) setTimeout(refresh, INTERVAL_MS);
})();
