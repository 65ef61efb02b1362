// First-run set-up: the one-time token comes in the URL fragment (never sent to a server);
// the form creates the first administrator (POST /api/v1/setup) and logs in.
import { post } from '../api.js';
import { h, field, input, messageBox, busy } from '../ui.js';

export async function render({ main, navigate }) {
  document.title = 'Set up · pki-relay';
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const msg = messageBox();
  if (!token) {
    main.append(h('div', { class: 'card' }, h('h1', {}, 'Set up pki-relay'),
      h('p', {}, 'Open the set-up link the relay printed to its log when it started ',
        h('code', {}, 'https://…/setup#token=…'), ', or create an administrator with ',
        h('code', {}, 'pki-relay user add --admin NAME'), '.'),
      h('p', {}, h('a', { href: '/login', 'data-link': '' }, 'Go to the login page'))));
    return;
  }
  const name = input('name', { autocomplete: 'username', required: true, autocapitalize: 'none', maxlength: 64 });
  const pw = input('password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const pw2 = input('password2', { type: 'password', autocomplete: 'new-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create administrator');
  const form = h('form', { class: 'card', novalidate: true },
    h('h1', {}, 'Set up pki-relay'),
    h('p', {}, 'Create the first administrator. This link works once.'), msg.el,
    field('User name', name, 'Letters, digits and . _ @ - (at most 64).'),
    field('Password', pw, 'At least 8 characters.'), field('Repeat the password', pw2),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!name.value) { msg.error(new Error('Choose a user name.')); name.focus(); return; }
    if (pw.value.length < 8) { msg.error(new Error('The password needs at least 8 characters.')); pw.focus(); return; }
    if (pw.value !== pw2.value) { msg.error(new Error('The two passwords differ.')); pw2.focus(); return; }
    busy(submit, msg, async () => {
      await post('/setup', { token, name: name.value, password: pw.value });
      await post('/session', { name: name.value, password: pw.value });
      history.replaceState(null, '', '/setup'); // the token is used up; drop it from the address bar
      navigate('/', { replace: true });
    });
  });
  main.append(form);
  name.focus();
}
