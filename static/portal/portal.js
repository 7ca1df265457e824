// The shell's small behaviours, on every page: copy buttons (`data-copy="#selector"`),
// a confirm step before destructive actions (`data-confirm="..."` on the button or form),
// the sidebar's menu button on narrow screens.
"use strict";
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("button.menu-toggle");
  if (!toggle) return;
  const sidebar = document.getElementById(toggle.getAttribute("aria-controls"));
  const open = sidebar.classList.toggle("open");
  toggle.setAttribute("aria-expanded", String(open));
});

// A list's whole row opens its item (easier to hit on a phone than the one link in it);
// links, buttons, players and form fields in the row keep their own behaviour.
document.addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-href]");
  const own = "a, button, input, select, textarea, label, audio, video, summary, form";
  if (!row || event.target.closest(own)) return;
  if (window.getSelection().toString()) return; // selecting text to copy is not a click
  window.location.assign(row.dataset.href);
});

// A play button (`data-play="<audio url>"`) plays what it names, e.g. a reminder prompt,
// in an audio player put after it (fetched afresh each time: the prompt may have changed).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-play]");
  if (!button) return;
  let player = button.nextElementSibling;
  if (!player || player.tagName !== "AUDIO") {
    player = document.createElement("audio");
    player.controls = true;
    player.className = "preview";
    button.after(player);
  }
  player.src = `${button.dataset.play}${button.dataset.play.includes("?") ? "&" : "?"}t=${Date.now()}`;
  player.play().catch(() => { /* autoplay refused: the controls still play it */ });
});

document.addEventListener("submit", (event) => {
  const question = event.submitter?.dataset.confirm || event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.textContent.trim();
  const done = () => {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  };
  // The clipboard API needs a secure context; select the text otherwise so Ctrl-C works.
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => select(source));
  } else {
    select(source);
  }
});

function select(node) {
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

// Lists (tables of three columns or more, unless `no-fold`): each cell learns its column's
// name (`data-label`), so on narrow screens the stylesheet folds the secondary columns
// under the first as "name: value" lines; and a row with a link to open becomes a whole-row
// link (the first link that is not a download), as Calls and Appointments mark by hand.
// Rows that arrive later (live lists replace a tbody) are prepared as they come.
function columnNames(table) {
  return Array.from(table.querySelectorAll("thead th"), (th) => {
    const copy = th.cloneNode(true);
    copy.querySelectorAll("small").forEach((hint) => hint.remove()); // "(Europe/Berlin)"
    return copy.textContent.trim();
  });
}

function prepareRows(names, rows) {
  rows.forEach((row) => {
    let column = 0;
    Array.from(row.cells).forEach((cell) => {
      if (names[column] && !cell.dataset.label) cell.dataset.label = names[column];
      column += cell.colSpan || 1;
    });
    if (row.dataset.href) return;
    const link = Array.from(row.querySelectorAll("a[href]")).find(
      (a) => !a.hasAttribute("download") && !a.closest("form") && !a.getAttribute("href").startsWith("#")
    );
    if (link) {
      row.dataset.href = link.getAttribute("href"); // as written: rows fetched live compare equal
      row.classList.add("row-link");
    }
  });
}

function prepareTable(table) {
  if (table.classList.contains("no-fold")) return;
  const names = columnNames(table);
  if (names.length < 3) return;
  table.classList.add("folds");
  prepareRows(names, table.querySelectorAll("tbody tr"));
}

// live_list.js prepares a fetched tbody as the one it may replace was, so that the two
// compare equal when nothing changed (and the rows on screen are left alone).
window.portalPrepareLike = (fresh, current) => {
  const table = current.closest("table");
  if (table && table.classList.contains("folds")) {
    prepareRows(columnNames(table), fresh.querySelectorAll("tr"));
  }
};

function prepareTables(root) {
  root.querySelectorAll("main table").forEach(prepareTable);
}

prepareTables(document);
new MutationObserver((changes) => {
  const tables = new Set();
  changes.forEach((change) => change.addedNodes.forEach((node) => {
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    const table = node.closest("table") || (node.tagName === "TABLE" ? node : null);
    if (table) tables.add(table);
    node.querySelectorAll?.("table").forEach((inner) => tables.add(inner));
  }));
  tables.forEach(prepareTable);
}).observe(document.body, { childList: true, subtree: true });
