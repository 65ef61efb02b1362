// X509 Certificates -> Issued Certificates: search by subject, filter by status.
import { get } from '../api.js';
import { h, clear, field, input, messageBox, busy, pageHead, table, fmtTime } from '../ui.js';
import { statusBadge, select } from './common.js';

export async function render({ main, ca }) {
  const msg = messageBox();
  const q = input('q', { type: 'search', placeholder: 'part of the subject' });
  const status = select('status', [['', 'All'], ['active', 'Active'], ['revoked', 'Revoked or on hold'], ['expired', 'Expired']], '');
  const search = h('button', { type: 'submit', class: 'secondary' }, 'Search');
  const list = h('div', {});
  const PAGE = 100;
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More certificates');
  let certs = [];
  const load = async (before = 0) => {
    const p = new URLSearchParams();
    if (q.value.trim()) p.set('q', q.value.trim());
    if (status.value) p.set('status', status.value);
    p.set('limit', String(PAGE));
    if (before) p.set('before', String(before));
    const r = await get(`/cas/${ca.id}/certificates?${p}`);
    certs = (before ? certs : []).concat(r.certificates || []);
    more.hidden = (r.certificates || []).length < PAGE;
    clear(list, table([
      { label: 'Subject', render: (c) => h('a', { href: `/certificates/${c.id}`, 'data-link': '' }, c.subject || '(empty subject)') },
      { label: 'Serial', render: (c) => h('code', {}, c.serial) },
      { label: 'Kind', key: 'kind' },
      { label: 'Status', render: (c) => statusBadge(c.status === 'on_hold' ? 'hold' : c.status) },
      { label: 'Valid until', render: (c) => fmtTime(c.not_after) },
    ], certs, { caption: `Certificates issued by ${ca.name}`, empty: 'No certificates match.' }));
  };
  const form = h('form', { class: 'inline', role: 'search' }, field('Subject contains', q), field('Status', status), h('div', { class: 'actions' }, search));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); busy(search, msg, () => load()); });
  status.addEventListener('change', () => busy(null, msg, () => load()));
  more.addEventListener('click', () => busy(more, msg, () => load(certs[certs.length - 1].id)));
  main.append(pageHead('Issued Certificates'), msg.el, form, list, more);
  await busy(null, msg, () => load());
}
