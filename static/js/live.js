// One websocket per page (/ws/live/?topics=...). Messages are {type, id, html}: the server
// renders the same partials the page uses, so the page only places them. Every message is
// also a "live:message" event on document, and "live:open" / "live:close" tell pages (the
// canvas editor) when the socket (re)connects or drops.
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

export function connectLive(topics, attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/live/?topics=${topics.join(",")}`);
  socket.addEventListener("open", () => {
    attempt = 0;
    document.documentElement.dataset.live = "connected";
    document.dispatchEvent(new CustomEvent("live:open"));
  });
  socket.addEventListener("message", (event) => {
    const msg = JSON.parse(event.data);
    handlers[msg.type]?.(msg);
    document.dispatchEvent(new CustomEvent("live:message", { detail: msg }));
  });
  socket.addEventListener("close", (event) => {
    document.documentElement.dataset.live = "closed";
    document.dispatchEvent(new CustomEvent("live:close", { detail: { code: event.code } }));
    if (event.code >= 4400 && event.code < 4500) return; // not allowed: do not hammer the server
    setTimeout(() => connectLive(topics, attempt + 1), Math.min(10000, 500 * 2 ** attempt));
  });
  return socket;
}
