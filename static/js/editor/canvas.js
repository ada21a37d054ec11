// The JointJS view of the graph JSON. `sync(state)` makes the cells match the JSON (cheap when
// little changed); user gestures are reported through the callbacks, never written here.
/* global joint */
import { GRID, NODE_W, nodeHeight, summary } from './model.js';

// Exit ports: a circle per exit, its name (and count) on a white tag to the right so links
// and the grid never cut it; an ended exit is a grey square (■), explained in its tooltip and
// in the legend under the canvas.
const PORT_GROUPS = {
      in: {
        position: { name: 'left' },
        attrs: { portBody: { r: 6, magnet: 'passive', fill: '#eef0f6', stroke: '#5f6b80', title: 'Entry: drop a link from an exit here' } },
        markup: [{ tagName: 'circle', selector: 'portBody' }],
      },
      out: {
        position: { name: 'right' },
        attrs: {
          // one element (a rect: round for an exit, square when it ends the journey), so the
          // magnet carries the port's attributes
          portBody: { width: 14, height: 14, x: -7, y: -7, rx: 7, ry: 7, magnet: true, fill: '#fff', stroke: '#4f46e5', strokeWidth: 2, cursor: 'crosshair' },
          label: { fontSize: 11, fill: '#3d4557' },
          labelBg: { ref: 'label', x: 'calc(x - 3)', y: 'calc(y - 1)', width: 'calc(w + 6)', height: 'calc(h + 2)',
            rx: 3, ry: 3, fill: '#fff', fillOpacity: 0.92, stroke: '#dfe3ea' },
        },
        markup: [{ tagName: 'rect', selector: 'portBody' }],
        label: { position: { name: 'right', args: { x: 12, y: -10 } },
          markup: [{ tagName: 'rect', selector: 'labelBg' }, { tagName: 'text', selector: 'label', className: 'port-label' }] },
      },
    };

// the node's text: the title on one line, the summary on up to two, cut with … to the width
const TITLE_WRAP = { width: -50, maxLineCount: 1, ellipsis: true };
const SUMMARY_WRAP = { width: -24, maxLineCount: 2, ellipsis: true };

const NodeShape = joint.dia.Element.define('cpaas.Node', {
  size: { width: NODE_W, height: 84 },
  ports: { groups: PORT_GROUPS, items: [] },
  attrs: {
    body: { width: 'calc(w)', height: 'calc(h)', rx: 8, ry: 8, fill: '#fff', stroke: '#b9c0cf', strokeWidth: 1.5 },
    icon: { x: 12, y: 12, width: 18, height: 18, fill: 'none', stroke: '#4f46e5', strokeWidth: 2,
      strokeLinecap: 'round', strokeLinejoin: 'round', pointerEvents: 'none' },
    title: { x: 38, y: 21, fontSize: 13, fontWeight: 600, fill: '#1d2330', textVerticalAnchor: 'middle', text: '', textWrap: TITLE_WRAP },
    summary: { x: 12, y: 40, fontSize: 11, lineHeight: 14, fill: '#5b6375', textVerticalAnchor: 'top', text: '', textWrap: SUMMARY_WRAP },
    counts: { x: 12, y: 'calc(h + 14)', fontSize: 11, fill: '#16794a', text: '' },
    badge: { transform: 'translate(calc(w), 0)', display: 'none', cursor: 'pointer' },
    badgeCircle: { r: 10, fill: '#c0262d' },
    badgeText: { fill: '#fff', fontSize: 11, fontWeight: 700, textAnchor: 'middle', y: 4, text: '' },
  },
}, {
  markup: [
    { tagName: 'rect', selector: 'body', className: 'body' },
    { tagName: 'use', selector: 'icon' },
    { tagName: 'text', selector: 'title', className: 'node-title' },
    { tagName: 'text', selector: 'summary', className: 'node-summary' },
    { tagName: 'text', selector: 'counts' },
    { tagName: 'g', selector: 'badge', children: [
      { tagName: 'circle', selector: 'badgeCircle' }, { tagName: 'text', selector: 'badgeText' }] },
  ],
});

const EXIT_TIPS = {
  open: (e) => `Exit '${e}' is not connected: drag from this dot to a node, or choose "End the journey here" in the panel.`,
  end: (e) => `Exit '${e}' ends the journey here (■).`,
  to: (e) => `Exit '${e}': drag the link's arrowhead to change where it goes.`,
};

// Links go round the nodes (JointJS's manhattan router) with rounded corners. The search costs
// O(nodes) per link: journeys over ROUTED_MAX nodes use right angles without it (bench/editor.py:
// 140 nodes took 7 s to open with the search on every link, at load 20).
const ROUTED_MAX = 80;
const ROUTER = { name: 'manhattan', args: { padding: 14, step: 20, startDirections: ['right'], endDirections: ['left'], maximumLoops: 1000 } };
const FAST_ROUTER = { name: 'rightAngle', args: { margin: 14 } };
const CONNECTOR = { name: 'rounded', args: { radius: 8 } };

// JointJS would inject its one CSS rule as a <style> element, which the Content-Security-Policy
// refuses without a nonce: the rule lives in editor.css instead.
joint.dia.Paper.prototype.stylesheet = '';

// " · 40%": the share of those who entered the node that left by this exit (the journey
// analytics page shows the same number, analytics/funnel.py exit_share)
function exitShare(count, entered) {
  return count !== undefined && entered ? ` · ${Math.round((100 * count) / entered)}%` : '';
}

export class Canvas {
  constructor(el, { catalogue, readonly, on, icons }) {
    this.catalogue = catalogue;
    this.icons = icons || '';
    this.readonly = readonly;
    this.on = on;
    this.selected = new Set();
    this.graph = new joint.dia.Graph({}, { cellNamespace: { ...joint.shapes, cpaas: { Node: NodeShape } } });
    this.paper = new joint.dia.Paper({
      el, model: this.graph, width: '100%', height: '100%', gridSize: GRID, drawGrid: { name: 'dot', args: { color: '#c9cfdb' } },
      background: { color: '#f8f9fb' }, async: true, frozen: true, sorting: joint.dia.Paper.sorting.APPROX,
      cellViewNamespace: { ...joint.shapes, cpaas: { Node: NodeShape } },
      interactive: readonly ? false : { linkMove: false, labelMove: false, vertexAdd: false, arrowheadMove: true },
      linkPinning: false, markAvailable: true, snapLinks: { radius: 30 },
      defaultConnectionPoint: { name: 'boundary' }, defaultConnector: CONNECTOR,
      defaultRouter: ROUTER,
      defaultLink: () => new joint.shapes.standard.Link({ attrs: { line: { stroke: '#7b8499', strokeWidth: 2 } } }),
      viewport: (view) => this.isVisible(view.model), // legacy view management: the visibility callback
      validateMagnet: (view, magnet) => magnet.getAttribute('port-group') === 'out',
      validateConnection: (vs, ms, vt) => vt && vt.model.isElement() && vs.model.id !== vt.model.id
        && !this.catalogue[vt.model.get('nodeType')]?.trigger,
    });
    this.bind();
  }

  // Large journeys: only the cells near the visible area are rendered (JointJS mounts and
  // unmounts views as the area changes), so 2,000 nodes open as fast as a screenful.
  isVisible(cell) {
    if (!this.big || !this.area) return true;
    if (cell.isLink()) {
      const s = this.graph.getCell(cell.source().id); const t = this.graph.getCell(cell.target().id);
      return Boolean((s && this.area.intersect(s.getBBox())) || (t && this.area.intersect(t.getBBox())));
    }
    return Boolean(this.area.intersect(cell.getBBox()));
  }

  updateArea() {
    this.area = this.paper.getArea().inflate(300);
    this.paper.wakeUp?.();
  }

  bind() {
    const { paper, graph } = this;
    paper.on('translate scale resize', () => this.updateArea());
    paper.on('element:pointerclick', (view, evt) => {
      if (evt.target.closest('[joint-selector="badge"]')) { this.on.badge(view.model.id); return; }
      this.on.select(view.model.id, evt.shiftKey || evt.ctrlKey || evt.metaKey);
    });
    paper.on('blank:pointerclick', () => this.on.select(null, false));
    paper.on('link:pointerclick', (view) => this.selectLink(view.model));
    paper.on('link:connect', (view) => {
      const l = view.model;
      const s = l.source(); const t = l.target();
      if (s.id && s.port && t.id) this.on.connect(s.id, s.port, t.id);
    });
    graph.on('remove', (cell, coll, opt) => {
      if (opt.sync || !cell.isLink()) return;
      const s = cell.source(); const t = cell.target();
      if (s.id && s.port && t.id) this.on.disconnect(s.id, s.port, t.id);
    });
    paper.on('link:mouseenter', (view) => {
      if (this.readonly) return;
      view.addTools(new joint.dia.ToolsView({ tools: [
        new joint.linkTools.Remove({ distance: '50%' }), new joint.linkTools.TargetArrowhead()] }));
    });
    paper.on('link:mouseleave', (view) => view.removeTools());
    // group move: the others follow the one being dragged
    paper.on('element:pointerdown', (view) => {
      this.dragStart = {};
      const ids = this.selected.has(view.model.id) ? [...this.selected] : [view.model.id];
      for (const id of ids) { const c = graph.getCell(id); if (c) this.dragStart[id] = { ...c.position() }; }
      this.dragging = view.model.id;
    });
    graph.on('change:position', (cell, pos, opt) => {
      if (opt.sync || opt.group || !this.dragStart || cell.id !== this.dragging) return;
      const s = this.dragStart[cell.id];
      if (!s) return;
      const dx = pos.x - s.x; const dy = pos.y - s.y;
      for (const [id, p] of Object.entries(this.dragStart)) {
        if (id !== cell.id) graph.getCell(id)?.position(p.x + dx, p.y + dy, { group: true });
      }
    });
    paper.on('element:pointerup', () => {
      if (!this.dragStart) return;
      const moved = {};
      for (const id of Object.keys(this.dragStart)) {
        const c = graph.getCell(id); if (!c) continue;
        const p = c.position(); const s = this.dragStart[id];
        if (p.x !== s.x || p.y !== s.y) moved[id] = { x: p.x, y: p.y };
      }
      this.dragStart = null;
      if (Object.keys(moved).length) this.on.move(moved);
    });
    // zoom with the wheel, around the pointer
    const wheel = (evt, x, y, delta) => { evt.preventDefault(); this.zoomAt(delta > 0 ? 1.1 : 1 / 1.1, x, y); };
    paper.on('blank:mousewheel', wheel);
    paper.on('cell:mousewheel', (view, evt, x, y, delta) => wheel(evt, x, y, delta));
    // pan by dragging the background; Shift+drag selects a rectangle
    paper.on('blank:pointerdown', (evt, x, y) => {
      if (evt.shiftKey) { this.rubber = { x, y, el: null }; return; }
      const t = paper.translate();
      this.pan = { cx: evt.clientX, cy: evt.clientY, tx: t.tx, ty: t.ty };
      paper.el.classList.add('panning');
    });
    paper.on('blank:pointermove', (evt, x, y) => {
      if (this.pan) {
        paper.translate(this.pan.tx + evt.clientX - this.pan.cx, this.pan.ty + evt.clientY - this.pan.cy);
        this.on.viewport?.();
      } else if (this.rubber) {
        const r = this.rubber;
        if (!r.el) { r.el = document.createElement('div'); r.el.className = 'rubber'; paper.el.parentElement.appendChild(r.el); }
        const a = paper.localToPaperPoint({ x: Math.min(r.x, x), y: Math.min(r.y, y) });
        const sc = paper.scale().sx;
        Object.assign(r.el.style, { left: `${a.x}px`, top: `${a.y}px`, width: `${Math.abs(x - r.x) * sc}px`, height: `${Math.abs(y - r.y) * sc}px` });
      }
    });
    paper.on('blank:pointerup', (evt, x, y) => {
      if (this.pan) { this.pan = null; paper.el.classList.remove('panning'); }
      if (this.rubber) {
        const r = this.rubber; this.rubber = null; r.el?.remove();
        const area = new joint.g.Rect(Math.min(r.x, x), Math.min(r.y, y), Math.abs(x - r.x), Math.abs(y - r.y));
        const ids = graph.findElementsInArea(area).map((e) => e.id);
        this.on.selectMany(ids);
      }
    });
  }

  zoomAt(factor, x, y) {
    const s = Math.min(2, Math.max(0.1, this.paper.scale().sx * factor));
    if (x === undefined) {
      const r = this.paper.el.getBoundingClientRect();
      ({ x, y } = this.paper.clientToLocalPoint({ x: r.left + r.width / 2, y: r.top + r.height / 2 }));
    }
    this.paper.scaleUniformAtPoint(s, { x, y });
    this.on.viewport?.();
  }

  fit() {
    if (!this.graph.getElements().length) return;
    this.paper.transformToFitContent({ padding: 40, maxScale: 1, minScale: 0.05, useModelGeometry: true });
    this.on.viewport?.();
  }

  centerOn(id) {
    const c = this.graph.getCell(id); if (!c) return;
    const bb = c.getBBox(); const sc = this.paper.scale().sx;
    const r = this.paper.el.getBoundingClientRect();
    this.paper.translate(r.width / 2 - (bb.x + bb.width / 2) * sc, r.height / 2 - (bb.y + bb.height / 2) * sc);
    this.on.viewport?.();
  }

  clientToLocal(x, y) { return this.paper.clientToLocalPoint({ x, y }); }

  visibleCenter() {
    const r = this.paper.el.getBoundingClientRect();
    return this.clientToLocal(r.left + r.width / 2 - NODE_W / 2, r.top + r.height / 3);
  }

  // the test contact's path: visited nodes tinted, the current one outlined
  light(visited, current) {
    const on = new Set(visited || []);
    for (const el of this.graph.getElements()) {
      const want = el.id === current ? 'now' : (on.has(el.id) ? 'seen' : '');
      if ((el.get('lit') || '') === want) continue;
      el.set('lit', want, { sync: true });
      el.attr('body/fill', { now: '#fff1b8', seen: '#fffbe6', '': '#fff' }[want], { sync: true });
    }
  }

  selectLink(link) {
    this.selectedLink?.attr('line/stroke', '#7b8499');
    this.selectedLink = link;
    link?.attr('line/stroke', '#4f46e5');
  }

  // state: {graph, exits, problemsByNode, counts, selected}
  sync(state, { first = false } = {}) {
    const { graph: jg } = this;
    const nodes = state.graph.nodes || {};
    const add = [];
    for (const [id, n] of Object.entries(nodes)) {
      const spec = this.catalogue[n.type] || { label: n.type, icon: 'circle-question-mark' };
      const exits = state.exits[id] || spec.exits || [];
      const probs = state.problemsByNode[id] || 0;
      const cnt = state.counts?.[id];
      const countText = cnt ? `${cnt.entered || 0} entered · ${cnt.waiting || 0} waiting${cnt.failed ? ` · ${cnt.failed} failed` : ''}` : '';
      const title = n.label || state.titles?.[id] || spec.label;
      const exitState = exits.map((e) => `${e}=${id in nodes && e in (n.exits || {}) ? (n.exits[e] === null ? 'end' : 'to') : 'open'}:${cnt?.[`exit:${e}`] ?? ''}`);
      const sig = JSON.stringify([n.type, title, summary(n), exitState, probs, countText]);
      let el = jg.getCell(id);
      const p = n.position || { x: 0, y: 0 };
      if (el && el.get('sig') === sig) {
        const cur = el.position();
        if (cur.x !== p.x || cur.y !== p.y) el.position(p.x, p.y, { sync: true });
        continue;
      }
      const attrs = {
        icon: { href: `${this.icons}#${spec.icon}` },
        body: { title: `${title} (${spec.label})${summary(n) ? `: ${summary(n)}` : ''}` },
        title: { text: title },
        summary: { text: summary(n) },
        counts: { text: countText },
        badge: { display: probs ? 'block' : 'none' },
        badgeText: { text: String(probs) },
      };
      const items = [];
      if (!spec.trigger) items.push({ id: '__in', group: 'in' });
      for (const e of exits) {
        const target = (n.exits || {})[e];
        const c = cnt?.[`exit:${e}`];
        const share = exitShare(c, cnt?.entered);
        const how = target === undefined ? 'open' : (target === null ? 'end' : 'to');
        items.push({ id: e, group: 'out', attrs: {
          label: { text: `${e}${c !== undefined ? ` (${c}${share})` : ''}` },
          portBody: { fill: { open: '#ffe3e3', end: '#5f6b80', to: '#fff' }[how],
            stroke: { open: '#c0262d', end: '#5f6b80', to: '#4f46e5' }[how], title: EXIT_TIPS[how](e),
            rx: how === 'end' ? 2 : 7, ry: how === 'end' ? 2 : 7 },
        } });
      }
      const size = { width: NODE_W, height: nodeHeight(exits.length) };
      if (!el) {
        const sel = state.selected.has(id);
        attrs.body = { ...attrs.body, stroke: sel ? '#4f46e5' : (probs ? '#e07a80' : '#b9c0cf'), strokeWidth: sel ? 3 : 1.5 };
        add.push(new NodeShape({ id, nodeType: n.type, sig, position: { x: p.x, y: p.y }, size, attrs,
          look: sel ? 'sel' : (probs ? 'bad' : 'ok'), ports: { groups: PORT_GROUPS, items } }));
        continue;
      }
      el.set({ sig, nodeType: n.type, look: null }, { sync: true });
      const cur = el.position();
      if (cur.x !== p.x || cur.y !== p.y) el.position(p.x, p.y, { sync: true });
      el.resize(size.width, size.height, { sync: true });
      el.attr(attrs, { sync: true });
      el.prop('ports/items', items, { rewrite: true, sync: true });
    }
    for (const el of jg.getElements()) if (!nodes[el.id]) el.remove({ sync: true });
    this.big = Object.keys(nodes).length > 150;
    this.paper.options.defaultRouter = Object.keys(nodes).length > ROUTED_MAX ? FAST_ROUTER : ROUTER;
    if (first && this.big) this.updateArea();
    // the first load goes in with one reset (addCells adds one by one, re-sorting each time)
    const bulk = first && jg.getCells().length === 0;
    if (add.length && !bulk) jg.addCells(add, { sync: true });
    // links: one per connected exit
    const want = new Map();
    for (const [id, n] of Object.entries(nodes)) {
      for (const [e, t] of Object.entries(n.exits || {})) if (t && nodes[t]) want.set(`${id}|${e}`, t);
    }
    const links = [];
    for (const l of jg.getLinks()) {
      const s = l.source(); const key = `${s.id}|${s.port}`;
      if (want.get(key) === l.target().id) { want.delete(key); continue; }
      l.remove({ sync: true });
    }
    for (const [key, t] of want) {
      const [s, e] = key.split('|');
      links.push(new joint.shapes.standard.Link({
        source: { id: s, port: e }, target: { id: t },
        attrs: { line: { stroke: '#7b8499', strokeWidth: 2 } },
      }));
    }
    if (bulk) jg.resetCells([...add, ...links], { sync: true });
    else if (links.length) jg.addCells(links, { sync: true });
    // selection and problem outline
    for (const el of jg.getElements()) {
      const on = state.selected.has(el.id);
      const look = on ? 'sel' : (state.problemsByNode[el.id] ? 'bad' : 'ok');
      if (el.get('look') !== look) {
        el.set('look', look, { sync: true });
        el.attr('body', { stroke: { sel: '#4f46e5', bad: '#e07a80', ok: '#b9c0cf' }[look], strokeWidth: on ? 3 : 1.5 }, { sync: true });
      }
    }
    this.selected = state.selected;
    if (first) this.paper.unfreeze();
  }
}
