// One CA and its menu (Manage CAs -> click a CA): details, Edit CA, Download/Copy CSR,
// Import Signed Certificate, Show CA Service URLs, Get CA Certificate(s), Download HSM
// Provisioning Certificate (HSM CAs), Delete.
import { get, post, patch, del } from '../api.js';
import { h, clear, field, input, select, textarea, textBlock, messageBox, busy, pageHead, toast, confirmDialog, modal, fmtTime } from '../ui.js';
import { KEY_TYPES, urlList, pemBlock, statusBadge } from './common.js';

const CA_URL_LABELS = {
  certificate: 'CA certificate (DER)', chain: 'Certificate chain (PEM)', crl: 'CRL (DER)', ocsp: 'OCSP responder',
  tsa: 'Timestamping (RFC 3161)', cps: 'Certification practice statement',
};

export async function render(ctx) {
  const { main, params } = ctx;
  const id = Number(params[0]);
  const ca = await get(`/cas/${id}`);
  const hsm = ca.key_type === 'hsm';
  const pending = ca.status === 'pending' || ca.status === 'awaiting_appliance';
  const items = [
    ['details', 'Details'],
    ['edit', 'Edit CA'],
    hsm ? ['provisioning', 'Download HSM Provisioning Certificate'] : null,
    !hsm && (pending || ca.has_csr) ? ['csr', 'Download/Copy CSR'] : null,
    pending ? ['import', 'Import Signed Certificate'] : null,
    ['urls', 'Show CA Service URLs'],
    !pending ? ['certs', 'Get CA Certificate(s)'] : null,
    ['delete', 'Delete'],
  ].filter(Boolean);
  const panel = h('section', { id: 'ca-panel', 'aria-live': 'polite' });
  const show = async (key) => {
    for (const b of menu.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.key === key));
    const url = new URL(location.href);
    url.searchParams.set('show', key);
    history.replaceState(null, '', url.pathname + url.search);
    clear(panel);
    const msg = messageBox();
    panel.append(msg.el);
    await busy(null, msg, () => PANELS[key]({ ...ctx, ca, panel, msg }));
  };
  const menu = h('ul', { class: 'menu', 'aria-label': `Actions for ${ca.name}` }, items.map(([key, label]) =>
    h('li', {}, h('button', { type: 'button', class: key === 'delete' ? 'danger' : 'secondary', dataset: { key }, 'aria-pressed': 'false', 'aria-controls': 'ca-panel', onclick: () => show(key) }, label))));
  main.append(pageHead(ca.name, statusBadge(ca.status)), menu, panel);
  if (pending) main.insertBefore(h('p', { class: 'warning' }, hsm
    ? 'This CA waits for its appliance: paste its HSM provisioning certificate into the IoT-HSM provisioning wizard, then import the certificate the appliance offers.'
    : 'This CA waits for its signed certificate: copy its CSR, have it signed, then import the certificate.'), menu);
  const want = new URLSearchParams(location.search).get('show');
  await show(items.some(([k]) => k === want) ? want : 'details');
}

const PANELS = {
  async details({ ca, panel, msg, rerender }) {
    const renew = h('button', { type: 'button', class: 'secondary' }, 'Make a new OCSP responder certificate');
    renew.addEventListener('click', async () => {
      if (!(await confirmDialog({ title: 'New OCSP responder certificate', action: 'Make it', danger: false,
        text: 'The relay makes a new responder key and certificate for this CA and signs OCSP answers with it from now on.' }))) return;
      await busy(renew, msg, async () => { await post(`/cas/${ca.id}/ocsp-certificate`); toast('New OCSP responder certificate made'); await rerender(); });
    });
    panel.append(h('div', { class: 'card' }, h('h2', {}, 'Details'), h('dl', { class: 'props' },
      h('dt', {}, 'Subject'), h('dd', {}, ca.subject),
      h('dt', {}, 'Status'), h('dd', {}, ca.status),
      h('dt', {}, 'Key type'), h('dd', {}, ca.key_type),
      h('dt', {}, 'Signature algorithm'), h('dd', {}, ca.signature_algorithm),
      ca.not_after ? [h('dt', {}, 'Valid until'), h('dd', {}, fmtTime(ca.not_after))] : null,
      h('dt', {}, 'CRL validity'), h('dd', {}, `${ca.crl_validity_hours} hours, remade every ${ca.crl_refresh_hours} hours`),
      ca.ocsp_certificate_id ? [h('dt', {}, 'OCSP responder'), h('dd', {}, h('a', { href: `/certificates/${ca.ocsp_certificate_id}`, 'data-link': '' }, `certificate #${ca.ocsp_certificate_id}`))] : null,
      ca.hsm && ca.hsm.targets && ca.hsm.targets.length
        ? [h('dt', {}, 'Signs on'), h('dd', {}, h('ul', { class: 'plain' }, ca.hsm.targets.map((t) => h('li', {}, h('code', {}, t)))))] : null,
      h('dt', {}, 'Created'), h('dd', {}, fmtTime(ca.created))),
      ca.status === 'active' ? h('div', { class: 'actions' }, renew) : null));
  },

  async edit({ ca, panel, msg, rerender, refreshCas }) {
    const name = input('name', { value: ca.name, maxlength: 64 });
    const cps = textarea('cps', { rows: 6, spellcheck: 'true' });
    cps.value = ca.cps || '';
    const skt = select('service_key_type', KEY_TYPES, ca.service_key_type || 'ec-p256');
    const crlValidity = input('crl_validity_hours', { type: 'number', min: 1, value: String(ca.crl_validity_hours), inputmode: 'numeric' });
    const crlRefresh = input('crl_refresh_hours', { type: 'number', min: 1, value: String(ca.crl_refresh_hours), inputmode: 'numeric' });
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save changes');
    const form = h('form', { class: 'card', novalidate: true }, h('h2', {}, 'Edit CA'),
      field('CA name', name),
      field('Certification practice statement', cps, 'Served on the CA’s public CPS page.'),
      h('fieldset', {}, h('legend', {}, 'Service certificates (OCSP, timestamping)'), field('Key type', skt)),
      h('fieldset', {}, h('legend', {}, 'CRL'), h('div', { class: 'grid2' },
        field('CRL validity (hours)', crlValidity), field('Regenerate every (hours)', crlRefresh, 'Must be shorter than the validity.'))),
      h('div', { class: 'actions' }, save));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      busy(save, msg, async () => {
        await patch(`/cas/${ca.id}`, { name: name.value.trim(), cps: cps.value, service_key_type: skt.value,
          crl_validity_hours: Number(crlValidity.value), crl_refresh_hours: Number(crlRefresh.value) });
        toast('CA saved');
        await refreshCas();
        await rerender();
      });
    });
    panel.append(form);
  },

  async csr({ ca, panel }) {
    panel.append(h('div', { class: 'card' }, h('h2', {}, 'Certificate signing request'),
      h('p', {}, 'Copy this CSR and have it signed by the parent CA — on this relay: the parent CA’s “Certificate Authority” template, Submit CSR. Then import the signed certificate here.'),
      await pemBlock('CSR (PEM)', `/cas/${ca.id}/csr`, `${ca.name}.csr`)));
  },

  async provisioning({ ca, panel }) {
    const pem = await get(`/cas/${ca.id}/provisioning-certificate`);
    panel.append(h('div', { class: 'card' }, h('h2', {}, 'HSM Provisioning Certificate'),
      h('p', {}, 'On the IoT-HSM appliance choose “Provision a New Slot”, prepare the key, then paste this certificate. The appliance shows the relay’s fingerprint below for you to confirm; the certificate is the template of the CA certificate and carries a one-time enrolment token.'),
      h('p', { class: 'warning' }, 'Each time this page is opened a new token is made and earlier, unused ones stop working. Keep it like a password until it is used.'),
      await relayFingerprint(),
      textBlock('Provisioning certificate (PEM)', pem, `${ca.name}-hsm-provisioning.pem`)));
  },

  async import({ ca, panel, msg, rerender, refreshCas }) {
    const cert = textarea('certificate_pem', { rows: 10, placeholder: '-----BEGIN CERTIFICATE-----' });
    const chain = textarea('chain_pem', { rows: 6, placeholder: 'Only when the relay cannot find the issuing chain itself' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Import Certificate');
    const doImport = async (chainPem) => {
      const body = { certificate_pem: cert.value.trim() };
      if (chainPem) body.chain_pem = chainPem;
      await post(`/cas/${ca.id}/certificate`, body);
      toast(`${ca.name} is active`);
      await refreshCas();
      await rerender();
    };
    const form = h('form', { class: 'card', novalidate: true }, h('h2', {}, 'Import Signed Certificate'),
      offersList(ca, cert),
      field('Signed certificate (PEM)', cert), field('Issuing chain up to the root (PEM, optional)', chain),
      h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!cert.value.includes('BEGIN CERTIFICATE')) { msg.error(new Error('Paste the signed certificate in PEM form.')); cert.focus(); return; }
      busy(submit, null, async () => {
        msg.clear();
        try {
          await doImport(chain.value.trim());
        } catch (e) {
          if (e.code !== 'chain_incomplete') { msg.error(e); return; }
          askChain(e, doImport);
        }
      });
    });
    panel.append(form);
  },

  async urls({ ca, panel }) {
    panel.append(h('div', { class: 'card' }, h('h2', {}, 'CA Service URLs'),
      h('p', {}, 'Public URLs relying parties and clients use. They need no login.'),
      urlList(ca.urls || {}, CA_URL_LABELS)));
  },

  async certs({ ca, panel }) {
    panel.append(h('div', { class: 'card' }, h('h2', {}, 'CA Certificate(s)'),
      await pemBlock('CA certificate (PEM)', `/cas/${ca.id}/certificate`, `${ca.name}.pem`),
      await pemBlock('Chain up to the root (PEM)', `/cas/${ca.id}/chain`, `${ca.name}-chain.pem`)));
  },

  async delete({ ca, panel, msg, navigate, refreshCas, selectCa }) {
    const button = h('button', { type: 'button', class: 'danger' }, `Delete ${ca.name}`);
    button.addEventListener('click', async () => {
      const ok = await confirmDialog({ title: 'Delete CA', typeName: ca.name, action: 'Delete CA',
        text: `Deleting ${ca.name} removes its templates, requests and certificates. This cannot be undone.` });
      if (!ok) return;
      await busy(button, msg, async () => {
        await del(`/cas/${ca.id}?confirm=${encodeURIComponent(ca.name)}`);
        selectCa(null);
        await refreshCas();
        toast(`CA ${ca.name} deleted`);
        navigate('/cas');
      });
    });
    panel.append(h('div', { class: 'card' }, h('h2', {}, 'Delete CA'),
      h('p', {}, 'This removes the CA, its key, its templates, requests and issued certificates. It cannot be undone.'), button));
  },
};

// The slots appliances offered for an HSM CA: a root's self-signed certificate can be taken
// over with one click; an intermediate's CSR is shown for the parent CA to sign.
function offersList(ca, certArea) {
  if (!ca.hsm) return null;
  const offers = ca.hsm.offers || [];
  if (!offers.length)
    return h('p', { class: 'help' }, 'No appliance has offered a slot for this CA yet. Paste the HSM provisioning certificate into the appliance’s wizard first.');
  return h('div', {}, h('h3', {}, 'Slots offered by appliances'), h('ul', { class: 'plain offers' }, offers.map((o) => {
    const use = o.certificate ? h('button', { type: 'button', class: 'secondary' }, 'Use this certificate') : null;
    if (use) use.addEventListener('click', () => { certArea.value = o.certificate; certArea.focus(); });
    return h('li', { class: 'card' },
      h('p', {}, h('strong', {}, o.appliance), ` slot ${o.slot} `, h('span', { class: `badge ${o.online ? 'ok' : 'bad'}` }, o.online ? 'online' : 'offline'),
        o.attested ? h('span', { class: 'badge ok' }, 'key attested by the YubiKey') : null),
      o.csr ? textBlock('CSR to have signed by the parent CA (PEM)', o.csr, `${ca.name}-${o.slot.replace('/', '-')}.csr`) : null,
      use);
  })));
}

// The SHA-256 of the relay's link certificate, which the appliance shows for the operator to
// confirm before it connects: the two screens must show the same text.
async function relayFingerprint() {
  const pem = await get('/link/certificate');
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const der = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', der));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  return h('dl', { class: 'props' }, h('dt', {}, 'Relay fingerprint (SHA-256)'),
    h('dd', {}, h('code', { class: 'fingerprint' }, hex)));
}

function askChain(err, doImport) {
  const msg = messageBox();
  const chain = textarea('chain_pem_modal', { rows: 10, placeholder: '-----BEGIN CERTIFICATE-----' });
  const ok = h('button', { type: 'button', class: 'primary' }, 'Import Certificate');
  const dlg = modal('The certificate chain is needed', h('div', {},
    h('p', {}, err.message), h('p', {}, 'Paste every certificate above this CA — the intermediates and the root — in PEM.'),
    msg.el, field('Chain (PEM)', chain)), [ok]);
  ok.addEventListener('click', () => busy(ok, msg, async () => { await doImport(chain.value.trim()); dlg.close(); }));
  chain.focus();
}
