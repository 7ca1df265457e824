// Live lists (issue 17 item 9): an element with an id and `data-live-url` (a list's tbody
// on its newest page, the dashboard's figures) is fetched again every few seconds and
// swapped for the element with the same id in the answer. The URL is the page's own with
// `live=1`, so the filters stay; the server answers only the fragment, and the access log
// leaves these polls out (callauto/access_log.py). Paused while the tab is hidden.
(function () {
  "use strict";
  var INTERVAL_MS = 3000;

  function refresh(id) {
    var node = document.getElementById(id);
    if (!node || !node.dataset.liveUrl) return;
    if (document.hidden) {
      setTimeout(function () { refresh(id); }, INTERVAL_MS);
      return;
    }
    fetch(node.dataset.liveUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html.trim();
        var fresh = template.content.getElementById(id);
        var current = document.getElementById(id);
        // Text being selected (to copy an id) would be lost by the swap: skip this tick.
        if (!fresh || !current || window.getSelection().toString()) return;
        // portal.js adds column labels and row links to the rows on screen: the fetched
        // rows get the same before they are compared, or they would always differ.
        if (window.portalPrepareLike) window.portalPrepareLike(fresh, current);
        if (fresh.innerHTML !== current.innerHTML) current.replaceWith(fresh);
      })
      .catch(function () { /* a missed refresh is retried on the next tick */ })
      .finally(function () { setTimeout(function () { refresh(id); }, INTERVAL_MS); });
  }

  document.querySelectorAll("[data-live-url][id]").forEach(function (node) {
    setTimeout(function () { refresh(node.id); }, INTERVAL_MS);
  });
})();
