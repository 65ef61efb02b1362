// The landing page: with no CA it leads to CA creation (P-3); otherwise a short overview.
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
  if (ctx.ca) main.append(h('p', {}, 'Active certificate authority: ', h('strong', {}, ctx.ca.name)));
  main.append(h('ul', { class: 'links' }, links.map(([href, label]) => h('li', {}, h('a', { href, 'data-link': '' }, label)))));
}
