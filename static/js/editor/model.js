// The journey graph as JSON (the format journeys/validation.py checks) and pure edits on it.
// The canvas, the outline and the panel all read this; every edit goes through history.commit.

export const GRID = 10;
export const NODE_W = 230;

export function clone(x) { return JSON.parse(JSON.stringify(x)); }

// tall enough for the title, a two-line summary, and one port per exit 22 px apart
export function nodeHeight(exitCount) { return Math.max(84, 30 + exitCount * 22); }

const GAP = 30; // free space kept around a placed node (its port labels sit to its right)

// Where a new node of `height` can go near `want` without touching another node: the wanted
// spot if free, else the nearest free spot on growing rings around it (20 px steps).
// heightOf(id) gives an existing node's height.
export function freeSpot(graph, want, height, heightOf) {
  const boxes = Object.entries(graph.nodes).map(([id, n]) => {
    const p = n.position || { x: 0, y: 0 };
    return { x: p.x, y: p.y, w: NODE_W, h: heightOf(id) };
  });
  const clear = (x, y) => boxes.every((b) => x + NODE_W + GAP <= b.x || b.x + b.w + GAP <= x
    || y + height + GAP <= b.y || b.y + b.h + GAP <= y);
  const x0 = snap(want.x); const y0 = snap(want.y);
  if (clear(x0, y0)) return { x: x0, y: y0 };
  for (let r = 1; r <= 80; r += 1) {
    const ring = [];
    for (let i = -r; i <= r; i += 1) {
      ring.push([i, -r], [i, r]);
      if (i > -r && i < r) ring.push([-r, i], [r, i]);
    }
    ring.sort((a, b) => Math.hypot(a[0], a[1]) - Math.hypot(b[0], b[1]) || b[1] - a[1]);
    for (const [dx, dy] of ring) {
      const x = x0 + dx * 2 * GRID; const y = y0 + dy * 2 * GRID;
      if (clear(x, y)) return { x, y };
    }
  }
  return { x: x0, y: y0 };
}

export function newId(graph, type) {
  const base = type.replace(/[^A-Za-z0-9]+/g, '_');
  let n = 1;
  while (graph.nodes[`${base}_${n}`]) n += 1;
  return `${base}_${n}`;
}

export function snap(v) { return Math.round(v / GRID) * GRID; }

export function addNode(graph, catalogue, type, pos, { id, config } = {}) {
  const spec = catalogue[type];
  const nid = id || newId(graph, type);
  graph.nodes[nid] = {
    type,
    config: config ? clone(config) : clone(spec.defaults || {}),
    position: { x: snap(pos.x), y: snap(pos.y) },
    exits: {},
  };
  const start = graph.nodes[graph.start];
  if (spec.trigger && (!start || !catalogue[start.type]?.trigger)) graph.start = nid;
  if (!graph.start) graph.start = nid;
  return nid;
}

export function removeNodes(graph, ids) {
  const gone = new Set(ids);
  for (const id of gone) delete graph.nodes[id];
  for (const node of Object.values(graph.nodes)) {
    for (const [exit, target] of Object.entries(node.exits || {})) {
      if (target && gone.has(target)) delete node.exits[exit];
    }
  }
  if (gone.has(graph.start)) {
    const trigger = Object.keys(graph.nodes).find((id) => graph.nodes[id].type.startsWith('trigger.'));
    graph.start = trigger || 'trigger';
  }
}

// Copy: the chosen nodes with the exits between them; exits leaving the group are dropped.
export function copyNodes(graph, ids) {
  const chosen = new Set(ids);
  const nodes = {};
  for (const id of ids) {
    const n = clone(graph.nodes[id]);
    for (const [exit, target] of Object.entries(n.exits || {})) {
      if (target && !chosen.has(target)) delete n.exits[exit];
    }
    nodes[id] = n;
  }
  return { kind: 'cpaas-journey-nodes', nodes };
}

export function pasteNodes(graph, catalogue, clip, offset = 40) {
  const map = {};
  const ids = [];
  for (const [oldId, n] of Object.entries(clip.nodes)) {
    if (!catalogue[n.type]) continue;
    const nid = newId(graph, n.type);
    map[oldId] = nid;
    graph.nodes[nid] = { type: n.type, config: clone(n.config || {}), exits: {},
      position: { x: snap((n.position?.x || 0) + offset), y: snap((n.position?.y || 0) + offset) } };
    if (n.label) graph.nodes[nid].label = n.label;
    ids.push(nid);
  }
  for (const [oldId, n] of Object.entries(clip.nodes)) {
    const nid = map[oldId];
    if (!nid) continue;
    for (const [exit, target] of Object.entries(n.exits || {})) {
      graph.nodes[nid].exits[exit] = target === null ? null : map[target] ?? undefined;
      if (graph.nodes[nid].exits[exit] === undefined) delete graph.nodes[nid].exits[exit];
    }
  }
  const start = graph.nodes[graph.start];
  if (!start) {
    const trig = ids.find((id) => catalogue[graph.nodes[id].type]?.trigger);
    if (trig) graph.start = trig;
  }
  return ids;
}

function ellipsis(s, n) { s = String(s ?? ''); return s.length > n ? `${s.slice(0, n - 1)}…` : s; }

function firstText(t) {
  if (!t || typeof t !== 'object') return '';
  return t.en ?? Object.values(t)[0] ?? '';
}

// As cpaas/durations.py writes them: 604800 -> "7 days", 9000 -> "2 h 30 min".
export function duration(s) {
  if (!s) return '';
  const parts = [];
  for (const [unit, size] of [['day', 86400], ['h', 3600], ['min', 60], ['s', 1]]) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n) parts.push(`${n} ${unit}${unit === 'day' && n > 1 ? 's' : ''}`);
  }
  return parts.join(' ');
}

// One line that says what a node does, e.g. "whatsapp → sms: Welcome {{contact.first_name}}".
export function summary(node) {
  const c = node.config || {};
  switch (node.type) {
    case 'message.send': case 'message.ask': case 'survey.rating': case 'payment.link': {
      const chain = [c.channel ?? 'preferred', ...(c.fallback || [])].join(' → ');
      return ellipsis(`${chain}: ${firstText(c.template || c.question || c.text)}`, 40);
    }
    case 'otp.verify': return ellipsis(`${(c.channels || []).join(' → ')} · ${duration(c.expiry_s || 300)}`, 40);
    case 'trigger.event': return ellipsis(`on ${c.event || '?'}`, 40);
    case 'trigger.keyword': return ellipsis(`keyword ${(c.keywords || [c.keyword]).filter(Boolean).join(', ')}`, 40);
    case 'wait.delay': return `for ${duration(c.seconds || c.duration_s || c.delay_s) || '?'}`;
    case 'wait.until': return c.mode === 'attribute' ? `until ${c.attribute || '?'}` : `until ${c.time || '?'}`;
    case 'wait.event': return ellipsis(`for ${c.event || '?'} (${duration(c.timeout_s) || 'no timeout'})`, 40);
    case 'webhook.call': return ellipsis(`${c.method || 'POST'} ${c.url || '?'}`, 40);
    case 'goal': return ellipsis(c.event ? `when ${c.event}` : c.name || '', 40);
    default: {
      const parts = Object.entries(c).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k}: ${v}`);
      return ellipsis(parts.join(', '), 40);
    }
  }
}

// Left-to-right layers by distance from the start (breadth first); the rest in a last column.
export function autoLayout(graph) {
  const ids = Object.keys(graph.nodes);
  const depth = {};
  const order = [];
  if (graph.nodes[graph.start]) {
    depth[graph.start] = 0;
    const queue = [graph.start];
    while (queue.length) {
      const id = queue.shift();
      order.push(id);
      for (const t of Object.values(graph.nodes[id].exits || {})) {
        if (t && graph.nodes[t] && depth[t] === undefined) { depth[t] = depth[id] + 1; queue.push(t); }
      }
    }
  }
  const max = Math.max(0, ...Object.values(depth));
  for (const id of ids) if (depth[id] === undefined) { depth[id] = max + 1; order.push(id); }
  const rows = {};
  for (const id of order) {
    const d = depth[id];
    rows[d] = rows[d] || 0;
    graph.nodes[id].position = { x: 40 + d * 360, y: 40 + rows[d] }; // room for the exit labels
    rows[d] += nodeHeight(Object.keys(graph.nodes[id].exits || {}).length + 1) + 50;
  }
}

export class History {
  constructor(graph) { this.stack = [JSON.stringify(graph)]; this.index = 0; }
  push(graph) {
    const s = JSON.stringify(graph);
    if (s === this.stack[this.index]) return false;
    this.stack.splice(this.index + 1);
    this.stack.push(s);
    if (this.stack.length > 200) this.stack.shift();
    this.index = this.stack.length - 1;
    return true;
  }
  undo() { if (this.index === 0) return null; this.index -= 1; return JSON.parse(this.stack[this.index]); }
  redo() { if (this.index >= this.stack.length - 1) return null; this.index += 1; return JSON.parse(this.stack[this.index]); }
  reset(graph) { this.stack = [JSON.stringify(graph)]; this.index = 0; }
}
