// One websocket per page (/ws/live/?topics=...). Messages are {type, id, html}: the server
// renders the same partials the page uses, so the page only places them. Every message is
// also a "live:message" event on document, and "live:open" / "live:close" tell pages (the
// canvas editor, the inbox) when the socket (re)connects or drops; `live:open` has
// detail.reconnected when an earlier socket had dropped, so the page fetches what it missed.
// html[data-live] is "connecting", "connected" or "closed". A "live:drop" event closes the
// socket on purpose (detail.pauseMs keeps it down that long): the inbox's "Reconnect" control
// and the resync test use it.
const handlers = {
  "contact.created": (msg) => placeRow(msg, true),
  "contact.updated": (msg) => placeRow(msg, false),
  "contact.deleted": (msg) => document.getElementById(`contact-${msg.id}`)?.remove(),
  "contacts.imported": (msg) => showBanner(msg.html),
  "contacts.changed": () => refreshList(),
};

// A batch wrote many contacts (the batch APIs): the server sends one notice, and the open list
// is fetched again once, with its filters and page, instead of placing a row per contact.
function refreshList() {
  const results = document.querySelector("[data-live-topic='contacts'] #results");
  if (!results || !window.htmx) return;
  window.htmx.ajax("GET", location.pathname + location.search, { target: "#results", swap: "outerHTML" });
}

function placeRow(msg, isNew) {
  const body = document.querySelector("[data-live-topic='contacts'] tbody[data-live-rows]");
  if (!body) return;
  const existing = document.getElementById(`contact-${msg.id}`);
  const holder = document.createElement("tbody");
  holder.innerHTML = msg.html.trim();
  const row = holder.firstElementChild;
  if (!row) return;
  row.classList.add("flash");
  if (existing) existing.replaceWith(row);
  else if (isNew && body.dataset.liveRows === "prepend") {
    body.querySelector(".empty-row")?.remove();
    body.prepend(row);
  }
  if (window.htmx) window.htmx.process(row);
}

function showBanner(html) {
  const slot = document.getElementById("live-banner");
  if (slot) slot.innerHTML = html;
}

let current = null;
let dropped = false; // a socket of this page has closed before: the next open is a reconnect

document.addEventListener("live:drop", (event) => {
  const socket = current;
  if (!socket) return;
  socket.pauseMs = event.detail?.pauseMs ?? 0;
  socket.close(4000, "dropped by the page");
});

export function connectLive(topics, attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/live/?topics=${topics.join(",")}`);
  current = socket;
  document.documentElement.dataset.live = attempt ? "closed" : "connecting";
  socket.addEventListener("open", () => {
    attempt = 0;
    document.documentElement.dataset.live = "connected";
    document.dispatchEvent(new CustomEvent("live:open", { detail: { reconnected: dropped } }));
  });
  socket.addEventListener("message", (event) => {
    const msg = JSON.parse(event.data);
    handlers[msg.type]?.(msg);
    document.dispatchEvent(new CustomEvent("live:message", { detail: msg }));
  });
  socket.addEventListener("close", (event) => {
    if (current !== socket) return;
    dropped = true;
    document.documentElement.dataset.live = "closed";
    document.dispatchEvent(new CustomEvent("live:close", { detail: { code: event.code } }));
    if (event.code >= 4400 && event.code < 4500) return; // not allowed: do not hammer the server
    const wait = socket.pauseMs ?? Math.min(10000, 500 * 2 ** attempt);
    setTimeout(() => connectLive(topics, attempt + 1), wait);
  });
  return socket;
}
