// The canvas editor: wires the JSON graph (model.js), the JointJS view (canvas.js), the
// server-rendered configuration panel (htmx), autosave with conflict detection, problems,
// publishing, versions, live counts, copy/paste, undo/redo and the outline view.
/* global htmx */
import { Canvas } from './canvas.js';
import { History, addNode, autoLayout, clone, copyNodes, freeSpot, nodeHeight, pasteNodes, removeNodes, snap } from './model.js';
import { renderOutline } from './outline.js';
import { drawMinimap } from './minimap.js';

const CLIP_KEY = 'cpaas-editor-clipboard';
const boot = JSON.parse(document.getElementById('editor-boot').textContent);
const $ = (sel) => document.querySelector(sel);
const csrf = JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || '';
const readonly = !boot.can_edit;

const state = {
  graph: boot.graph && boot.graph.nodes ? boot.graph : { schema: 1, start: 'trigger', nodes: {} },
  exits: boot.exits || {},
  titles: boot.titles || {},
  problems: boot.problems || [],
  problemsByNode: {},
  selected: new Set(),
  counts: null,
  etag: boot.etag,
  save: 'saved', // saved | dirty | saving | offline | conflict
  status: boot.journey.status,
};
const history = new History(state.graph);
const canvas = new Canvas($('#canvas'), {
  catalogue: boot.catalogue,
  icons: boot.icons,
  readonly,
  on: {
    select: (id, add) => select(id ? [id] : [], add),
    selectMany: (ids) => select(ids, false),
    badge: (id) => { select([id], false); $('#problems')?.querySelector(`[data-node="${CSS.escape(id)}"]`)?.focus(); },
    connect: (src, exit, tgt) => edit((g) => { g.nodes[src].exits[exit] = tgt; }),
    disconnect: (src, exit, tgt) => {
      if (state.graph.nodes[src]?.exits?.[exit] === tgt) edit((g) => { delete g.nodes[src].exits[exit]; });
    },
    move: (moved) => edit((g) => { for (const [id, p] of Object.entries(moved)) if (g.nodes[id]) g.nodes[id].position = { x: snap(p.x), y: snap(p.y) }; }, { panel: false }),
    viewport: () => minimap(),
  },
});
window.editor = { state, canvas, history }; // for the browser tests and the bench

// --- edits and history -------------------------------------------------------------------

function edit(mutate, { panel = true } = {}) {
  if (readonly) { refresh(); return; }
  mutate(state.graph);
  for (const id of [...state.selected]) if (!state.graph.nodes[id]) state.selected.delete(id);
  for (const [id, n] of Object.entries(state.graph.nodes)) {
    if (!state.exits[id]) state.exits[id] = boot.catalogue[n.type]?.exits || [];
  }
  if (history.push(state.graph)) markDirty();
  refresh({ panel });
}

function restore(graph) {
  if (!graph) return;
  state.graph = graph;
  for (const id of [...state.selected]) if (!graph.nodes[id]) state.selected.delete(id);
  markDirty();
  refresh({ panel: true });
}

function undo() { restore(history.undo()); }
function redo() { restore(history.redo()); }

function select(ids, add) {
  if (!add) state.selected.clear();
  for (const id of ids) {
    if (add && state.selected.has(id) && ids.length === 1) state.selected.delete(id); else state.selected.add(id);
  }
  canvas.selectLink(null);
  refresh({ panel: true });
}

let panelFor = null;
function refresh({ panel = false, first = false } = {}) {
  state.problemsByNode = {};
  for (const p of state.problems) if (p.node) state.problemsByNode[p.node] = (state.problemsByNode[p.node] || 0) + 1;
  canvas.sync(state, { first });
  renderProblems();
  updatePublish();
  if (!$('#outline').hidden) renderOutline($('#outline'), state, boot.catalogue, outlineActions);
  minimap();
  if (panel) {
    const one = state.selected.size === 1 ? [...state.selected][0] : null;
    const key = one ? JSON.stringify([one, state.graph.nodes[one]?.config, state.graph.nodes[one]?.type]) : null;
    if (key !== panelFor) { panelFor = key; openPanel(one); }
    else if (one) fillPanelExtras(one);
  }
}

// --- the configuration panel (server-rendered from the node module's form) ---------------

function openPanel(id) {
  const panel = $('#panel');
  if (!id || !state.graph.nodes[id]) {
    panel.innerHTML = state.selected.size > 1
      ? `<p>${state.selected.size} nodes selected. <kbd>Ctrl</kbd>+<kbd>C</kbd> copies them, <kbd>Delete</kbd> deletes them.</p>`
      : '<p class="muted">Select a node to configure it.</p>';
    return;
  }
  const n = state.graph.nodes[id];
  htmx.ajax('POST', boot.urls.node_form, {
    target: '#panel', swap: 'innerHTML',
    values: { type: n.type, node: id, config: JSON.stringify(n.config || {}), readonly: readonly ? '1' : '' },
  });
}

// a form that arrives after the selection moved on is not shown
document.body.addEventListener('htmx:beforeSwap', (evt) => {
  if (evt.detail.target.id !== 'panel') return;
  const m = /id="config-meta" hidden data-node="([^"]*)"/.exec(evt.detail.xhr.responseText || '');
  if (!m) return;
  const one = state.selected.size === 1 ? [...state.selected][0] : null;
  if (m[1] !== one) evt.detail.shouldSwap = false;
});

document.body.addEventListener('htmx:afterSwap', (evt) => {
  if (evt.detail.target.id !== 'panel') return;
  const meta = $('#config-meta');
  if (!meta) return;
  const id = meta.dataset.node;
  const node = state.graph.nodes[id];
  if (!node) return;
  const config = JSON.parse($('#config-out').textContent);
  const exits = meta.dataset.exits ? meta.dataset.exits.split(',') : [];
  if (meta.dataset.title) state.titles[id] = meta.dataset.title;
  if (meta.dataset.applied === '1' && JSON.stringify(config) !== JSON.stringify(node.config)) {
    state.exits[id] = exits;
    panelFor = JSON.stringify([id, config, node.type]);
    edit((g) => { g.nodes[id].config = config; }, { panel: false });
  } else if (JSON.stringify(exits) !== JSON.stringify(state.exits[id])) {
    state.exits[id] = exits;
    refresh();
  }
  fillPanelExtras(id);
  document.querySelectorAll('#panel textarea[data-sms]').forEach(smsCount);
});

// SMS characters and segments (the messaging core's GSM-7 / UCS-2 counting) and previews
const smsTimers = new WeakMap();
async function smsCount(area) {
  const body = new FormData();
  body.set('text', area.value);
  const res = await fetch(boot.urls.sms, { method: 'POST', headers: { 'X-CSRFToken': csrf }, body });
  const info = area.parentElement.querySelector('.sms-info');
  if (res.ok && info) info.innerHTML = await res.text();
}
document.addEventListener('input', (evt) => {
  if (!evt.target.matches('textarea[data-sms]')) return;
  clearTimeout(smsTimers.get(evt.target));
  smsTimers.set(evt.target, setTimeout(() => smsCount(evt.target), 250));
});

function targetOptions(selfId, current) {
  const opts = [['', '— not connected —'], ['__end__', 'End the journey here']];
  for (const [nid, n] of Object.entries(state.graph.nodes)) {
    if (nid === selfId || boot.catalogue[n.type]?.trigger) continue;
    opts.push([nid, `${n.label || state.titles[nid] || boot.catalogue[n.type]?.label || n.type} (${nid})`]);
  }
  const cur = current === null ? '__end__' : (current || '');
  return opts.map(([v, t]) => `<option value="${esc(v)}" ${v === cur ? 'selected' : ''}>${esc(t)}</option>`).join('');
}

export function exitPicker(id, exit, prefix = 'exit') {
  const cur = state.graph.nodes[id]?.exits?.[exit];
  return `<label for="${prefix}-${esc(id)}-${esc(exit)}">${esc(exit)}</label>
    <select id="${prefix}-${esc(id)}-${esc(exit)}" data-exit-of="${esc(id)}" data-exit="${esc(exit)}" ${readonly ? 'disabled' : ''}
      aria-label="Exit ${esc(exit)} of ${esc(id)} goes to">${targetOptions(id, cur)}</select>`;
}

function fillPanelExtras(id) {
  const box = $('#exit-pickers');
  if (box && $('#config-meta')?.dataset.node === id) {
    const exits = state.exits[id] || [];
    box.innerHTML = exits.map((e) => `<div class="exit-row">${exitPicker(id, e)}</div>`).join('') || '<p class="muted">No exits: the journey ends here.</p>';
  }
  const label = $('[data-node-label]');
  if (label && document.activeElement !== label) label.value = state.graph.nodes[id]?.label || '';
  if (readonly && label) label.disabled = true;
  if (state.counts && boot.urls.contacts) {
    let c = $('#node-contacts');
    if (!c) { c = document.createElement('div'); c.id = 'node-contacts'; $('#panel').appendChild(c); }
    htmx.ajax('GET', `${boot.urls.contacts}?node=${encodeURIComponent(id)}`, { target: '#node-contacts', swap: 'innerHTML' });
  }
}

function setExit(id, exit, value) {
  edit((g) => {
    if (value === '') delete g.nodes[id].exits[exit];
    else g.nodes[id].exits[exit] = value === '__end__' ? null : value;
  }, { panel: false });
}

document.addEventListener('change', (evt) => {
  const t = evt.target;
  if (t.matches('select[data-exit-of]')) {
    evt.stopPropagation();
    setExit(t.dataset.exitOf, t.dataset.exit, t.value);
    return;
  }
  if (t.matches('[data-node-label]')) {
    evt.stopPropagation();
    const id = $('#config-meta')?.dataset.node;
    if (id && state.graph.nodes[id]) edit((g) => { if (t.value.trim()) g.nodes[id].label = t.value.trim().slice(0, 80); else delete g.nodes[id].label; }, { panel: false });
    return;
  }
  if (t.id === 'journey-purpose') {
    const body = new FormData();
    body.set('purpose', t.value);
    fetch(t.dataset.url, { method: 'POST', headers: { 'X-CSRFToken': csrf }, body })
      .then((res) => res.json().then((data) => {
        if (!res.ok) throw new Error(data.error || 'The purpose was not saved.');
        boot.journey.purpose = data.purpose;
        window.appToast?.(data.purpose ? `New messages are for ${data.purpose}.` : 'New messages will ask for their purpose.', 'success');
      }))
      .catch((err) => window.appToast?.(err.message, 'error'));
    return;
  }
  if (t.matches('select[data-merge]') && t.value) {
    const area = t.closest('.field').querySelector('textarea');
    const token = `{{${t.value}}}`;
    const at = area.selectionStart ?? area.value.length;
    area.value = area.value.slice(0, at) + token + area.value.slice(area.selectionEnd ?? at);
    t.value = '';
    evt.stopPropagation();
    area.dispatchEvent(new Event('input', { bubbles: true }));
    area.dispatchEvent(new Event('change', { bubbles: true }));
  }
}, true);

// --- saving ------------------------------------------------------------------------------

let saveTimer = null;
let inFlight = false;
let again = false;
let retryDelay = 2000;

function markDirty() {
  if (readonly) return;
  if (state.save !== 'conflict') setSave('dirty');
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveNow, 700);
}

function setSave(s, text) {
  state.save = s;
  const el = $('#save-state');
  el.className = `save-state ${s}`;
  el.textContent = text || { saved: 'Saved', dirty: 'Unsaved changes', saving: 'Saving…', conflict: 'Conflict' }[s] || s;
  updatePublish();
}

async function saveNow() {
  if (readonly || state.save === 'conflict') return;
  if (inFlight) { again = true; return; }
  inFlight = true;
  const sent = JSON.stringify(state.graph);
  setSave('saving');
  try {
    const res = await fetch(boot.urls.save, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
      body: JSON.stringify({ graph: state.graph, etag: state.etag }),
    });
    const data = await res.json().catch(() => ({}));
    if (res.status === 409) { inFlight = false; conflict(data); return; }
    if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
    retryDelay = 2000;
    state.etag = data.etag;
    state.problems = data.problems;
    Object.assign(state.exits, data.exits);
    state.titles = data.titles || state.titles;
    const changed = JSON.stringify(state.graph) !== sent;
    setSave(changed ? 'dirty' : 'saved');
    refresh();
    if (changed) again = true;
  } catch (err) {
    setSave('offline', `Offline — retrying in ${Math.round(retryDelay / 1000)} s`);
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveNow, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  } finally {
    inFlight = false;
  }
  if (again) { again = false; saveNow(); }
}

function conflict(data) {
  setSave('conflict', `Conflict: ${data.author || 'someone'} saved a newer draft`);
  const dlg = $('#conflict-dialog');
  $('#conflict-text').textContent = `${data.author || 'Someone'} saved this journey at ${new Date(data.saved_at).toLocaleTimeString()} while you were editing. Choose which version to keep; nothing is overwritten until you choose.`;
  $('#conflict-theirs').onclick = () => {
    dlg.close();
    state.graph = data.graph; state.etag = data.etag; Object.assign(state.exits, data.exits || {});
    state.titles = data.titles || state.titles;
    history.push(state.graph);
    setSave('saved');
    refresh({ panel: true });
  };
  $('#conflict-mine').onclick = () => { dlg.close(); state.etag = data.etag; setSave('dirty'); saveNow(); };
  if (!dlg.open) dlg.showModal();
}

window.addEventListener('beforeunload', (evt) => {
  if (!readonly && state.save !== 'saved') { evt.preventDefault(); evt.returnValue = ''; }
});

// --- problems and publishing -------------------------------------------------------------

function esc(s) { return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c])); }

function renderProblems() {
  const list = $('#problems');
  if (!list) return;
  const section = $('#publish-reasons');
  section.classList.toggle('ok', state.problems.length === 0);
  $('#problem-count').textContent = state.problems.length;
  // the server words each problem with the node's title (journeys/validation.py: one place)
  list.innerHTML = state.problems.slice(0, 200).map((p) => `<li><button type="button" data-node="${esc(p.node || '')}">${esc(p.text || p.message)}</button></li>`).join('');
}

$('#problems')?.addEventListener('click', (evt) => {
  const b = evt.target.closest('button[data-node]');
  if (!b || !b.dataset.node || !state.graph.nodes[b.dataset.node]) return;
  select([b.dataset.node], false);
  canvas.centerOn(b.dataset.node);
});

function updatePublish() {
  const btn = $('#publish');
  if (!btn) return;
  const reasons = [];
  if (state.problems.length) reasons.push(`Fix ${state.problems.length} problem(s) first.`);
  if (state.save !== 'saved') reasons.push('Wait until the draft is saved.');
  if (state.status === 'archived') reasons.push('An archived journey cannot be published.');
  btn.disabled = reasons.length > 0;
  btn.title = reasons.join(' ') || 'Publish the draft';
}

async function publishDialog() {
  const dlg = $('#publish-dialog');
  $('#publish-error').textContent = '';
  const res = await fetch(boot.urls.versions);
  const box = document.createElement('div');
  box.innerHTML = await res.text();
  $('#publish-changes').innerHTML = box.querySelector('#changes')?.outerHTML || '';
  dlg.showModal();
  $('#publish-note').focus();
}

$('#publish-confirm')?.addEventListener('click', async () => {
  const body = new FormData();
  body.set('note', $('#publish-note').value);
  const res = await fetch(boot.urls.publish, { method: 'POST', headers: { 'X-CSRFToken': csrf }, body });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    $('#publish-error').textContent = data.error || (data.problems || []).map((p) => p.message).join(' ') || 'Publishing failed.';
    if (data.problems) { state.problems = data.problems; refresh(); }
    return;
  }
  $('#publish-dialog').close();
  state.etag = data.etag;
  state.status = 'live';
  $('#ed-status').textContent = 'Live';
  $('#ed-status').classList.add('ok');
  toast(`Published version ${data.version}.`);
  startCounts();
});

function toast(text) {
  const t = document.createElement('div');
  t.className = 'toast toast-success'; t.setAttribute('role', 'status'); t.textContent = text;
  $('#toasts').appendChild(t);
  setTimeout(() => t.remove(), 5000);
}

// --- live counts: pushed ("journey.counts" over the websocket), fetched at most every 0.5 s --

const COUNTS_MIN_GAP = 500;
const COUNTS_FALLBACK = 30000; // only while the socket is down
let countsOn = false;
let countsLast = -Infinity;
let countsDue = null;
let countsFallback = null;

async function fetchCounts() {
  countsLast = performance.now();
  try {
    const res = await fetch(boot.urls.counts);
    if (res.ok) {
      const data = await res.json();
      state.counts = data.counts;
      document.body.dataset.countsFetched = String(Number(document.body.dataset.countsFetched || 0) + 1);
      refresh();
    }
  } catch (err) { /* offline: the next push, reconnect or fallback fetches again */ }
}

function countsSoon() {
  if (!countsOn || countsDue) return;
  const wait = Math.max(0, countsLast + COUNTS_MIN_GAP - performance.now());
  countsDue = setTimeout(() => { countsDue = null; fetchCounts(); }, wait);
}

function fallbackPoll(on) {
  clearInterval(countsFallback);
  countsFallback = on && countsOn ? setInterval(countsSoon, COUNTS_FALLBACK) : null;
}

function startCounts() {
  if (countsOn) return;
  countsOn = true;
  countsSoon();
  fallbackPoll(document.documentElement.dataset.live !== 'connected');
}

document.addEventListener('live:message', (evt) => {
  if (evt.detail.type === 'journey.counts' && evt.detail.journey === boot.journey.id) countsSoon();
});
document.addEventListener('live:open', () => { fallbackPoll(false); countsSoon(); });
document.addEventListener('live:close', () => fallbackPoll(true));
if (['live', 'paused'].includes(state.status)) startCounts();

// --- commands ----------------------------------------------------------------------------

function selectedIds() { return [...state.selected].filter((id) => state.graph.nodes[id]); }

function copy() {
  const ids = selectedIds();
  if (!ids.length) return;
  const clip = JSON.stringify(copyNodes(state.graph, ids));
  localStorage.setItem(CLIP_KEY, clip);
  navigator.clipboard?.writeText(clip).catch(() => {});
  toast(`Copied ${ids.length} node(s).`);
}

function paste() {
  let clip = null;
  try { clip = JSON.parse(localStorage.getItem(CLIP_KEY) || 'null'); } catch (err) { clip = null; }
  if (!clip || clip.kind !== 'cpaas-journey-nodes') return;
  let ids = [];
  edit((g) => { ids = pasteNodes(g, boot.catalogue, clip); });
  select(ids, false);
}

function deleteSelected() {
  if (canvas.selectedLink) {
    const l = canvas.selectedLink; canvas.selectedLink = null;
    const s = l.source(); const t = l.target();
    if (state.graph.nodes[s.id]?.exits?.[s.port] === t.id) edit((g) => { delete g.nodes[s.id].exits[s.port]; });
    return;
  }
  const ids = selectedIds();
  if (ids.length) edit((g) => removeNodes(g, ids));
}

// a new node lands where it was dropped, or on the nearest spot that overlaps no other node
function addAt(type, pos) {
  let id;
  const height = nodeHeight((boot.catalogue[type]?.exits || []).length);
  const spot = freeSpot(state.graph, pos, height, (nid) => nodeHeight((state.exits[nid] || []).length));
  edit((g) => {
    id = addNode(g, boot.catalogue, type, spot);
    // a message takes the journey's purpose; without one it asks ("" until chosen: a problem)
    if (boot.catalogue[type]?.purpose_from_journey) g.nodes[id].config.purpose = boot.journey.purpose || '';
  });
  select([id], false);
  return id;
}

const outlineActions = {
  add: (type) => {
    const xs = Object.values(state.graph.nodes).map((n) => n.position?.x || 0);
    const id = addAt(type, { x: xs.length ? Math.max(...xs) + 320 : 40, y: 40 });
    return id;
  },
  configure: (id) => { select([id], false); $('#panel').querySelector('input,select,textarea')?.focus(); },
  remove: (id) => edit((g) => removeNodes(g, [id])),
  exitPicker: (id, exit) => exitPicker(id, exit, 'o-exit'),
};

function toggleOutline() {
  const o = $('#outline');
  o.hidden = !o.hidden;
  document.querySelector('[data-cmd="outline"]').setAttribute('aria-pressed', String(!o.hidden));
  if (!o.hidden) { renderOutline(o, state, boot.catalogue, outlineActions); o.querySelector('h2')?.focus(); }
}

async function showVersions() {
  await htmx.ajax('GET', boot.urls.versions, { target: '#panel', swap: 'innerHTML' });
  panelFor = 'versions';
}

async function showTest() {
  await htmx.ajax('GET', boot.urls.test_start, { target: '#panel', swap: 'innerHTML' });
  panelFor = 'test';
  testPoll();
}

// --- test run: act on the test contact; each step shows as it happens ------------------------
// The panel (templates/journeys/editor_test.html, journeys/editor/testrun_views.py) polls the
// path every 1.5 s while it is open: the canvas lights the nodes visited, the steps list says
// what happened at each (a send blocked or deferred by consent with its rule and reason), the
// state says where the contact is or that it has finished, and the phone is re-rendered only
// when it changed (a reply being typed keeps its text).

let phoneSig = '';

function chooseTestContact(id, label) {
  $('#test-contact').value = id;
  $('#test-chosen').innerHTML = `Testing with <b>${esc(label)}</b>`;
  phoneSig = '';
  testAction('path');
}

function renderSteps(data) {
  const list = $('#test-steps');
  if (!list) return;
  list.innerHTML = (data.steps || []).map((s) => `<li class="${s.reason ? (s.exit === 'failed' ? 'blocked' : 'note') : ''}">`
    + `<span class="muted">${esc(s.at)}</span> <b>${esc(s.title)}</b>${s.exit ? ` → ${esc(s.exit)}` : ''}`
    + `${s.reason ? `<br><span class="why">${esc(s.reason)}</span>` : ''}</li>`).join('');
}

async function testAction(action, extra = {}) {
  const contact = $('#test-contact')?.value;
  const status = $('#test-status');
  if (!contact) { if (status && action !== 'path') status.textContent = 'Choose a test contact first: search above, or make a new one.'; return null; }
  if ((action === 'start' || action === 'restart') && !readonly && state.save !== 'saved') {
    // the test runs the draft as saved on the server: save now, waiting out a save in flight
    for (let i = 0; i < 40 && state.save !== 'saved' && state.save !== 'conflict' && state.save !== 'offline'; i += 1) {
      clearTimeout(saveTimer);
      await saveNow();
      if (state.save !== 'saved') await new Promise((r) => setTimeout(r, 150));
    }
    if (state.save !== 'saved') { status.textContent = 'Save the draft first (it is not saved yet).'; return null; }
  }
  const body = new FormData();
  body.set('action', action);
  body.set('contact', contact);
  for (const [k, v] of Object.entries(extra)) body.set(k, v);
  if (action === 'event') { body.set('event', $('#test-event').value); body.set('properties', $('#test-props').value || '{}'); }
  const res = await fetch(boot.urls.test_start, { method: 'POST', headers: { 'X-CSRFToken': csrf }, body });
  const data = await res.json().catch(() => ({}));
  if (contact !== $('#test-contact')?.value) return null; // another contact was chosen meanwhile
  const problems = $('#test-problems');
  if (problems && action !== 'path') {
    problems.innerHTML = (data.problems || []).map((p) => `<li><button type="button" class="link" data-node="${esc(p.node || '')}">${esc(p.text || p.message)}</button></li>`).join('');
  }
  if (!res.ok) { if (status) status.textContent = data.error || 'That did not work.'; return null; }
  canvas.light(data.visited, data.finished ? null : data.node);
  if (status) {
    status.textContent = data.state;
    status.dataset.finished = String(!!data.finished);
  }
  renderSteps(data);
  if (data.phone_sig !== phoneSig && $('#test-phone')) {
    phoneSig = data.phone_sig;
    const typing = document.activeElement?.id === 'test-reply' ? $('#test-reply').value : null;
    $('#test-phone').innerHTML = data.phone;
    htmx.process($('#test-phone'));
    const bubbles = $('#test-bubbles');
    if (bubbles) bubbles.scrollTop = bubbles.scrollHeight;
    if (typing !== null) { $('#test-reply').value = typing; $('#test-reply').focus(); }
  }
  return data;
}

let testTimer = null;
function testPoll() {
  clearTimeout(testTimer);
  if (!$('#test-run')) { canvas.light([], null); return; }
  testAction('path').finally(() => { testTimer = setTimeout(testPoll, 1500); });
}

document.addEventListener('click', (evt) => {
  const b = evt.target.closest('#test-run [data-test]');
  if (b) testAction(b.dataset.test, b.dataset.test === 'opt_in' ? { channel: b.dataset.channel, purpose: b.dataset.purpose } : {}).then(() => { if (b.dataset.test === 'opt_in') phoneSig = ''; });
  const c = evt.target.closest('#test-run [data-test-contact]');
  if (c) chooseTestContact(c.dataset.testContact, c.dataset.label);
  const p = evt.target.closest('#test-problems button[data-node]');
  if (p && state.graph.nodes[p.dataset.node]) canvas.centerOn(p.dataset.node);
});
document.body.addEventListener('test-contact', (evt) => chooseTestContact(String(evt.detail.id), evt.detail.label));

const commands = {
  undo, redo,
  'zoom-in': () => canvas.zoomAt(1.2),
  'zoom-out': () => canvas.zoomAt(1 / 1.2),
  fit: () => canvas.fit(),
  layout: () => { edit((g) => autoLayout(g)); canvas.fit(); },
  outline: toggleOutline,
  versions: showVersions,
  test: showTest,
  help: () => $('#help-dialog').showModal(),
  publish: publishDialog,
};
document.querySelector('.ed-bar').addEventListener('click', (evt) => {
  const b = evt.target.closest('[data-cmd]');
  if (b && commands[b.dataset.cmd]) commands[b.dataset.cmd]();
});

document.addEventListener('keydown', (evt) => {
  if (document.querySelector('dialog[open]')) return;
  const t = evt.target;
  const typing = t.closest('input, textarea, select, [contenteditable]');
  const mod = evt.ctrlKey || evt.metaKey;
  const k = evt.key.toLowerCase();
  if (typing) return;
  if (mod && k === 'z' && !evt.shiftKey) { evt.preventDefault(); if (!readonly) undo(); }
  else if (mod && (k === 'y' || (k === 'z' && evt.shiftKey))) { evt.preventDefault(); if (!readonly) redo(); }
  else if (mod && k === 'c') { copy(); }
  else if (mod && k === 'v') { if (!readonly) { evt.preventDefault(); paste(); } }
  else if (mod && k === 'a') { evt.preventDefault(); select(Object.keys(state.graph.nodes), false); }
  else if ((k === 'delete' || k === 'backspace') && !readonly) { evt.preventDefault(); deleteSelected(); }
  else if (mod) { /* leave other shortcuts to the browser */ }
  else if (k === '+' || k === '=') commands['zoom-in']();
  else if (k === '-') commands['zoom-out']();
  else if (k === 'f') commands.fit();
  else if (k === 'l' && !readonly) commands.layout();
  else if (k === 'o') toggleOutline();
  else if (k === '?') commands.help();
  else if (k === 'escape') select([], false);
});

// --- the palette -------------------------------------------------------------------------

document.querySelectorAll('.pal-item').forEach((item) => {
  item.addEventListener('dragstart', (evt) => {
    evt.dataTransfer.setData('application/x-node-type', item.dataset.type);
    evt.dataTransfer.setData('text/plain', item.dataset.type);
    evt.dataTransfer.effectAllowed = 'copy';
  });
  item.addEventListener('click', () => addAt(item.dataset.type, canvas.visibleCenter()));
});
const wrap = $('.ed-canvas-wrap');
wrap.addEventListener('dragover', (evt) => { evt.preventDefault(); evt.dataTransfer.dropEffect = 'copy'; });
wrap.addEventListener('drop', (evt) => {
  evt.preventDefault();
  const type = evt.dataTransfer.getData('application/x-node-type') || evt.dataTransfer.getData('text/plain');
  if (!boot.catalogue[type] || readonly) return;
  const p = canvas.clientToLocal(evt.clientX, evt.clientY);
  addAt(type, { x: p.x - 20, y: p.y - 20 });
});

// --- overview ----------------------------------------------------------------------------

let miniQueued = false;
function minimap() {
  if (miniQueued) return;
  miniQueued = true;
  requestAnimationFrame(() => { miniQueued = false; drawMinimap($('#minimap'), state, canvas); });
}
$('#overview')?.addEventListener('toggle', minimap);
window.addEventListener('resize', minimap);

const t0 = performance.now();
canvas.paper.once('render:done', () => { document.body.dataset.rendered = String(Math.round(performance.now() - t0)); });
refresh({ first: true });
document.body.dataset.syncMs = String(Math.round(performance.now() - t0));
requestAnimationFrame(() => {
  const start = state.graph.nodes[state.graph.start];
  if (Object.keys(state.graph.nodes).length <= 150 || !start) canvas.fit();
  else canvas.paper.translate(60 - (start.position?.x || 0), 60 - (start.position?.y || 0)); // large: open at the start
  document.body.dataset.editorReady = '1';
});
