// The agent inbox (docs/inbox.md). live.js owns the websocket (topic "inbox"); this module places
// the server-rendered rows and timeline entries it brings, keeps the connection state on screen,
// resyncs after a reconnect (asks the server what changed since the last event it saw), tracks
// who else is viewing or typing, and runs the keyboard shortcuts and the composer's helpers
// (canned replies by /shortcut, the template picker, media by URL on rich channels).
const $ = (selector, root = document) => root.querySelector(selector);
const inbox = () => document.getElementById("inbox");
const csrf = () => $("[name=csrfmiddlewaretoken]")?.value ?? "";
const PRESENCE_EVERY_MS = 10000;
const PRESENCE_FRESH_MS = 25000;
const TYPING_FRESH_MS = 6000;
const REPLIED_RECENT_MS = 120000;

let cursor = ""; // fetch changes after this server time (ISO)
const OVERLAP_MS = 10000;
const seenEvents = new Set(); // an agent in a queue and assigned gets one event twice
const others = new Map(); // user id -> {name, state, at (ms)} on the open conversation

function htmlToElement(html) {
  const holder = document.createElement("template");
  holder.innerHTML = html.trim();
  return holder.content.firstElementChild;
}

function openNumber() {
  return $("#thread [data-conversation]")?.dataset.conversation ?? "";
}

function setCursor(serverNow) {
  const at = Date.parse(serverNow);
  if (!Number.isNaN(at)) cursor = new Date(at - OVERLAP_MS).toISOString();
}

// --- the list -------------------------------------------------------------------------------

// The list again, for the filters the form shows, without touching the address bar (the open
// conversation's URL stays). One request at a time; events during it ask for one more.
let listTimer = null;
let listing = false;
let listAgain = false;
function refreshList() {
  clearTimeout(listTimer);
  listTimer = setTimeout(() => {
    const form = $("#inbox-filters");
    const list = $("#conv-list");
    if (!form || !list) return;
    if (listing) {
      listAgain = true;
      return;
    }
    listing = true;
    const params = new URLSearchParams(new FormData(form));
    const page = new URLSearchParams(location.search).get("page");
    if (page && location.pathname === form.getAttribute("action")) params.set("page", page);
    fetch(`${form.getAttribute("action")}?${params}`, { headers: { "HX-Request": "true", "HX-Target": "conv-list" } })
      .then((response) => (response.ok ? response.text() : null))
      .then((html) => {
        if (html === null) return;
        list.innerHTML = html;
        if (window.htmx) window.htmx.process(list);
        markOpenRow();
      })
      .finally(() => {
        listing = false;
        if (listAgain) {
          listAgain = false;
          refreshList();
        }
      });
  }, 300);
}

// The open conversation's row: selected, and never unread (its agent is reading it).
function markOpenRow() {
  const number = openNumber();
  rows().forEach((row) => {
    const open = row.dataset.number === number;
    row.classList.toggle("selected", open);
    if (open) row.classList.remove("unread");
  });
}

// --- the timeline ---------------------------------------------------------------------------

function placeEntry(html) {
  const entries = $("#entries");
  const entry = htmlToElement(html);
  if (!entries || !entry) return;
  const existing = entry.id && document.getElementById(entry.id);
  if (existing) existing.replaceWith(entry);
  else {
    entries.querySelector(".empty-thread")?.remove();
    entries.append(entry);
    entry.classList.add("flash");
    entries.scrollTop = entries.scrollHeight;
  }
  if (window.htmx) window.htmx.process(entry);
  const seen = $("#compose [name=seen_at]");
  if (seen && entry.dataset.at && entry.dataset.at > seen.value) seen.value = entry.dataset.at;
  showCollision();
}

// --- realtime ---------------------------------------------------------------------------------

// An event says which conversation changed (ids and states only, inbox/live.py): the page asks
// the server for what it shows, with its own permissions. The list is fetched again (filters,
// sort and unread markers stay the server's); the open conversation fetches what changed since
// its cursor. A reconnect does the same, so a dropped socket loses nothing.
const handlers = {
  "inbox.conversation": (msg) => {
    refreshList();
    if (String(msg.number) === openNumber()) fetchChanges();
  },
  // a note mentions this agent (inbox.live.user_notified): say so, and the list shows it
  "inbox.mention": (msg) => {
    window.appToast?.(`${msg.by} mentioned you in #${msg.number}`, "info");
    refreshList();
    if (String(msg.number) === openNumber()) fetchChanges();
  },
  "inbox.presence": (msg) => {
    const root = inbox();
    if (!root || String(msg.user) === root.dataset.me || String(msg.number) !== openNumber()) return;
    if (msg.state === "left") others.delete(String(msg.user));
    else {
      const known = others.get(String(msg.user));
      others.set(String(msg.user), { name: msg.name, state: msg.state, at: Date.now() });
      // tell a newcomer we are here too, so both see the warning at once; never held back by
      // the rate limit (our own "viewing" of a moment ago went out before their socket listened)
      if (!known && msg.state === "viewing") announce("viewing", "answer");
    }
    showCollision();
  },
};

document.addEventListener("live:message", (event) => {
  const msg = event.detail;
  if (!msg.type?.startsWith("inbox.") || !inbox()) return;
  if (msg.event_id) {
    if (seenEvents.has(msg.event_id)) return;
    seenEvents.add(msg.event_id);
    if (seenEvents.size > 5000) seenEvents.clear();
  }
  handlers[msg.type]?.(msg);
});

function showState() {
  const el = $("#live-state");
  if (!el) return;
  const state = document.documentElement.dataset.live ?? "connecting";
  el.dataset.state = state;
  $(".live-text", el).textContent =
    state === "connected" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…";
  $("button", el).hidden = state !== "closed";
}

document.addEventListener("live:open", (event) => {
  showState();
  if (event.detail?.reconnected) {
    refreshList();
    fetchChanges();
  }
  if (openNumber()) announce("viewing", true);
});
document.addEventListener("live:close", showState);

// What the open conversation gained or changed since the cursor (the server's time of the last
// answer, less an overlap: a row written just before that answer may commit just after it).
let fetching = null;
let again = false;
function fetchChanges() {
  const root = inbox();
  const number = openNumber();
  if (!root || !number) return;
  if (fetching) {
    again = true;
    return;
  }
  const url = `${root.dataset.changesUrl.replace("/0/", `/${number}/`)}?since=${encodeURIComponent(cursor)}`;
  fetching = fetch(url, { headers: { "HX-Request": "true" } })
    .then((response) => (response.ok ? response.text() : ""))
    .then((html) => {
      if (String(number) !== openNumber()) return;
      const holder = document.createElement("template");
      holder.innerHTML = html;
      const header = holder.content.querySelector("#thread-header");
      const current = $("#thread-header");
      // a dialog the agent is filling stays; the next change (or their own action) brings the header
      if (header && current && !current.querySelector("dialog[open]")) {
        current.replaceWith(header);
        if (window.htmx) window.htmx.process(header);
      }
      for (const entry of holder.content.querySelectorAll(".entry")) placeEntry(entry.outerHTML);
      const stamp = holder.content.querySelector("[data-server-now]");
      if (stamp) setCursor(stamp.dataset.serverNow);
    })
    .finally(() => {
      fetching = null;
      if (again) {
        again = false;
        fetchChanges();
      }
    });
}

// --- presence and the collision warning -------------------------------------------------------

let lastAnnounce = 0;
let lastState = "";
function announce(state, force = false) {
  const root = inbox();
  const number = openNumber();
  if (!root || !number) return;
  const now = Date.now();
  if (!force && state === lastState && now - lastAnnounce < (state === "typing" ? 3000 : PRESENCE_EVERY_MS)) return;
  if (force === true && state === lastState && now - lastAnnounce < 1500) return;
  lastAnnounce = now;
  lastState = state;
  const body = new URLSearchParams({ state, csrfmiddlewaretoken: csrf() });
  fetch(root.dataset.presenceUrl.replace("/0/", `/${number}/`), { method: "POST", body, keepalive: true });
}

function ago(ms) {
  const s = Math.max(1, Math.round(ms / 1000));
  return s < 60 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function showCollision() {
  const box = $("#collision");
  const root = inbox();
  if (!box || !root) return;
  const now = Date.now();
  const lines = [];
  for (const [id, other] of others) {
    const age = now - other.at;
    if (other.state === "typing" && age < TYPING_FRESH_MS) lines.push(`${other.name} is typing`);
    else if (age < PRESENCE_FRESH_MS) lines.push(`${other.name} is viewing`);
    else others.delete(id);
  }
  const replies = [...document.querySelectorAll("#entries .entry[data-agent]")].filter(
    (entry) => entry.dataset.agent !== root.dataset.me,
  );
  const last = replies.at(-1);
  if (last) {
    const age = now - Date.parse(last.dataset.at);
    if (age < REPLIED_RECENT_MS) lines.push(`${last.dataset.agentName} replied ${ago(age)}`);
  }
  box.hidden = !lines.length;
  $(".collision-text", box).textContent = lines.join(" · ");
}

let lastTypedAt = 0;
setInterval(() => {
  if (!openNumber()) return;
  showCollision();
  // still here: "viewing" every PRESENCE_EVERY_MS, and once typing has stopped for a few seconds
  if (!document.hidden && Date.now() - lastTypedAt > TYPING_FRESH_MS - 2000) announce("viewing");
}, 1000);

window.addEventListener("pagehide", () => {
  if (openNumber()) announce("left", true);
});

// --- keyboard shortcuts -----------------------------------------------------------------------

function rows() {
  return [...document.querySelectorAll("#conv-list .conv-row")];
}

function move(step) {
  const all = rows();
  if (!all.length) return;
  const at = all.findIndex((row) => row.classList.contains("selected"));
  const next = all[Math.min(all.length - 1, Math.max(0, at + step))];
  $("a", next)?.click();
  $("a", next)?.focus();
}

const shortcuts = {
  j: () => move(1),
  k: () => move(-1),
  r: () => {
    composeMode("reply");
    $("#compose-text:not([disabled])")?.focus() ?? $("#compose select, #compose input")?.focus();
  },
  n: () => composeMode("note", true),
  s: () => $("#status-open")?.click(),
  e: () => $("#resolve-open")?.click(),
  a: () => $("#assign-open")?.click(),
  "/": () => $("#inbox-search")?.focus(),
  "?": () => $("#shortcuts-help")?.showModal(),
};

document.addEventListener("keydown", (event) => {
  if (!inbox() || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest?.("input, textarea, select, [contenteditable]")) {
    if (event.key === "Escape") target.blur();
    return;
  }
  if ($("dialog[open]")) return;
  const run = shortcuts[event.key];
  if (run) {
    event.preventDefault();
    run();
  }
});

document.addEventListener("click", (event) => {
  const row = event.target.closest?.("#conv-list .conv-row");
  if (row) {
    rows().forEach((r) => r.classList.toggle("selected", r === row));
    row.classList.remove("unread");
  }
  const closer = event.target.closest?.("[data-close-dialog]");
  if (closer) closer.closest("dialog")?.close();
  const opener = event.target.closest?.("[data-open-dialog]");
  if (opener) document.getElementById(opener.dataset.openDialog)?.showModal();
  const unfold = event.target.closest?.("[data-open-details]");
  if (unfold) {
    const details = document.getElementById(unfold.dataset.openDetails);
    if (details) {
      details.open = true;
      details.scrollIntoView({ block: "nearest" });
      details.querySelector("select, textarea, input:not([type=hidden])")?.focus();
    }
  }
  if (event.target.closest?.("#live-reconnect")) document.dispatchEvent(new CustomEvent("live:drop"));
  const canned = event.target.closest?.("#canned [data-body]");
  if (canned) useCanned(canned);
  const mode = event.target.closest?.("[data-compose-mode]");
  if (mode) composeMode(mode.dataset.composeMode, true);
  if (event.target.closest?.("#send-anyway")) {
    const form = composer();
    $("[name=confirm]", form).value = "1";
    form.requestSubmit();
  }
});

// The composer writes a reply to the contact or a private note for the team (Reply / Note).
function composeMode(mode, focus = false) {
  const note = $("#note-form");
  const reply = composer();
  if (!note || !reply) return;
  note.hidden = mode !== "note";
  reply.hidden = mode === "note";
  document.querySelectorAll("[data-compose-mode]").forEach((b) => {
    b.setAttribute("aria-pressed", String(b.dataset.composeMode === mode));
  });
  if (focus && mode === "note") $("#note-body")?.focus();
}

// A thread action done (inbox/action_views.py: 204 and "inbox:acted"): its dialog closes and the
// page fetches the header and the new entries now rather than waiting for the live event.
document.addEventListener("inbox:acted", () => {
  document.querySelectorAll("#thread-header dialog[open]").forEach((d) => d.close());
  refreshList();
  fetchChanges();
});

// A note added: the text area empties (a refusal comes back as the form, with its errors).
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (form?.id !== "note-form" || !event.detail.successful) return;
  if (event.detail.xhr.getResponseHeader("HX-Retarget")) return;
  $("#note-body", form).value = "";
  form.querySelectorAll(".field-error, .form-error").forEach((e) => e.remove());
});

// A sent reply empties the composer; a refusal (errors or the collision question, retargeted to
// #compose-errors) keeps what the agent wrote.
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (form?.id !== "compose" || !event.detail.successful) return;
  if (event.detail.xhr.getResponseHeader("HX-Retarget")) return;
  form.querySelectorAll("#compose-text, #compose-media-url, [name=send_at]").forEach((f) => {
    f.value = "";
  });
  $("[name=confirm]", form).value = "";
  $("#compose-errors").innerHTML = "";
  $("#canned").hidden = true;
});

// --- the composer ---------------------------------------------------------------------------

function composer() {
  return $("#compose");
}

// The server's verdict on the draft (reply_preview) says whether free text may go; outside the
// WhatsApp window it may not, and the template picker takes the text area's place.
function applyVerdict() {
  const form = composer();
  const verdict = $("#compose-verdict");
  if (!form || !verdict) return;
  const freeText = verdict.dataset.freeText !== "0";
  const text = $("#compose-text", form);
  const picker = $("#template-picker", form);
  if (text) text.disabled = !freeText;
  if (picker) {
    picker.hidden = freeText;
    $("[name=template]", picker).disabled = freeText;
  }
  showTemplate();
  const option = $("[name=channel]", form)?.selectedOptions[0];
  const media = $("#compose-media", form);
  if (media) media.hidden = option?.dataset.rich !== "1" || !freeText;
}

function showTemplate() {
  const picker = $("#template-picker");
  if (!picker) return;
  const chosen = $("[name=template]", picker).value;
  picker.querySelectorAll("[data-template]").forEach((set) => {
    const on = !picker.hidden && set.dataset.template === chosen;
    set.hidden = !on;
    set.disabled = !on;
  });
}

let cannedTimer = null;
function askCanned(text) {
  const form = composer();
  const box = $("#canned");
  if (!form || !box) return;
  const match = /^\/([\w-]*)$/.exec(text);
  clearTimeout(cannedTimer);
  if (!match) {
    box.hidden = true;
    return;
  }
  cannedTimer = setTimeout(() => {
    fetch(`${form.dataset.cannedUrl}?q=${encodeURIComponent(match[1])}`, { headers: { "HX-Request": "true" } })
      .then((response) => (response.ok ? response.text() : ""))
      .then((html) => {
        box.innerHTML = html;
        box.hidden = !box.querySelector("[data-body]");
      });
  }, 150);
}

function useCanned(option) {
  const text = $("#compose-text");
  if (!text) return;
  text.value = option.dataset.body;
  $("#canned").hidden = true;
  text.focus();
  text.dispatchEvent(new Event("input", { bubbles: true }));
}

document.addEventListener("input", (event) => {
  if (event.target.id !== "compose-text") return;
  askCanned(event.target.value);
  if (event.target.value.trim()) {
    lastTypedAt = Date.now();
    announce("typing");
  }
});

document.addEventListener("keydown", (event) => {
  if (event.target.id === "note-body" && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    event.target.form.requestSubmit();
    return;
  }
  if (event.target.id !== "compose-text") return;
  const first = $("#canned:not([hidden]) [data-body]");
  if (first && (event.key === "Tab" || event.key === "Enter")) {
    event.preventDefault();
    useCanned(first);
  } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    composer()?.requestSubmit();
  }
});

document.addEventListener("change", (event) => {
  if (event.target.closest?.("#template-picker") && event.target.name === "template") showTemplate();
  if (event.target.closest?.("#compose") && event.target.name === "channel") applyVerdict();
});

// After settling, not swapping: htmx's settle step puts the server's class attribute back on
// elements that kept their id (the rows), which would undo the marks.
document.addEventListener("htmx:afterSettle", markOpenRow);

document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  if (target?.id === "entries") {
    const seen = new Set(); // a live fetch may have placed the same item first
    [...target.querySelectorAll(":scope > .entry")].reverse().forEach((entry) => {
      if (seen.has(entry.id)) entry.remove();
      else seen.add(entry.id);
    });
    target.querySelector(".empty-thread")?.remove();
    target.scrollTop = target.scrollHeight;
  }
  if (target?.id === "thread" || target?.id === "compose-verdict" || target?.closest?.("#thread")) {
    applyVerdict();
    if (target.id === "thread") {
      markOpenRow();
      others.clear();
      lastState = "";
      announce("viewing", true);
      const entries = $("#entries");
      if (entries) entries.scrollTop = entries.scrollHeight;
      const stamp = $("#thread [data-server-now]");
      if (stamp) setCursor(stamp.dataset.serverNow);
      showCollision();
    }
  }
});

document.addEventListener("DOMContentLoaded", () => {
  if (!inbox()) return;
  showState();
  applyVerdict();
  const stamp = $("#thread [data-server-now]");
  if (stamp) setCursor(stamp.dataset.serverNow);
  const entries = $("#entries");
  if (entries) entries.scrollTop = entries.scrollHeight;
});
