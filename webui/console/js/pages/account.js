// The user's own settings: password change and API tokens (shown once, with a copy button).
import { get, post, put, del } from '../api.js';
import { h, clear, field, input, messageBox, busy, table, fmtTime, pageHead, confirmDialog, textBlock, toast } from '../ui.js';

export async function render({ main, state, navigate }) {
  main.append(pageHead('My Account'), h('p', {}, 'Signed in as ', h('strong', {}, state.user.name),
    state.user.admin ? ' (administrator)' : ''));
  main.append(passwordCard(navigate), await tokensCard());
}

function passwordCard(navigate) {
  const msg = messageBox();
  const cur = input('current_password', { type: 'password', autocomplete: 'current-password' });
  const nw = input('new_password', { type: 'password', autocomplete: 'new-password' });
  const nw2 = input('new_password2', { type: 'password', autocomplete: 'new-password' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Change password');
  const form = h('form', { class: 'card', novalidate: true }, h('h2', {}, 'Password'), msg.el,
    field('Current password', cur), field('New password', nw, 'At least 8 characters. Every session ends; you log in again.'),
    field('Repeat the new password', nw2), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (nw.value.length < 8) return msg.error(new Error('The new password needs at least 8 characters.'));
    if (nw.value !== nw2.value) return msg.error(new Error('The two new passwords differ.'));
    busy(submit, msg, async () => {
      await put('/me/password', { current_password: cur.value, new_password: nw.value });
      toast('Password changed. Please log in with the new password.');
      navigate('/login', { replace: true });
    });
  });
  return form;
}

async function tokensCard() {
  const msg = messageBox();
  const list = h('div', {});
  const created = h('div', {});
  const name = input('token_name', { maxlength: 64 });
  const days = input('expires_days', { type: 'number', min: 0, max: 3650, value: '90', inputmode: 'numeric' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create token');
  const load = async () => {
    const r = await get('/tokens');
    clear(list, table([
      { label: 'Name', key: 'name' },
      { label: 'Created', render: (t) => fmtTime(t.created) },
      { label: 'Expires', render: (t) => (t.expires ? fmtTime(t.expires) : 'never') },
      { label: 'Last used', render: (t) => fmtTime(t.last_used) },
      { label: 'Actions', render: (t) => h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete token ${t.name}`,
        onclick: async (ev) => {
          if (!(await confirmDialog({ title: 'Delete API token', text: `Programs using “${t.name}” will be refused from now on.` }))) return;
          await busy(ev.target, msg, async () => { await del(`/tokens/${t.id}`); toast('Token deleted'); await load(); });
        } }, 'Delete') },
    ], r.tokens || [], { caption: 'Your API tokens', empty: 'No API tokens.' }));
  };
  const form = h('form', { class: 'inline', novalidate: true },
    field('Token name', name), field('Expires after (days, 0 = never)', days), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!name.value.trim()) { msg.error(new Error('Give the token a name.')); name.focus(); return; }
    busy(submit, msg, async () => {
      const t = await post('/tokens', { name: name.value.trim(), expires_days: Number(days.value || 0) });
      clear(created, h('div', { class: 'message ok', role: 'status' },
        h('p', {}, 'Token created. Copy it now — it will not be shown again.'),
        textBlock('API token', t.token),
        h('p', { class: 'help' }, 'Use it as ', h('code', {}, 'Authorization: Bearer …'), '.')));
      name.value = '';
      await load();
    });
  });
  const card = h('section', { class: 'card' }, h('h2', {}, 'API tokens'), msg.el, form, created, list);
  await busy(null, msg, load);
  return card;
}
