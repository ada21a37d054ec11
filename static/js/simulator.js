// The phone simulator's live behaviour. live.js (loaded by app.js) owns the websocket and
// dispatches a `live:message` event per message; this module places the server-rendered
// bubbles and ticks for the contact on screen, switches phones, and sends "read" receipts.
const root = () => document.getElementById("simulator");

function current() {
  const el = root();
  return el ? { contact: el.dataset.contact, kind: el.dataset.kind } : null;
}

function placeBubble(msg) {
  const list = document.getElementById(`bubbles-${msg.kind}`);
  if (!list) return;
  const holder = document.createElement("div");
  holder.innerHTML = msg.html.trim();
  const bubble = holder.firstElementChild;
  if (!bubble) return;
  const existing = document.getElementById(bubble.id);
  if (existing) existing.replaceWith(bubble);
  else {
    list.querySelector(".empty-phone")?.remove();
    list.append(bubble);
    bubble.classList.add("flash");
  }
  if (window.htmx) window.htmx.process(bubble);
  list.scrollTop = list.scrollHeight;
  const phone = document.getElementById(`phone-${msg.kind}`);
  if (phone?.hidden) document.querySelector(`#tab-${msg.kind} .unread`)?.removeAttribute("hidden");
  else if (bubble.classList.contains("from-business")) markRead(msg.kind);
}

function placeTicks(items) {
  for (const item of items) {
    const ticks = document.querySelector(`#bubble-${item.id} .ticks`);
    if (!ticks) continue;
    ticks.innerHTML = item.html;
    ticks.dataset.status = item.status;
    ticks.title = item.status;
  }
}

let readTimer = null;
function markRead(kind) {
  const state = current();
  if (!state?.contact) return;
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const body = new URLSearchParams({ contact: state.contact, kind });
    const token = document.querySelector("[name=csrfmiddlewaretoken]")?.value ?? "";
    fetch(root().dataset.readUrl, { method: "POST", body, headers: { "X-CSRFToken": token } });
  }, 600);
}

function show(kind) {
  const el = root();
  if (!el) return;
  el.dataset.kind = kind;
  document.querySelectorAll(".phone-tabs [role=tab]").forEach((tab) => {
    tab.setAttribute("aria-selected", String(tab.dataset.kind === kind));
  });
  document.querySelectorAll(".phone").forEach((phone) => {
    phone.hidden = phone.dataset.kind !== kind;
  });
  document.querySelector(`#tab-${kind} .unread`)?.setAttribute("hidden", "");
  const list = document.getElementById(`bubbles-${kind}`);
  if (list) list.scrollTop = list.scrollHeight;
  const kindField = document.querySelector("#sim-send [name=kind]");
  if (kindField) kindField.value = kind;
  const shown = document.querySelector("#sim-send [name=shown_kind]");
  if (shown) shown.value = kind;
  history.replaceState(null, "", `?contact=${el.dataset.contact}&kind=${kind}`);
  if (list?.querySelector(".from-business .ticks:not([data-status=read])")) markRead(kind);
}

document.addEventListener("click", (event) => {
  const tab = event.target.closest(".phone-tabs [role=tab]");
  if (!tab) return;
  event.preventDefault();
  show(tab.dataset.kind);
});

document.addEventListener("live:message", (event) => {
  const msg = event.detail;
  const state = current();
  if (!state?.contact) return;
  if (msg.type === "sim.message" && String(msg.contact) === state.contact) placeBubble(msg);
  else if (msg.type === "sim.status") placeTicks(msg.statuses.filter((s) => String(s.contact) === state.contact));
  else if (msg.type === "sim.refresh" && msg.contacts.map(String).includes(state.contact) && window.htmx) {
    window.htmx.ajax("GET", `?contact=${state.contact}&kind=${root().dataset.kind}`, { target: "#phones", swap: "outerHTML" });
  }
});

document.addEventListener("htmx:afterSwap", (event) => {
  const list = event.detail.target;
  if (list?.classList?.contains("bubbles")) {
    list.querySelector(".empty-phone")?.remove();
    const seen = new Set(); // a live event may have placed the same bubble first
    list.querySelectorAll(".bubble").forEach((bubble) => {
      if (seen.has(bubble.id)) bubble.remove();
      else seen.add(bubble.id);
    });
    list.scrollTop = list.scrollHeight;
  }
});

document.addEventListener("DOMContentLoaded", () => {
  const state = current();
  if (state?.contact) show(state.kind);
});
