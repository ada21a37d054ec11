// The overview: every node as a dot-sized box, the visible area as a frame; click to go there.
import { NODE_W, nodeHeight } from './model.js';

export function drawMinimap(box, state, canvas) {
  if (!box) return;
  let c = box.querySelector('canvas');
  if (!c) {
    c = document.createElement('canvas');
    c.width = 400; c.height = 260;
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
  const nodes = Object.values(state.graph.nodes);
  const ctx = c.getContext('2d');
  ctx.clearRect(0, 0, c.width, c.height);
  if (!nodes.length) return;
  let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
  for (const n of nodes) {
    const p = n.position || { x: 0, y: 0 };
    x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x + NODE_W); y1 = Math.max(y1, p.y + 120);
  }
  const k = Math.min(c.width / (x1 - x0 + 40), c.height / (y1 - y0 + 40));
  c._map = { x0: x0 - 20, y0: y0 - 20, k };
  ctx.fillStyle = '#8b93a7';
  for (const [id, n] of Object.entries(state.graph.nodes)) {
    const p = n.position || { x: 0, y: 0 };
    ctx.fillStyle = state.problemsByNode[id] ? '#d9545b' : '#8b93a7';
    ctx.fillRect((p.x - x0 + 20) * k, (p.y - y0 + 20) * k, Math.max(2, NODE_W * k), Math.max(2, nodeHeight(2) * k));
  }
  const pr = canvas.paper.el.getBoundingClientRect();
  const a = canvas.paper.clientToLocalPoint({ x: pr.left, y: pr.top });
  const b = canvas.paper.clientToLocalPoint({ x: pr.right, y: pr.bottom });
  ctx.strokeStyle = '#4f46e5'; ctx.lineWidth = 2;
  ctx.strokeRect((a.x - x0 + 20) * k, (a.y - y0 + 20) * k, (b.x - a.x) * k, (b.y - a.y) * k);
}
