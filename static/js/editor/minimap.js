// The overview (in the side column, so it never covers the canvas): every node as a small box,
// the area the canvas shows as a framed window with the rest dimmed; click to go there.
import { NODE_W, nodeHeight } from './model.js';

export function drawMinimap(box, state, canvas) {
  if (!box || !box.clientWidth) return; // collapsed
  let c = box.querySelector('canvas');
  if (!c) {
    c = document.createElement('canvas');
    box.appendChild(c);
    c.addEventListener('click', (evt) => {
      const m = c._map; if (!m) return;
      const r = c.getBoundingClientRect();
      const x = m.x0 + ((evt.clientX - r.left) * (c.width / r.width)) / m.k;
      const y = m.y0 + ((evt.clientY - r.top) * (c.height / r.height)) / m.k;
      const pr = canvas.paper.el.getBoundingClientRect(); const sc = canvas.paper.scale().sx;
      canvas.paper.translate(pr.width / 2 - x * sc, pr.height / 2 - y * sc);
      drawMinimap(box, state, canvas);
    });
  }
  // the drawing buffer matches the box, so nothing is stretched
  const w = Math.round(box.clientWidth * (window.devicePixelRatio || 1));
  const h = Math.round(box.clientHeight * (window.devicePixelRatio || 1));
  if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
  const ctx = c.getContext('2d');
  ctx.clearRect(0, 0, c.width, c.height);
  const nodes = Object.entries(state.graph.nodes);
  if (!nodes.length) return;
  const pr = canvas.paper.el.getBoundingClientRect();
  const a = canvas.paper.clientToLocalPoint({ x: pr.left, y: pr.top });
  const b = canvas.paper.clientToLocalPoint({ x: pr.right, y: pr.bottom });
  const height = (id) => nodeHeight((state.exits[id] || []).length);
  let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
  for (const [id, n] of nodes) {
    const p = n.position || { x: 0, y: 0 };
    x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x + NODE_W + 60); y1 = Math.max(y1, p.y + height(id));
  }
  // the map shows the journey and the visible area, whichever is larger
  x0 = Math.min(x0, a.x); y0 = Math.min(y0, a.y); x1 = Math.max(x1, b.x); y1 = Math.max(y1, b.y);
  const pad = 10;
  const k = Math.min((c.width - 2 * pad) / (x1 - x0), (c.height - 2 * pad) / (y1 - y0));
  const ox = pad + ((c.width - 2 * pad) - (x1 - x0) * k) / 2;
  const oy = pad + ((c.height - 2 * pad) - (y1 - y0) * k) / 2;
  c._map = { x0: x0 - ox / k, y0: y0 - oy / k, k };
  const X = (x) => ox + (x - x0) * k; const Y = (y) => oy + (y - y0) * k;
  for (const [id, n] of nodes) {
    const p = n.position || { x: 0, y: 0 };
    ctx.fillStyle = state.problemsByNode[id] ? '#c0262d' : (state.selected.has(id) ? '#4f46e5' : '#7b8499');
    ctx.fillRect(X(p.x), Y(p.y), Math.max(3, NODE_W * k), Math.max(2, height(id) * k));
  }
  // dim what is off screen, frame what is on it
  const vx = X(a.x); const vy = Y(a.y); const vw = (b.x - a.x) * k; const vh = (b.y - a.y) * k;
  ctx.fillStyle = 'rgba(21, 26, 45, 0.14)';
  ctx.beginPath();
  ctx.rect(0, 0, c.width, c.height);
  ctx.rect(vx, vy, vw, vh);
  ctx.fill('evenodd');
  ctx.fillStyle = 'rgba(79, 70, 229, 0.08)';
  ctx.fillRect(vx, vy, vw, vh);
  ctx.strokeStyle = '#4f46e5'; ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
  ctx.strokeRect(vx, vy, vw, vh);
}
