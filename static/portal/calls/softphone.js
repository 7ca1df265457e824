// The portal softphone: polls the identity's calls every second, answers, declines,
// hangs up, plays what the carrier plays to the call, and sends keypad presses.
(function () {
  "use strict";
  var root = document.getElementById("softphone");
  if (!root) return;

  var stateUrl = root.dataset.stateUrl;
  var legUrl = root.dataset.legUrl;
  var canAct = root.dataset.canAct === "1";
  var csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  var list = document.getElementById("softphone-legs");
  var status = document.getElementById("softphone-status");
  var audio = document.getElementById("softphone-audio");
  var keys = root.querySelectorAll(".keypad button");
  var activeLeg = null; // the connected leg the keypad and audio belong to
  var playing = null; // op_id of the media operation the audio element holds
  var busy = false;
  var notice = ""; // why the server refused the last action, shown for a few seconds
  var noticeUntil = 0;
  var shown = []; // leg ids on screen, to tell when a call ends
  var lastEnded = ""; // how the last call ended, while no call is on

  // DTMF row and column frequencies (ITU-T Q.23), as calls/media/dtmf.py has them.
  var ROWS = [697, 770, 852, 941];
  var COLUMNS = [1209, 1336, 1477, 1633];
  var KEYPAD = ["123A", "456B", "789C", "*0#D"];
  var tones = null;

  function frequencies(key) {
    for (var row = 0; row < KEYPAD.length; row++) {
      var column = KEYPAD[row].indexOf(key);
      if (column >= 0) return [ROWS[row], COLUMNS[column]];
    }
    return null;
  }

  function beep(key) {
    var pair = frequencies(key);
    if (pair) beepPair(pair, 0.15);
  }

  function beepPair(pair, seconds) {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    tones = tones || new Context();
    var gain = tones.createGain();
    gain.gain.value = 0.15;
    gain.connect(tones.destination);
    var end = tones.currentTime + seconds;
    pair.forEach(function (hz) {
      var oscillator = tones.createOscillator();
      oscillator.frequency.value = hz;
      oscillator.connect(gain);
      oscillator.start();
      oscillator.stop(end);
    });
  }

  function post(legId, fields) {
    var body = new URLSearchParams(fields);
    return fetch(legUrl.replace("00000000-0000-0000-0000-000000000000", legId), {
      method: "POST",
      headers: { "X-CSRFToken": csrf },
      credentials: "same-origin",
      body: body,
    }).then(function (response) {
      if (response.ok) return poll();
      return response.json().then(
        function (data) { tell(data.error ? data.error.message : "Refused."); },
        function () { tell("Refused (" + response.status + ")."); }
      );
    });
  }

  function tell(message) {
    notice = message;
    noticeUntil = Date.now() + 4000;
    status.textContent = message;
  }

  function button(label, className, legId, action) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = className;
    element.textContent = label;
    element.disabled = !canAct;
    element.addEventListener("click", function () { post(legId, { action: action }); });
    return element;
  }

  function text(tag, className, value) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    element.textContent = value;
    return element;
  }

  var LABELS = { ringing: "Ringing", calling: "Calling", connected: "Connected", on_hold: "On hold" };
  var title = document.title;
  var ringer = null; // the ring tone's interval while a call rings

  // A North American ring (440 + 480 Hz, 2 s on, 4 s off) and the tab's title say that a
  // call is ringing, even when the page is in another tab.
  function ring(on) {
    document.title = on ? "Ringing · " + title : title;
    if (on && ringer === null) {
      beepPair([440, 480], 2);
      ringer = window.setInterval(function () { beepPair([440, 480], 2); }, 6000);
    } else if (!on && ringer !== null) {
      window.clearInterval(ringer);
      ringer = null;
    }
  }

  function render(legs) {
    list.replaceChildren();
    activeLeg = null;
    legs.forEach(function (leg) {
      var item = document.createElement("li");
      item.className = leg.state;
      item.dataset.legId = leg.leg_id;
      item.appendChild(text("span", "state", LABELS[leg.state] || leg.state));
      var other = leg.other || "your app";
      item.appendChild(text("span", "", leg.direction === "incoming" ? "from " + other : "to " + other));
      // The member's identity this call is for (it rings whichever identity is selected).
      item.appendChild(text("span", "identity", (leg.direction === "incoming" ? "for " : "as ") + leg.identity));
      var link = text("a", "call-link", "call " + leg.call_id);
      link.href = leg.call_url;
      item.appendChild(link);
      item.appendChild(text("small", "hint", "serverCallId " + leg.server_call_id));
      var headers = Object.keys(leg.headers || {}).map(function (name) { return name + ": " + leg.headers[name]; });
      if (headers.length) item.appendChild(text("small", "hint headers", headers.join(" · ")));
      if (leg.state === "ringing") {
        item.appendChild(button("Answer", "answer", leg.leg_id, "answer"));
        item.appendChild(button("Decline", "hang-up", leg.leg_id, "hang_up"));
      } else {
        item.appendChild(button("Hang up", "hang-up", leg.leg_id, "hang_up"));
      }
      if (leg.state === "connected" && activeLeg === null) activeLeg = leg;
      list.appendChild(item);
    });
    var ended = shown.filter(function (id) {
      return !legs.some(function (leg) { return leg.leg_id === id; });
    });
    shown = legs.map(function (leg) { return leg.leg_id; });
    if (ended.length) {
      if (!legs.length) tell("Call ended.");
      refreshRecent(!legs.length);
    }
    if (legs.length) lastEnded = "";
    ring(legs.some(function (leg) { return leg.state === "ringing"; }));
    if (Date.now() < noticeUntil) status.textContent = notice;
    else status.textContent = legs.length ? "" : lastEnded || "No calls right now.";
    keys.forEach(function (key) { key.disabled = !canAct || activeLeg === null; });
    listen(activeLeg && activeLeg.media);
  }

  function listen(media) {
    if (!media) {
      if (playing !== null) audio.pause();
      playing = null;
      return;
    }
    if (media.op_id === playing) return;
    playing = media.op_id;
    audio.loop = media.loop;
    audio.src = media.audio_url;
    audio.dataset.opId = media.op_id;
    audio.play().catch(function () { /* autoplay refused: the controls still work */ });
  }

  function poll() {
    if (busy) return Promise.resolve();
    busy = true;
    return fetch(stateUrl, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) render(data.legs); })
      .catch(function () { status.textContent = "Cannot reach the server; retrying."; })
      .finally(function () { busy = false; });
  }

  keys.forEach(function (key) {
    key.addEventListener("click", function () {
      if (!activeLeg) return;
      beep(key.dataset.key);
      post(activeLeg.leg_id, { action: "press", key: key.dataset.key });
    });
  });

  // The recent calls table, re-read from the page itself (it says how each call ended);
  // after the last call ends, the status line says how the newest one ended until the
  // next call comes.
  function refreshRecent(sayHow) {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("table.recent-calls tbody");
        var current = document.querySelector("table.recent-calls tbody");
        if (fresh && current) current.replaceWith(fresh);
        var how = fresh && fresh.querySelector("tr td.ended");
        if (sayHow && how) {
          lastEnded = "Call ended: " + how.textContent.trim() + ".";
          status.textContent = lastEnded;
        }
      })
      .catch(function () { /* the next ended call tries again */ });
  }

  // The keyboard's 0-9, * and # press the keypad (not while typing into a field).
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest && event.target.closest("input, select, textarea")) return;
    var key = root.querySelector('.keypad button[data-key="' + CSS.escape(event.key) + '"]');
    if (key && !key.disabled) {
      event.preventDefault();
      key.click();
    }
  });

  poll();
  window.setInterval(poll, 1000);
})();
