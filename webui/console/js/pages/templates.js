// Certificate Templates -> Manage Templates (the active CA's templates).
import { get } from '../api.js';
import { h, table, fmtTime, pageHead } from '../ui.js';

export async function render({ main, ca }) {
  const r = await get(`/cas/${ca.id}/templates`);
  main.append(pageHead('Manage Templates', h('a', { class: 'button primary', href: '/templates/new', 'data-link': '' }, 'Create Template')),
    h('p', {}, 'Templates of ', h('strong', {}, ca.name), '. Click a template for its menu.'),
    table([
      { label: 'Name', render: (t) => h('a', { href: `/templates/${t.id}`, 'data-link': '' }, t.name) },
      { label: 'Description', render: (t) => t.settings.description },
      { label: 'Enabled', render: (t) => (t.settings.enabled ? 'yes' : 'no') },
      { label: 'Public requests', render: (t) => (t.settings.allow_public ? 'allowed' : 'no') },
      { label: 'Validity', render: (t) => `${t.settings.validity_days} days` },
      { label: 'Created', render: (t) => fmtTime(t.created) },
    ], r.templates || [], { caption: `Templates of ${ca.name}`, empty: 'No templates yet.' }));
}
