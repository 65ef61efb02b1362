// Shown instead of any CA-scoped page while the user has no CA yet (P-3).
import { h, pageHead } from '../ui.js';

export async function render({ main }) {
  main.append(pageHead('Create your first certificate authority'),
    h('div', { class: 'card' },
      h('p', {}, 'Everything in the console — templates, requests, certificates, ACME and services — belongs to a certificate authority. You have none yet.'),
      h('p', {}, h('a', { class: 'button primary', href: '/cas/new', 'data-link': '' }, 'Create New CA'))));
}
