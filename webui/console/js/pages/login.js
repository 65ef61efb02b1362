// Log in (POST /api/v1/session). Errors: wrong credentials, throttling, relay unreachable.
import { post } from '../api.js';
import { h, field, input, messageBox, busy } from '../ui.js';

export async function render({ main, navigate }) {
  document.title = 'Log in · pki-relay';
  const msg = messageBox();
  const name = input('name', { autocomplete: 'username', required: true, autocapitalize: 'none' });
  const password = input('password', { type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { class: 'card', novalidate: true },
    h('h1', {}, 'Log in to pki-relay'), msg.el,
    field('User name', name), field('Password', password), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!name.value || !password.value) {
      msg.error(new Error('Enter your user name and password.'));
      (name.value ? password : name).focus();
      return;
    }
    busy(submit, msg, async () => {
      await post('/session', { name: name.value, password: password.value }, { quiet401: true });
      const next = new URLSearchParams(location.search).get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
    }).then(() => { if (!msg.el.hidden) password.select(); });
  });
  main.append(form);
  name.focus();
}
