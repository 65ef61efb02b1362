// The landing page: with no CA it leads to CA creation (P-3); otherwise a short overview.
import { get } from '../api.js';
import { h, pageHead } from '../ui.js';
import { FEATURES } from '../features.js';

export async function render(ctx) {
  const { main, state } = ctx;
  if (FEATURES.cas && !state.cas.length) {
    const noCa = await import('./no_ca.js');
    return noCa.render(ctx);
  }
  main.append(pageHead(`Welcome, ${state.user.name}`));
  const links = [];
  if (FEATURES.cas) links.push(['/cas', 'Manage certificate authorities']);
  if (FEATURES.templates) links.push(['/templates', 'Manage certificate templates']);
  if (FEATURES.requests) links.push(['/requests', 'Pending requests']);
  if (FEATURES.certificates) links.push(['/certificates', 'Issued certificates']);
  links.push(['/logs', 'Audit log'], ['/account', 'Your account and API tokens']);
  if (ctx.ca) {
    main.append(h('p', {}, 'Active certificate authority: ', h('strong', {}, ctx.ca.name),
      ctx.ca.status === 'pending' ? ' — waiting for its signed certificate (Manage CAs → Import Signed Certificate)' : ''));
    if (FEATURES.requests && ctx.ca.status === 'active') {
      const pending = ((await get(`/cas/${ctx.ca.id}/requests?status=pending`)).requests || []).length;
      main.append(h('p', {}, h('a', { href: '/requests', 'data-link': '' }, `${pending} pending request${pending === 1 ? '' : 's'}`), ' waiting for approval.'));
    }
  }
  main.append(h('ul', { class: 'links' }, links.map(([href, label]) => h('li', {}, h('a', { href, 'data-link': '' }, label)))));
}
