// Live notification progress: while the notification is live, fetch the progress partial
// every 2 s and swap it in (short polling: no reload, nothing to reconnect).
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function current() {
    return document.getElementById("notification-live");
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
        var fresh = template.content.querySelector("#notification-live");
        if (!fresh) return;
        current().replaceWith(fresh);
        // The heading and the pause/cancel buttons sit outside the refreshed part: keep the
        // heading's status in step, and take the buttons away once it has ended.
        var status = fresh.querySelector("#live-status");
        var title = document.getElementById("title-status");
        if (status && title) title.textContent = "(" + status.textContent.trim() + ")";
        var controls = document.getElementById("live-controls");
        if (!fresh.dataset.refreshUrl && controls) controls.remove();
      })
      .catch(function () { /* a missed refresh is retried on the next tick */ })
      .finally(function () {
        if (current() && current().dataset.refreshUrl) setTimeout(refresh, INTERVAL_MS);
      });
  }

  if (current() && current().dataset.refreshUrl) setTimeout(refresh, INTERVAL_MS);
})();
