// Public certificate request (W-2), no login: paste a CSR, or fill in subject and SANs and let
// this browser make the key (downloaded encrypted with the user's password; never sent).
import { post } from '../api.js';
import { h, clear, field, input, textarea, messageBox, busy, download } from '../ui.js';
import { subjectFields, parseList } from './common.js';
import { passwordPair, fileBase } from './keygen.js';

export async function render({ params, main }) {
  const id = Number(params[0]);
  document.title = 'Certificate request · pki-relay';
  const msg = messageBox();
  const result = h('div', {});
  const tabs = h('div', { role: 'radiogroup', 'aria-label': 'How to request', class: 'field' });
  const modeCsr = h('input', { type: 'radio', name: 'mode', id: 'mode-csr', value: 'csr', checked: true });
  const modeForm = h('input', { type: 'radio', name: 'mode', id: 'mode-form', value: 'form' });
  tabs.append(h('div', { class: 'field check' }, modeCsr, h('label', { for: 'mode-csr' }, 'I have a CSR')),
    h('div', { class: 'field check' }, modeForm, h('label', { for: 'mode-form' }, 'Fill in a form (this browser makes the key)')));
  const csr = textarea('csr', { rows: 10, placeholder: '-----BEGIN CERTIFICATE REQUEST-----' });
  const csrPart = h('div', {}, field('Certificate signing request (PEM)', csr));
  const subject = subjectFields('pub');
  const sans = input('sans', { placeholder: 'host.example.com, user@example.com' });
  const pw = passwordPair('key', 'the private key');
  const formPart = h('div', { hidden: true }, subject.el, field('Subject alternative names', sans, 'Comma-separated DNS names, IP or email addresses.'), pw.el);
  const sync = () => { csrPart.hidden = !modeCsr.checked; formPart.hidden = modeCsr.checked; };
  modeCsr.addEventListener('change', sync);
  modeForm.addEventListener('change', sync);
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Submit request');
  const form = h('form', { class: 'card', novalidate: true },
    h('h1', {}, 'Request a certificate'),
    h('p', {}, 'An administrator reviews the request before the certificate is issued.'),
    msg.el, tabs, csrPart, formPart, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(submit, msg, async () => {
      let pem = csr.value.trim();
      let keyFile = null;
      if (modeForm.checked) {
        const subj = subject.value();
        if (!subj.CN) { subject.inputs.CN.focus(); throw new Error('The subject needs a common name (CN).'); }
        const password = pw.check();
        const { generateRsaKey, buildCsr } = await import('../pkcs/csr.js');
        const { pem: toPem } = await import('../pkcs/der.js');
        const { encryptPrivateKey } = await import('../pkcs/pkcs12.js');
        const key = await generateRsaKey(2048);
        const order = ['C', 'ST', 'L', 'O', 'OU', 'CN'];
        pem = toPem('CERTIFICATE REQUEST', await buildCsr(key, order.filter((k) => subj[k]).map((k) => [k, subj[k]]), parseList(sans.value)));
        keyFile = { name: `${fileBase(subj.CN)}.key`, text: toPem('ENCRYPTED PRIVATE KEY', await encryptPrivateKey(key.privateKey, password)) };
      } else if (!pem.includes('CERTIFICATE REQUEST')) {
        csr.focus();
        throw new Error('Paste a CSR in PEM form (-----BEGIN CERTIFICATE REQUEST-----).');
      }
      let r;
      try {
        r = await post(`/public/templates/${id}/requests`, { csr: pem });
      } catch (e) {
        if (e.code === 'not_found') e.message = 'This request page does not exist or does not accept public requests. Ask the administrator for the right link.';
        throw e;
      }
      form.hidden = true;
      clear(result, h('div', { class: 'card' }, h('h1', {}, 'Request submitted'),
        h('p', { role: 'status' }, `Your request #${r.id} waits for approval by an administrator.`),
        keyFile ? [h('p', {}, 'Your private key was made in this browser. Save it now — it exists nowhere else:'),
          h('button', { type: 'button', class: 'primary', onclick: () => download(keyFile.name, keyFile.text, 'application/x-pem-file') }, 'Download the private key (encrypted)')] : null));
      if (keyFile) download(keyFile.name, keyFile.text, 'application/x-pem-file');
    });
  });
  main.append(form, result);
}
