// The outline view: every node with its exits as plain form controls, so a journey can be
// built with the keyboard or a screen reader (add a node, connect an exit, configure).

function esc(s) { return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c])); }

function order(graph) {
  const out = []; const seen = new Set();
  const visit = (id) => {
    const queue = [id];
    while (queue.length) {
      const cur = queue.shift();
      if (seen.has(cur) || !graph.nodes[cur]) continue;
      seen.add(cur); out.push(cur);
      for (const t of Object.values(graph.nodes[cur].exits || {})) if (t) queue.push(t);
    }
  };
  visit(graph.start);
  for (const id of Object.keys(graph.nodes)) visit(id);
  return out;
}

export function renderOutline(root, state, catalogue, actions) {
  const focusedId = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : null;
  const types = Object.values(catalogue);
  const rows = order(state.graph).map((id, i) => {
    const n = state.graph.nodes[id];
    const spec = catalogue[n.type] || { label: n.type };
    const title = n.label || state.titles?.[id] || spec.label; // the canvas's title
    const probs = state.problems.filter((p) => p.node === id);
    const exits = (state.exits[id] || spec.exits || []).map((e) => actions.exitPicker(id, e)).join('');
    return `<li class="o-node" data-node="${esc(id)}">
      <h3 id="o-h-${esc(id)}">${i + 1}. ${esc(title)} <span class="muted mono">${esc(id)}</span>${id === state.graph.start ? ' <span class="badge">start</span>' : ''}</h3>
      ${probs.length ? `<p class="error">${probs.map((p) => esc(p.message)).join(' ')}</p>` : ''}
      <div class="o-exits" role="group" aria-labelledby="o-h-${esc(id)}">${exits || '<span class="muted">No exits.</span>'}</div>
      <button type="button" class="small" id="o-conf-${esc(id)}" data-o-configure="${esc(id)}">Configure ${esc(n.label || spec.label)}</button>
      <button type="button" class="small danger" id="o-del-${esc(id)}" data-o-delete="${esc(id)}">Delete</button>
    </li>`;
  }).join('');
  root.innerHTML = `<h2 tabindex="-1">Outline</h2>
    <p class="help">Every node and where each exit goes. Choose a target for an exit to connect it.</p>
    <div class="toolbar"><label for="o-add-type">Add a node</label>
      <select id="o-add-type">${types.map((t) => `<option value="${esc(t.type)}">${esc(t.label)}</option>`).join('')}</select>
      <button type="button" id="o-add">Add</button></div>
    <ol>${rows}</ol>`;
  root.querySelector('#o-add').onclick = () => {
    const id = actions.add(root.querySelector('#o-add-type').value);
    root.querySelector(`#o-conf-${CSS.escape(id)}`)?.focus();
  };
  root.querySelectorAll('[data-o-configure]').forEach((b) => { b.onclick = () => actions.configure(b.dataset.oConfigure); });
  root.querySelectorAll('[data-o-delete]').forEach((b) => { b.onclick = () => actions.remove(b.dataset.oDelete); });
  if (focusedId) document.getElementById(focusedId)?.focus();
}
