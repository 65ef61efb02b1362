// One template and its menu (Manage Templates -> click a template): Public Certificate
// Request, Submit CSR, Create Pre-Approved Request, Edit Template (tabs), Show Template
// Service URLs, Delete.
import { get, post, patch, del } from '../api.js';
import { h, clear, field, input, checkbox, select, textarea, messageBox, busy, pageHead, toast, confirmDialog, copyButton, textBlock } from '../ui.js';
import { urlList, subjectFields, subjectString, parseList, parseSans, SIG_ALGS } from './common.js';

const TPL_URL_LABELS = {
  public_request: 'Public certificate request page', scep: 'SCEP', acme_directory: 'ACME directory', ndes_admin: 'NDES admin page (SCEP one-time passwords)',
};
const KU = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];
const EKU = [['serverAuth', 'TLS server'], ['clientAuth', 'TLS client'], ['codeSigning', 'Code signing'], ['emailProtection', 'Email protection (S/MIME)'],
  ['timeStamping', 'Timestamping'], ['OCSPSigning', 'OCSP signing'], ['smartcardLogon', 'Smartcard logon'], ['anyExtendedKeyUsage', 'Any purpose']];

export async function render(ctx) {
  const { main, params } = ctx;
  const t = await get(`/templates/${Number(params[0])}`);
  const items = [
    ['public', 'Public Certificate Request'], ['submit', 'Submit CSR'], ['preapproved', 'Create Pre-Approved Request'],
    ['edit', 'Edit Template'], ['urls', 'Show Template Service URLs'], ['delete', 'Delete'],
  ];
  const panel = h('section', { id: 'tpl-panel', 'aria-live': 'polite' });
  const show = async (key) => {
    for (const b of menu.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.key === key));
    history.replaceState(null, '', `${location.pathname}?show=${key}`);
    clear(panel);
    const msg = messageBox();
    panel.append(msg.el);
    await busy(null, msg, () => PANELS[key]({ ...ctx, t, panel, msg }));
  };
  const menu = h('ul', { class: 'menu', 'aria-label': `Actions for template ${t.name}` }, items.map(([key, label]) =>
    h('li', {}, h('button', { type: 'button', class: key === 'delete' ? 'danger' : 'secondary', dataset: { key }, 'aria-pressed': 'false', 'aria-controls': 'tpl-panel', onclick: () => show(key) }, label))));
  main.append(pageHead(t.name), h('p', {}, t.settings.description || '', t.settings.enabled ? '' : ' (disabled)'), menu, panel);
  const want = new URLSearchParams(location.search).get('show');
  await show(items.some(([k]) => k === want) ? want : 'edit');
}

function mailto(subject, body) {
  return `mailto:?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(body)}`;
}

const PANELS = {
  async public({ t, panel }) {
    const url = t.urls.public_request;
    panel.append(h('div', { class: 'card' }, h('h2', {}, 'Public Certificate Request'),
      t.settings.allow_public
        ? h('p', {}, 'Anyone with this link can request a certificate from this template; requests wait in Pending Requests for your approval.')
        : h('p', { class: 'warning' }, 'Public requests are off for this template: turn on “Allow public requests” under Edit Template → General.'),
      h('p', {}, h('code', {}, url)),
      h('div', { class: 'actions' }, copyButton(url, 'Copy link'),
        h('a', { class: 'button secondary', href: url, target: '_blank', rel: 'noopener' }, 'Open the page'),
        h('a', { class: 'button secondary', href: mailto(`Certificate request: ${t.name}`, `Request your certificate here:\n${url}\n`) }, 'Email the link'))));
  },

  async submit({ t, panel, msg, navigate }) {
    const csr = textarea('csr', { rows: 12, placeholder: '-----BEGIN CERTIFICATE REQUEST-----' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Submit');
    const form = h('form', { class: 'card', novalidate: true }, h('h2', {}, 'Submit CSR'),
      field('Certificate signing request (PEM)', csr, 'The request waits in Pending Requests until approved.'),
      h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!csr.value.includes('BEGIN CERTIFICATE REQUEST') && !csr.value.includes('BEGIN NEW CERTIFICATE REQUEST')) {
        msg.error(new Error('Paste a CSR in PEM form (-----BEGIN CERTIFICATE REQUEST-----).'));
        csr.focus();
        return;
      }
      busy(submit, msg, async () => {
        const r = await post(`/templates/${t.id}/requests`, { csr: csr.value.trim() });
        toast(`Request #${r.id} submitted; it is pending approval`);
        navigate(`/requests?highlight=${r.id}`);
      });
    });
    panel.append(form);
  },

  async preapproved({ t, panel, msg }) {
    const subject = subjectFields('pre');
    const sans = textarea('sans', { rows: 3, placeholder: 'host.example.com, 192.0.2.10, user@example.com' });
    const days = input('validity_days', { type: 'number', min: 1, max: 36500, value: String(t.settings.validity_days), inputmode: 'numeric' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Create the claim link');
    const result = h('div', {});
    const form = h('form', { class: 'card', novalidate: true }, h('h2', {}, 'Create Pre-Approved Request'),
      h('p', {}, 'Fix the subject, SANs and validity now; whoever claims the request gets exactly these (their CSR’s subject and SANs are overridden).'),
      subject.el, field('Subject alternative names', sans, 'DNS names, IP addresses or email addresses, separated by commas or new lines.'),
      field('Validity (days)', days), h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const subj = subject.value();
      if (!subj.CN) { msg.error(new Error('The subject needs a common name (CN).')); subject.inputs.CN.focus(); return; }
      busy(submit, msg, async () => {
        const r = await post(`/templates/${t.id}/preapproved`, { subject: subjectString(subj), sans: parseSans(sans.value), validity_days: Number(days.value) });
        clear(result, h('div', { class: 'card' }, h('h2', {}, 'Claim link'),
          h('p', {}, 'The link works once. Send it to the person who should get the certificate, or claim it now.'),
          textBlock('Claim link', r.claim_url),
          h('div', { class: 'actions' },
            h('a', { class: 'button secondary', href: mailto(`Your certificate from ${t.name}`, `Claim your certificate here (the link works once):\n${r.claim_url}\n`) }, 'Email the claim link'),
            h('a', { class: 'button primary', href: r.claim_url }, 'Claim now'))));
        form.hidden = true;
      });
    });
    panel.append(form, result);
  },

  async edit({ t, panel, msg, rerender }) {
    panel.append(editForm(t, msg, rerender));
  },

  async urls({ t, panel }) {
    panel.append(h('div', { class: 'card' }, h('h2', {}, 'Template Service URLs'), urlList(t.urls, TPL_URL_LABELS)));
  },

  async delete({ t, panel, msg, navigate }) {
    const button = h('button', { type: 'button', class: 'danger' }, `Delete ${t.name}`);
    button.addEventListener('click', async () => {
      if (!(await confirmDialog({ title: 'Delete template', action: 'Delete template',
        text: `Delete the template “${t.name}”? Only possible when none of its certificates is still active (a certificate on hold counts as active). This cannot be undone.` }))) return;
      await busy(button, msg, async () => {
        await del(`/templates/${t.id}`);
        toast(`Template ${t.name} deleted`);
        navigate('/templates');
      });
    });
    panel.append(h('div', { class: 'card' }, h('h2', {}, 'Delete template'),
      h('p', {}, 'All certificates issued from it must be expired or revoked (not on hold).'), button));
  },
};

// Edit Template with its tabs (TPL-2 … TPL-6). Every tab edits one settings object; Save sends it whole.
function editForm(t, msg, rerender) {
  const s = structuredClone(t.settings);
  const name = input('name', { value: t.name, maxlength: 64 });
  const cb = (key, label, help) => { const c = checkbox(key, s[key]); c.addEventListener('change', () => { s[key] = c.checked; }); return field(label, c, help); };
  const num = (key, label, help, attrs = {}) => {
    const i = input(key, { type: 'number', value: s[key] === null ? '' : String(s[key]), inputmode: 'numeric', ...attrs });
    i.addEventListener('input', () => { s[key] = i.value === '' ? null : Number(i.value); });
    return field(label, i, help);
  };
  const txt = (key, label, help, attrs = {}) => {
    const i = input(key, { value: s[key] || '', ...attrs });
    i.addEventListener('input', () => { s[key] = i.value; });
    return field(label, i, help);
  };
  const algs = [...new Set(Object.values(SIG_ALGS).flat())];
  const sig = select('signature_algorithm', [['', 'The CA’s algorithm'], ...algs.map((a) => [a, a])], s.signature_algorithm || '');
  sig.addEventListener('change', () => { s.signature_algorithm = sig.value; });
  const kuBoxes = KU.map((k) => { const c = checkbox(`ku_${k}`, (s.key_usage || []).includes(k)); c.dataset.ku = k; return field(k, c); });
  const ekuKnown = EKU.map(([k]) => k);
  const ekuBoxes = EKU.map(([k, label]) => { const c = checkbox(`eku_${k}`, (s.extended_key_usage || []).includes(k)); c.dataset.eku = k; return field(`${label} (${k})`, c); });
  const customEku = input('custom_eku', { value: (s.extended_key_usage || []).filter((e) => !ekuKnown.includes(e)).join(', '), placeholder: '1.3.6.1.4.1.99999.1, …' });
  const tabs = [
    ['General', [cb('enabled', 'Enabled'), cb('allow_public', 'Allow public requests', 'Anyone with the public request link may ask for a certificate (you still approve it).'),
      cb('renewal', 'Renewal authorised by a valid existing certificate'), cb('renewal_revoke_old', 'Revoke the old certificate on renewal'),
      num('renewal_within_days', 'Only within this many days of expiry (0 = any time)', null, { min: 0 }),
      cb('renewal_copy_subject', 'Copy subject and SANs from the original certificate during renewal'),
      field('Signature algorithm', sig), num('validity_days', 'Default validity (days)', null, { min: 1, max: 36500 }),
      txt('description', 'Description', null, { maxlength: 500 })]],
    ['Subject', [cb('subject_from_csr', 'Subject supplied by the CSR', 'Off: the defaults below fill in what the request lacks.'),
      txt('subject_defaults', 'Default subject attributes', 'In openssl form, e.g. /C=DE/O=Example.', { placeholder: '/C=DE/O=Example' })]],
    ['Key Usage', [h('fieldset', {}, h('legend', {}, 'Key usage'), h('div', { class: 'grid2' }, kuBoxes)),
      h('fieldset', {}, h('legend', {}, 'Extended key usage'), h('div', { class: 'grid2' }, ekuBoxes)),
      field('Custom extended key usage OIDs (comma-separated)', customEku)]],
    ['Basic Constraints', [cb('is_ca', 'Certificate authority (CA: true)', 'For intermediate CAs signed through this template; needs keyCertSign.'),
      num('path_len', 'Path length (empty: none)', null, { min: 0, max: 32 })]],
    ['CRL/OCSP/AIA/CPS', [cb('include_aia', 'Include Authority Information Access (CA issuers)'),
      txt('aia_issuer_url', 'Custom CA issuer URL (empty: the relay’s)', null, { type: 'url' }),
      cb('include_ocsp', 'Include the OCSP responder URL'), cb('include_cdp', 'Include the CRL distribution point'),
      cb('include_policies', 'Include certificate policies'),
      txt('policy_oid', 'Policy OID', 'e.g. 2.23.140.1.2.1 (domain validated), or your own.'),
      txt('cps_url', 'CPS URL (empty: the CA’s CPS page)', null, { type: 'url' })]],
  ];
  const tabList = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Template settings' });
  const panes = [];
  tabs.forEach(([label, content], i) => {
    const tabId = `tpl-tab-${i}`, paneId = `tpl-pane-${i}`;
    const tab = h('button', { type: 'button', role: 'tab', id: tabId, 'aria-controls': paneId, 'aria-selected': String(i === 0), tabindex: i === 0 ? '0' : '-1' }, label);
    const pane = h('div', { role: 'tabpanel', id: paneId, 'aria-labelledby': tabId, hidden: i !== 0 }, content);
    tab.addEventListener('click', () => select_(i));
    tab.addEventListener('keydown', (ev) => {
      const d = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
      if (d) { ev.preventDefault(); select_((i + d + tabs.length) % tabs.length, true); }
    });
    tabList.append(tab);
    panes.push(pane);
  });
  function select_(i, focus) {
    [...tabList.children].forEach((tab, j) => { tab.setAttribute('aria-selected', String(i === j)); tab.tabIndex = i === j ? 0 : -1; panes[j].hidden = i !== j; });
    if (focus) tabList.children[i].focus();
  }
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save Template');
  const form = h('form', { class: 'card', novalidate: true }, h('h2', {}, 'Edit Template'), field('Template name', name), tabList, panes,
    h('div', { class: 'actions' }, save));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    s.key_usage = [...form.querySelectorAll('input[data-ku]')].filter((c) => c.checked).map((c) => c.dataset.ku);
    s.extended_key_usage = [...form.querySelectorAll('input[data-eku]')].filter((c) => c.checked).map((c) => c.dataset.eku)
      .concat(parseList(customEku.value));
    if (!s.is_ca) s.path_len = null;
    const settings = { ...s };
    if (settings.path_len === null) delete settings.path_len;
    busy(save, msg, async () => {
      await patch(`/templates/${t.id}`, { name: name.value.trim(), settings });
      toast('Template saved');
      await rerender();
    });
  });
  return form;
}
