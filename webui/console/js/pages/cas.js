// Certificate Authorities -> Manage CAs: the list; a click opens the CA's menu page.
import { h, table, fmtTime, pageHead } from '../ui.js';
import { statusBadge } from './common.js';

export async function render({ main, state }) {
  main.append(pageHead('Manage CAs', h('a', { class: 'button primary', href: '/cas/new', 'data-link': '' }, 'Create New CA')));
  main.append(table([
    { label: 'Name', render: (c) => h('a', { href: `/cas/${c.id}`, 'data-link': '' }, c.name) },
    { label: 'Status', render: (c) => statusBadge(c.status) },
    { label: 'Subject', key: 'subject' },
    { label: 'Key', render: (c) => `${c.key_type} · ${c.signature_algorithm}` },
    { label: 'Created', render: (c) => fmtTime(c.created) },
  ], state.cas, { caption: 'Your certificate authorities', empty: 'No CAs yet.' }));
}
