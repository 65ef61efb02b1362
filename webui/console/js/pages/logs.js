// Audit log (GET /api/v1/audit), newest first, with "older" paging and a text filter.
import { get } from '../api.js';
import { h, clear, field, input, messageBox, busy, table, fmtTime, pageHead } from '../ui.js';

const PAGE = 100;

export async function render({ main }) {
  const msg = messageBox();
  const filter = input('filter', { type: 'search', placeholder: 'action, user, target…' });
  const list = h('div', {});
  const more = h('button', { type: 'button', class: 'secondary' }, 'Older entries');
  let entries = [];
  const show = () => {
    const q = filter.value.trim().toLowerCase();
    const rows = q ? entries.filter((e) => JSON.stringify(e).toLowerCase().includes(q)) : entries;
    clear(list, table([
      { label: 'Time', render: (e) => fmtTime(e.time) },
      { label: 'User', render: (e) => e.actor || '—' },
      { label: 'Action', render: (e) => h('code', {}, e.action) },
      { label: 'Target', render: (e) => e.target || '' },
      { label: 'From', render: (e) => e.remote || '' },
      { label: 'Details', render: (e) => (e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : '') },
    ], rows, { caption: 'Audit log entries, newest first', empty: 'No entries.' }));
  };
  const load = async (before) => {
    const older = before ? `&before=${before}` : '';
    const r = await get(`/audit?limit=${PAGE}${older}`);
    entries = entries.concat(r.entries || []);
    more.hidden = (r.entries || []).length < PAGE;
    show();
  };
  filter.addEventListener('input', show);
  more.addEventListener('click', () => busy(more, msg, () => load(entries.length ? entries[entries.length - 1].id : 0)));
  main.append(pageHead('Audit Log'), msg.el, h('div', { class: 'toolbar' }, field('Filter', filter)), list, more);
  await busy(null, msg, () => load(0));
}
