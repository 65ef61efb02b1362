// Appliances (iothsm-agent): each enrolled appliance with its online state, YubiKeys and slots
// as the appliance last reported them, and one-time enrolment tokens. Administrators only.
import { get, post } from '../api.js';
import { h, clear, field, input, messageBox, busy, pageHead, table, fmtTime, textBlock, toast } from '../ui.js';
import { select } from './common.js';

export async function render({ main, state }) {
  main.append(pageHead('Appliances'));
  if (!state.user.admin) {
    main.append(h('p', { class: 'message error', role: 'alert' }, 'Only an administrator can manage appliances.'));
    return;
  }
  const msg = messageBox();
  const list = h('div', {});
  const created = h('div', {});
  const load = async () => {
    const { appliances = [] } = await get('/appliances');
    clear(list, appliances.length ? appliances.map(applianceCard) : h('p', { class: 'empty' }, 'No appliance is enrolled yet.'));
  };
  const caSel = select('enrol_ca', [['', 'Any of my CAs'], ...state.cas.map((c) => [String(c.id), c.name])], '');
  const hours = input('ttl_hours', { type: 'number', min: 1, max: 720, value: '24', inputmode: 'numeric' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create enrolment token');
  const form = h('form', { class: 'card', novalidate: true }, h('h2', {}, 'Enrol an appliance'),
    h('p', {}, 'An enrolment token lets one appliance join this relay once. Enter it in the appliance’s local web UI with the link URL and check the relay fingerprint there.'),
    h('div', { class: 'grid2' }, field('For CA', caSel), field('Valid for (hours)', hours)),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const ttl = Number(hours.value);
    if (!(ttl >= 1 && ttl <= 720)) { msg.error(new Error('The token lives 1 to 720 hours.')); hours.focus(); return; }
    busy(submit, msg, async () => {
      const body = { ttl_seconds: ttl * 3600 };
      if (caSel.value) body.ca_id = caSel.value;
      const t = await post('/appliances/enrolment-tokens', body);
      clear(created, h('div', { class: 'message ok', role: 'status' },
        h('p', {}, `Enrolment token created, valid until ${fmtTime(t.expires)}. Copy it now — it is not shown again.`),
        textBlock('Enrolment token', t.token), textBlock('Link URL', t.link_url), textBlock('Relay fingerprint', t.relay_fingerprint)));
      toast('Enrolment token created');
    });
  });
  main.append(msg.el, list, form, created);
  await busy(null, msg, load);
}

function applianceCard(a) {
  const keys = a.keys || [];
  return h('section', { class: 'card' },
    h('h2', {}, a.name, ' ', h('span', { class: `badge ${a.online ? 'ok' : 'bad'}` }, a.online ? 'online' : 'offline')),
    h('dl', { class: 'props' },
      h('dt', {}, 'Last seen'), h('dd', {}, fmtTime(a.last_seen)),
      h('dt', {}, 'Enrolled'), h('dd', {}, fmtTime(a.enrolled)),
      h('dt', {}, 'Fingerprint'), h('dd', {}, h('code', {}, a.fingerprint))),
    keys.length ? keys.map((k) => h('div', {},
      h('h3', {}, `YubiKey ${k.serial ?? ''}${k.version ? ` (firmware ${k.version})` : ''}`),
      table([
        { label: 'Slot', render: (s) => h('code', {}, s.slot) },
        { label: 'Key', render: (s) => (s.key ? s.key.algorithm || 'yes' : 'empty') },
        { label: 'Certificate', render: (s) => (s.certificate ? 'yes' : 'no') },
      ], k.slots || [], { caption: `Slots of YubiKey ${k.serial ?? ''}`, empty: 'No slot in use.' })))
      : h('p', { class: 'empty' }, 'No YubiKey reported.'));
}
