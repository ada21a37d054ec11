// Row sub-forms of the node configuration panel (templates/journeys/editor_subform*.html):
// add, remove and move rows from <template>s without a round trip, renumber the posted names
// (cfg-<field>-<row>-<part>, conditions cfg-rules-<row>-c-<n>-<part>), adapt a condition to its
// subject, show the A/B weight total, check a JSON body. Structural changes fire `change` on the
// form, which autosaves it (hx-trigger="change"). Loaded once; all listeners are delegated.

const ATTRS = ['name', 'id', 'for', 'list', 'aria-describedby', 'aria-labelledby', 'data-list'];

function esc(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

function ownRows(list) { return [...list.children].filter((el) => el.matches('[data-row]')); }

// Give each row of `list` the index of its position, in every name/id/for below it, then the
// lists nested in its rows.
function renumber(list) {
  const prefix = list.dataset.list;
  const pattern = new RegExp(`(^|\\s)${esc(prefix)}-(\\d+|__i__)-`, 'g');
  const noun = list.dataset.noun || 'Row';
  ownRows(list).forEach((row, k) => {
    for (const el of [row, ...row.querySelectorAll('*')]) {
      for (const a of ATTRS) {
        const v = el.getAttribute(a);
        if (v && v.includes(prefix)) el.setAttribute(a, v.replace(pattern, `$1${prefix}-${k}-`));
      }
    }
    const head = row.querySelector(':scope > .row-head');
    if (head) {
      head.querySelector('[data-n]').textContent = `${noun} ${k + 1}`;
      const what = `${noun.toLowerCase()} ${k + 1}`;
      for (const b of head.querySelectorAll('button[data-act]')) {
        b.setAttribute('aria-label', { up: `Move ${what} up`, down: `Move ${what} down`, remove: `Remove ${what}` }[b.dataset.act]);
      }
    }
    for (const inner of row.querySelectorAll('[data-list]')) {
      if (inner.closest('[data-row]') === row) renumber(inner);
    }
  });
  const box = list.closest('.subform');
  if (box && list.parentElement === box) {
    const empty = box.querySelector(':scope > .subform-empty');
    if (empty) empty.hidden = ownRows(list).length > 0;
  }
}

function changed(el) {
  const form = el.closest('form');
  if (form) form.dispatchEvent(new Event('change', { bubbles: true }));
}

function clone(template) {
  return template.content.firstElementChild.cloneNode(true);
}

function focusFirst(row) {
  row.querySelector('input:not([type=hidden]), select')?.focus();
}

// --- conditions adapt to their subject ----------------------------------------------------

function metaOf(el) {
  const box = el.closest('.subform[data-meta]');
  return box ? JSON.parse(box.dataset.meta) : null;
}

function adaptCondition(cond, { keepOp = true } = {}) {
  const meta = metaOf(cond);
  if (!meta) return;
  const source = cond.querySelector('[data-source]').value;
  const opSel = cond.querySelector('[data-op]');
  const ops = meta.ops[source] || [];
  let op = opSel.value;
  if (!ops.some(([o]) => o === op)) op = keepOp && !op ? '' : ops[0]?.[0] || '';
  opSel.replaceChildren(new Option('— choose —', ''), ...ops.map(([o, label]) => new Option(label, o, false, o === op)));
  opSel.value = op;
  const keyed = meta.keyed.includes(source);
  const part = (name) => cond.querySelector(`[data-part="${name}"]`);
  part('key').hidden = !keyed;
  if (keyed) {
    cond.querySelector('[data-key-label]').textContent = meta.key_labels[source];
    const key = part('key').querySelector('input');
    const box = cond.closest('.subform');
    const listId = box.querySelector('ol[data-list]').dataset.list;
    const list = {
      attribute: `${listId}-attributes`, field: `${listId}-fields`, event: `${listId}-eventprops`, context: `${listId}-context`,
    }[source];
    if (list) key.setAttribute('list', list); else key.removeAttribute('list');
  }
  const valueInput = part('value').querySelector('input[type="text"]');
  const listId = cond.closest('.subform').querySelector('ol[data-list]').dataset.list;
  if (source === 'tag') valueInput.setAttribute('list', `${listId}-tags`); else valueInput.removeAttribute('list');
  part('channel').hidden = !['consent', 'channel'].includes(source);
  part('purpose').hidden = source !== 'consent';
  part('value').hidden = !(source === 'tag' || (keyed && !meta.no_value.includes(op)));
  cond.querySelector('[data-value-label]').textContent = source === 'tag' ? 'Tag' : 'Value';
}

function adaptBranch(row) {
  const kind = row.querySelector('[data-branch-kind]').value;
  for (const part of row.querySelectorAll('[data-kind]')) part.hidden = !part.dataset.kind.split(' ').includes(kind);
  const label = row.querySelector('[data-values-label]');
  if (label) label.textContent = kind === 'quick_reply' ? 'Quick-reply ids, separated by commas' : 'Keywords, separated by commas';
}

// --- A/B weights ----------------------------------------------------------------------------

function weightTotal(box) {
  const out = box.querySelector('[data-weight-total]');
  if (!out) return;
  const rows = ownRows(box.querySelector('ol[data-list]'));
  const weights = rows.map((r) => {
    const v = r.querySelector('[data-weight]').value.trim().replace(/%$/, '');
    return /^\d+$/.test(v) ? Number(v) : NaN;
  });
  const sum = weights.reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0);
  out.classList.toggle('error', sum === 0 || weights.some(Number.isNaN));
  out.classList.toggle('warning', sum !== 100);
  if (weights.some(Number.isNaN)) { out.textContent = `Total: ${sum} % — every weight must be a whole number.`; return; }
  if (sum === 100) { out.textContent = 'Total: 100 %'; return; }
  if (sum === 0) { out.textContent = 'Total: 0 % — at least one variant needs a weight above 0.'; return; }
  // an experiment's arms are planned shares: they must add up to 100 (experiments.models)
  out.classList.add('error');
  out.textContent = `Total: ${sum} %, not 100: the weights must add up to 100.`;
}

// --- JSON check -----------------------------------------------------------------------------

// Where JSON.parse gave up, and why: a small scanner, since the browser's message does not
// always say where (V8 often names only the token).
function jsonError(text) {
  let i = 0;
  const fail = (why) => { throw { at: i, why }; };
  const what = () => (i >= text.length ? 'the end of the text' : `'${text[i]}'`);
  const ws = () => { while (/[ \t\n\r]/.test(text[i] || '')) i += 1; };
  const str = () => {
    i += 1;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') { i += 1; return; }
      if (c === '\\') { i += 2; continue; }
      if (c < ' ') fail('a line break or control character inside a string');
      i += 1;
    }
    fail('a string that is never closed');
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i += 1; ws();
      if (text[i] === '}') { i += 1; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a "quoted" property name, found ${what()}`);
        str(); ws();
        if (text[i] !== ':') fail(`expected ':', found ${what()}`);
        i += 1; value(); ws();
        if (text[i] === ',') { i += 1; continue; }
        if (text[i] === '}') { i += 1; return; }
        fail(`expected ',' or '}', found ${what()}`);
      }
    }
    if (c === '[') {
      i += 1; ws();
      if (text[i] === ']') { i += 1; return; }
      for (;;) {
        value(); ws();
        if (text[i] === ',') { i += 1; continue; }
        if (text[i] === ']') { i += 1; return; }
        fail(`expected ',' or ']', found ${what()}`);
      }
    }
    if (c === '"') { str(); return; }
    const num = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    num.lastIndex = i;
    if ((c === '-' || /\d/.test(c || '')) && num.exec(text)) { i = num.lastIndex; return; }
    for (const word of ['true', 'false', 'null']) if (text.startsWith(word, i)) { i += word.length; return; }
    fail(`expected a value, found ${what()}`);
  };
  try {
    value(); ws();
    if (i < text.length) fail(`unexpected ${what()} after the end of the JSON`);
  } catch (err) {
    if (err.at === undefined) throw err;
    const before = text.slice(0, err.at);
    return { at: err.at, line: before.split('\n').length, column: err.at - before.lastIndexOf('\n'), why: err.why };
  }
  return null;
}

function checkJson(field, { focus = true } = {}) {
  const area = field.querySelector('textarea[data-json]');
  const out = field.querySelector('[data-json-result]');
  const text = area.value;
  out.classList.remove('error');
  if (!text.trim()) { out.textContent = 'Empty: no body is sent.'; return; }
  try {
    JSON.parse(text);
    out.textContent = 'Valid JSON.';
    return;
  } catch (err) {
    const e = jsonError(text) || { at: 0, line: 1, column: 1, why: String(err.message) };
    out.textContent = `Not valid JSON at line ${e.line}, column ${e.column}: ${e.why}.`;
    out.classList.add('error');
    if (focus) {
      area.focus();
      area.setSelectionRange(e.at, Math.min(e.at + 1, text.length));
    }
  }
}

// --- events -------------------------------------------------------------------------------

document.addEventListener('click', (evt) => {
  const button = evt.target.closest('.node-form button[data-act], .node-form button[data-json-check]');
  if (!button || button.closest('fieldset[disabled]')) return;
  evt.preventDefault();
  if (button.matches('[data-json-check]')) {
    const field = button.closest('.field');
    rememberCheck(field);
    checkJson(field);
    return;
  }
  const act = button.dataset.act;
  const box = button.closest('.subform');
  const top = box.querySelector(':scope > ol[data-list]');
  if (act === 'add') {
    const row = clone(box.querySelector(':scope > template[data-row-template]'));
    top.appendChild(row);
    renumber(top);
    focusFirst(row);
    weightTotal(box);
    return; // a blank row changes nothing yet: the first thing typed in it saves
  }
  if (act === 'add-condition') {
    const list = button.closest('[data-row]').querySelector(':scope > ol.conds');
    const cond = clone(box.querySelector(':scope > template[data-condition-template]'));
    list.appendChild(cond);
    renumber(top);
    adaptCondition(cond);
    focusFirst(cond);
    return;
  }
  const row = button.closest('[data-row]');
  const list = row.parentElement;
  if (act === 'remove') {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    renumber(top);
    (next?.querySelector('button[data-act="remove"]') || box.querySelector('button[data-act="add"]')).focus();
  } else if (act === 'up' && row.previousElementSibling) {
    list.insertBefore(row, row.previousElementSibling);
    renumber(top);
    row.querySelector(`button[data-act="up"]`).focus();
  } else if (act === 'down' && row.nextElementSibling) {
    list.insertBefore(row.nextElementSibling, row);
    renumber(top);
    row.querySelector(`button[data-act="down"]`).focus();
  } else {
    return;
  }
  weightTotal(box);
  changed(box);
});

// before the form's own change handler posts it: a new subject brings its own operators
document.addEventListener('change', (evt) => {
  const t = evt.target;
  if (t.matches('.subform [data-source]')) adaptCondition(t.closest('.cond'), { keepOp: false });
  else if (t.matches('.subform [data-op]')) adaptCondition(t.closest('.cond'));
  else if (t.matches('.subform [data-branch-kind]')) adaptBranch(t.closest('[data-row]'));
}, true);

document.addEventListener('input', (evt) => {
  const box = evt.target.closest('.subform[data-subform="variants"]');
  if (box) weightTotal(box);
});

// Pressing Check also posts the text (the textarea's change on blur), and the answer redraws the
// panel, in any order with the click: it may even land between the button's mousedown and mouseup,
// and then the browser fires no click at all (down and up on different elements). So the check is
// remembered from the mousedown on, and shown again on every redraw of the same text (see init).
let lastCheck = null; // {field, text, focus}
function rememberCheck(field) {
  lastCheck = { field: field.dataset.field, text: field.querySelector('textarea[data-json]').value, focus: true };
}
document.addEventListener('mousedown', (evt) => {
  const button = evt.target.closest('.node-form button[data-json-check]');
  if (button && !button.closest('fieldset[disabled]')) rememberCheck(button.closest('.field'));
});
function init(root) {
  root.querySelectorAll('.subform[data-subform="variants"]').forEach(weightTotal);
  const field = lastCheck && root.querySelector?.(`.field[data-field="${CSS.escape(lastCheck.field)}"]`);
  const area = field && field.querySelector('textarea[data-json]');
  if (!area) return;
  if (area.value !== lastCheck.text) { lastCheck = null; return; }
  // the focus goes back to a mistake once, after the post the click caused, never on later redraws
  checkJson(field, { focus: lastCheck.focus });
  lastCheck.focus = false;
}
document.body.addEventListener('htmx:afterSettle', (evt) => init(evt.detail.elt || document));
init(document);

// --- ordered channel pickers (fallback chains, OTP channels): one hidden input per chosen ----
// channel, in order; adding, moving and removing post the form like any change.
function channelEmpty(list) {
  const hint = list.parentElement.querySelector('.subform-empty');
  if (hint) hint.hidden = list.children.length > 0;
}

document.addEventListener('change', (evt) => {
  const add = evt.target.closest?.('select[data-channel-add]');
  if (!add || !add.value) return;
  // capture phase: the row is in the form before htmx posts it for this same change event
  const list = document.getElementById(add.dataset.channelAdd);
  const template = add.closest('.field').querySelector(`template[data-channel-item="${CSS.escape(add.dataset.channelAdd)}"]`);
  const option = add.selectedOptions[0];
  const html = template.innerHTML.replaceAll('__kind__', option.value).replaceAll('__label__', option.textContent);
  list.insertAdjacentHTML('beforeend', html);
  option.remove();
  add.value = '';
  channelEmpty(list);
}, true);

document.addEventListener('click', (evt) => {
  const button = evt.target.closest('[data-channel-move], [data-channel-remove]');
  if (!button) return;
  const item = button.closest('li');
  const list = item.parentElement;
  if (button.matches('[data-channel-remove]')) {
    const add = list.parentElement.querySelector('select[data-channel-add]');
    add?.append(new Option(item.querySelector('[data-label]').textContent, item.dataset.kind));
    item.remove();
    channelEmpty(list);
    add?.focus();
  } else if (button.dataset.channelMove === '-1' && item.previousElementSibling) {
    list.insertBefore(item, item.previousElementSibling);
    button.focus();
  } else if (button.dataset.channelMove === '1' && item.nextElementSibling) {
    list.insertBefore(item.nextElementSibling, item);
    button.focus();
  } else return;
  changed(list);
});
