// Users (administrators): list and create.
import { get, post } from '../api.js';
import { h, clear, field, input, checkbox, messageBox, busy, table, fmtTime, pageHead, toast } from '../ui.js';

export async function render({ main, state }) {
  main.append(pageHead('Users'));
  if (!state.user.admin) {
    main.append(h('p', { class: 'message error', role: 'alert' }, 'Only an administrator can manage users.'));
    return;
  }
  const msg = messageBox();
  const list = h('div', {});
  const name = input('name', { autocomplete: 'off', autocapitalize: 'none', maxlength: 64 });
  const pw = input('password', { type: 'password', autocomplete: 'new-password' });
  const admin = checkbox('admin', false);
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create user');
  const load = async () => {
    const r = await get('/users');
    clear(list, table([
      { label: 'Name', key: 'name' },
      { label: 'Administrator', render: (u) => (u.admin ? 'yes' : 'no') },
      { label: 'Created', render: (u) => fmtTime(u.created) },
    ], r.users || [], { caption: 'Users' }));
  };
  const form = h('form', { class: 'card', novalidate: true }, h('h2', {}, 'New user'),
    field('User name', name, 'Letters, digits and . _ @ - (at most 64).'),
    field('Initial password', pw, 'At least 8 characters; tell it to the user over a safe channel.'),
    field('Administrator', admin), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!name.value) return msg.error(new Error('Choose a user name.'));
    if (pw.value.length < 8) return msg.error(new Error('The password needs at least 8 characters.'));
    busy(submit, msg, async () => {
      await post('/users', { name: name.value, password: pw.value, admin: admin.checked });
      toast(`User ${name.value} created`);
      name.value = ''; pw.value = ''; admin.checked = false;
      await load();
    });
  });
  main.append(msg.el, form, h('section', { class: 'card' }, h('h2', {}, 'All users'), list));
  await busy(null, msg, load);
}
