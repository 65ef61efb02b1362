// Small DOM helpers shared by every page: element builder, messages, dialogs, copy and
// download buttons, forms. Everything is keyboard-usable and labelled for screen readers.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'required' || k === 'readOnly' || k === 'multiple')
      el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
export const newId = (p = 'f') => `${p}-${++uid}`;

// A message box inside a page (errors stay until the next attempt; role=alert announces them).
export function messageBox() {
  const box = h('div', { class: 'message', hidden: true });
  return {
    el: box,
    error(e) {
      box.hidden = false;
      box.className = 'message error';
      box.setAttribute('role', 'alert');
      clear(box, e && e.message ? e.message : String(e),
        e && e.code && e.code !== 'network' ? h('span', { class: 'code' }, ` (${e.code})`) : null);
      box.scrollIntoView({ block: 'nearest' });
    },
    ok(text) {
      box.hidden = false;
      box.className = 'message ok';
      box.setAttribute('role', 'status');
      clear(box, text);
    },
    clear() { box.hidden = true; clear(box); },
  };
}

export function toast(text, kind = 'ok') {
  // One toast at a time: the newest message replaces the previous one.
  const t = h('div', { class: `toast ${kind}` }, text);
  document.getElementById('toasts').replaceChildren(t);
  setTimeout(() => t.remove(), 4000);
}

// Runs an async action from a button: disables it meanwhile and reports errors in msg.
export async function busy(button, msg, fn) {
  if (msg) msg.clear();
  const was = button ? button.disabled : false;
  if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
  try {
    return await fn();
  } catch (e) {
    if (msg) msg.error(e); else toast(e.message || String(e), 'error');
    return undefined;
  } finally {
    if (button) { button.disabled = was; button.removeAttribute('aria-busy'); }
  }
}

export function field(label, input, help) {
  const id = input.id || newId();
  input.id = id;
  const helpId = help ? id + '-help' : null;
  if (helpId) input.setAttribute('aria-describedby', helpId);
  const isCheck = input.type === 'checkbox' || input.type === 'radio';
  if (isCheck) {
    return h('div', { class: 'field check' }, input, h('label', { for: id }, label),
      help ? h('p', { class: 'help', id: helpId }, help) : null);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    help ? h('p', { class: 'help', id: helpId }, help) : null);
}

export function input(name, attrs = {}) {
  return h('input', { name, type: 'text', ...attrs });
}

export function select(name, options, value, attrs = {}) {
  return h('select', { name, ...attrs },
    options.map((o) => {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: String(v) === String(value) }, label);
    }));
}

export function checkbox(name, checked, attrs = {}) {
  return h('input', { type: 'checkbox', name, checked, ...attrs });
}

export function textarea(name, attrs = {}) {
  return h('textarea', { name, rows: 8, spellcheck: 'false', ...attrs });
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard API refused (no permission, plain HTTP): fall back to a selection copy.
    const ta = h('textarea', { class: 'offscreen', readOnly: true }, text);
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  toast('Copied to the clipboard');
}

export function copyButton(getText, label = 'Copy') {
  return h('button', { type: 'button', class: 'secondary', onclick: () => copyText(typeof getText === 'function' ? getText() : getText) }, label);
}

export function download(name, data, type = 'application/octet-stream') {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, class: 'offscreen' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// A text block (PEM, CSR, URL) with Copy and optional Download buttons.
export function textBlock(label, text, fileName) {
  const id = newId('tb');
  return h('div', { class: 'textblock' },
    h('label', { for: id }, label),
    h('textarea', { id, readOnly: true, rows: Math.min(14, Math.max(text.split('\n').length, Math.ceil(text.length / 80)) + 1), spellcheck: 'false' }, text),
    h('div', { class: 'actions' }, copyButton(text),
      fileName ? h('button', { type: 'button', class: 'secondary', onclick: () => download(fileName, text, 'application/x-pem-file') }, 'Download') : null));
}

// Modal dialog on <dialog>: focus is trapped by the browser, Escape closes it.
export function modal(title, body, actions = []) {
  const titleId = newId('dlg');
  const dlg = h('dialog', { class: 'modal', 'aria-labelledby': titleId },
    h('div', { class: 'modal-head' }, h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', onclick: () => dlg.close() }, '×')),
    h('div', { class: 'modal-body' }, body),
    actions.length ? h('div', { class: 'modal-actions' }, actions) : null);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

// Confirmation for irreversible actions. With typeName the user must type it exactly.
export function confirmDialog({ title, text, action = 'Delete', typeName = null, danger = true }) {
  return new Promise((resolve) => {
    let answered = false;
    const typed = typeName ? input('confirm-name', { autocomplete: 'off' }) : null;
    const ok = h('button', { type: 'button', class: danger ? 'danger' : 'primary', disabled: !!typeName }, action);
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const body = h('div', {}, h('p', {}, text),
      typeName ? field(`Type “${typeName}” to confirm`, typed) : null);
    const dlg = modal(title, body, [cancel, ok]);
    if (typed) {
      typed.addEventListener('input', () => { ok.disabled = typed.value !== typeName; });
      typed.focus();
    } else cancel.focus();
    ok.addEventListener('click', () => { answered = true; dlg.close(); resolve(true); });
    cancel.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { if (!answered) resolve(false); });
  });
}

export function fmtTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  return isNaN(d) ? t : d.toISOString().replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

export function table(columns, rows, { caption, empty = 'Nothing yet.' } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' }, h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', { 'data-label': c.label }, c.render ? c.render(r) : r[c.key])))))));
}

export function pageHead(title, ...extra) {
  document.title = `${title} · pki-relay`;
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, title), extra);
}
