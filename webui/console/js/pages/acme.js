// ACME (S-1): policies bind ACME accounts to a template of the active CA (pre-approved
// domains skip challenges); EAB credentials (name, use count, expiry) are shown once with
// example commands. Administrators only, as the API.
import { get, post, del } from '../api.js';
import { h, clear, field, input, messageBox, busy, pageHead, table, fmtTime, confirmDialog, toast, textBlock, copyButton } from '../ui.js';
import { parseList, select } from './common.js';

export async function render({ main, ca, state }) {
  main.append(pageHead('ACME'));
  if (!state.user.admin) {
    main.append(h('p', { class: 'message error', role: 'alert' }, 'Only an administrator can manage ACME policies and credentials.'));
    return;
  }
  const msg = messageBox();
  const templates = (await get(`/cas/${ca.id}/templates`)).templates || [];
  const tplName = Object.fromEntries(templates.map((t) => [t.id, t.name]));
  const policiesBox = h('div', {}), eabBox = h('div', {}), created = h('div', {});
  const directory = templates.length ? templates[0].urls.acme_directory : null;
  let policies = [];

  const load = async () => {
    policies = ((await get('/acme/policies')).policies || []).filter((p) => tplName[p.template_id]);
    const creds = ((await get('/acme/eab')).credentials || []).filter((e) => policies.some((p) => p.id === e.policy_id));
    const polName = Object.fromEntries(policies.map((p) => [p.id, p.name]));
    clear(policiesBox, table([
      { label: 'Name', key: 'name' },
      { label: 'Template', render: (p) => tplName[p.template_id] },
      { label: 'Allowed domains', render: (p) => p.allowed_domains.join(', ') || 'any' },
      { label: 'Pre-approved domains', render: (p) => p.preapproved_domains.join(', ') || '—' },
      { label: 'Created', render: (p) => fmtTime(p.created) },
      { label: 'Actions', render: (p) => h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete policy ${p.name}`, onclick: (ev) => removeIt(ev.target, `/acme/policies/${p.id}`, 'Delete ACME policy', `Delete the policy “${p.name}”? Only possible while no account or credential uses it.`) }, 'Delete') },
    ], policies, { caption: `ACME policies for templates of ${ca.name}`, empty: 'No ACME policies for this CA yet.' }));
    clear(eabBox, table([
      { label: 'Name', key: 'name' },
      { label: 'Key ID', render: (e) => h('code', {}, e.key_id) },
      { label: 'Policy', render: (e) => polName[e.policy_id] },
      { label: 'Uses', render: (e) => `${e.uses} of ${e.max_uses || 'unlimited'}` },
      { label: 'Expires', render: (e) => (e.expires ? fmtTime(e.expires) : 'never') },
      { label: 'Actions', render: (e) => h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete credential ${e.name}`, onclick: (ev) => removeIt(ev.target, `/acme/eab/${e.id}`, 'Delete EAB credential', `Delete “${e.name}”? Clients that have not registered yet can no longer use it.`) }, 'Delete') },
    ], creds, { caption: 'External account binding credentials', empty: 'No EAB credentials yet.' }));
    clear(eabPolicy, ...policies.map((p) => h('option', { value: p.id }, p.name)));
    eabForm.hidden = !policies.length;
  };
  const removeIt = async (button, path, title, text) => {
    if (!(await confirmDialog({ title, text }))) return;
    await busy(button, msg, async () => { await del(path); toast('Deleted'); await load(); });
  };

  // new policy
  const pName = input('policy_name', { maxlength: 64 });
  const pTpl = select('policy_template', templates.map((t) => [t.id, t.name]), templates[0] ? templates[0].id : '');
  const pAllowed = input('allowed_domains', { placeholder: 'example.com, *.example.org' });
  const pPre = input('preapproved_domains', { placeholder: '*.internal.example.com' });
  const pSubmit = h('button', { type: 'submit', class: 'primary' }, 'Create policy');
  const policyForm = h('form', { class: 'card', novalidate: true }, h('h2', {}, 'New ACME policy'),
    h('div', { class: 'grid2' }, field('Policy name', pName), field('Template', pTpl),
      field('Allowed domains', pAllowed, 'Comma-separated; empty: any. “*.example.com” covers example.com and all its subdomains.'),
      field('Pre-approved domains (no challenge)', pPre, 'Orders for these skip the HTTP-01/DNS-01 challenge.')),
    h('div', { class: 'actions' }, pSubmit));
  policyForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!pName.value.trim()) { msg.error(new Error('Give the policy a name.')); pName.focus(); return; }
    busy(pSubmit, msg, async () => {
      await post('/acme/policies', { name: pName.value.trim(), template_id: Number(pTpl.value), allowed_domains: parseList(pAllowed.value), preapproved_domains: parseList(pPre.value) });
      toast('ACME policy created');
      pName.value = ''; pAllowed.value = ''; pPre.value = '';
      await load();
    });
  });

  // new EAB credential
  const eName = input('eab_name', { maxlength: 64 });
  const eabPolicy = h('select', { name: 'eab_policy' });
  const eUses = input('max_uses', { type: 'number', min: 0, value: '1', inputmode: 'numeric' });
  const eExpires = input('expires', { type: 'date' });
  const eSubmit = h('button', { type: 'submit', class: 'primary' }, 'Create EAB credential');
  const eabForm = h('form', { class: 'card', novalidate: true }, h('h2', {}, 'New EAB credential'),
    h('div', { class: 'grid2' }, field('Name', eName), field('Policy', eabPolicy),
      field('Allowed uses (0 = unlimited)', eUses), field('Expires on (optional, UTC end of day)', eExpires)),
    h('div', { class: 'actions' }, eSubmit));
  eabForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!eName.value.trim()) { msg.error(new Error('Give the credential a name.')); eName.focus(); return; }
    busy(eSubmit, msg, async () => {
      const body = { name: eName.value.trim(), policy_id: Number(eabPolicy.value), max_uses: Number(eUses.value || 0) };
      if (eExpires.value) body.expires = `${eExpires.value}T23:59:59Z`;
      const e = await post('/acme/eab', body);
      clear(created, h('div', { class: 'message ok', role: 'status' },
        h('p', {}, 'Credential created. Copy the key ID and HMAC key now — the HMAC key is not shown again.'),
        textBlock('EAB key ID', e.key_id), textBlock('EAB HMAC key', e.hmac_key),
        e.examples ? Object.entries(e.examples).map(([client, cmd]) => textBlock(`Example: ${client}`, cmd)) : null));
      eName.value = '';
      await load();
    });
  });

  main.append(...[msg.el,
    directory ? h('p', {}, 'ACME directory: ', h('code', {}, directory), ' ', copyButton(directory, 'Copy')) : null,
    !templates.length ? h('p', { class: 'warning' }, 'This CA has no template yet; ACME policies bind to a template.') : null,
    h('section', { class: 'card' }, h('h2', {}, 'Policies'), policiesBox), templates.length ? policyForm : null,
    h('section', { class: 'card' }, h('h2', {}, 'EAB credentials'), created, eabBox), eabForm].filter(Boolean));
  await busy(null, msg, load);
}
