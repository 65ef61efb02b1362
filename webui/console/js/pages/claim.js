// Claim a pre-approved request (W-3), no login. The token comes in the URL fragment. The
// browser makes an RSA-2048 key and the CSR, the relay signs it, and the browser packs key and
// certificates into a PKCS#12 protected by the user's password: the key never leaves it.
import { post } from '../api.js';
import { h, clear, field, textarea, messageBox, busy, download, textBlock } from '../ui.js';
import { passwordPair, fileBase } from './keygen.js';

export async function render({ main }) {
  document.title = 'Claim your certificate · pki-relay';
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  if (!token) {
    main.append(h('div', { class: 'card' }, h('h1', {}, 'Claim your certificate'),
      h('p', { class: 'message error', role: 'alert' }, 'This link is incomplete: open the full claim link you were sent.')));
    return;
  }
  const msg = messageBox();
  const result = h('div', {});
  const modeGen = h('input', { type: 'radio', name: 'mode', id: 'mode-gen', value: 'gen', checked: true });
  const modeCsr = h('input', { type: 'radio', name: 'mode', id: 'mode-csr', value: 'csr' });
  const pw = passwordPair('p12', 'the PKCS#12 file');
  const genPart = h('div', {}, h('p', {}, 'This browser makes an RSA-2048 key and downloads it with your certificate as a PKCS#12 file (.p12) protected by your password.'), pw.el);
  const csr = textarea('csr', { rows: 10, placeholder: '-----BEGIN CERTIFICATE REQUEST-----' });
  const csrPart = h('div', { hidden: true }, field('Certificate signing request (PEM)', csr, 'Its subject and SANs are replaced by the approved ones.'));
  const sync = () => { genPart.hidden = !modeGen.checked; csrPart.hidden = modeGen.checked; };
  modeGen.addEventListener('change', sync);
  modeCsr.addEventListener('change', sync);
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Claim certificate');
  const form = h('form', { class: 'card', novalidate: true }, h('h1', {}, 'Claim your certificate'), msg.el,
    h('div', { role: 'radiogroup', 'aria-label': 'Key', class: 'field' },
      h('div', { class: 'field check' }, modeGen, h('label', { for: 'mode-gen' }, 'Generate a key in this browser (recommended)')),
      h('div', { class: 'field check' }, modeCsr, h('label', { for: 'mode-csr' }, 'I have my own CSR'))),
    genPart, csrPart, h('div', { class: 'actions' }, submit));
  let key = null; // kept across a failed attempt so a retry reuses it
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(submit, msg, async () => {
      if (modeGen.checked) {
        const password = pw.check();
        const { generateRsaKey, buildCsr } = await import('../pkcs/csr.js');
        const { pem, pemBlocks } = await import('../pkcs/der.js');
        const { buildPkcs12 } = await import('../pkcs/pkcs12.js');
        submit.textContent = 'Generating the key…';
        key = key || await generateRsaKey(2048);
        const csrPem = pem('CERTIFICATE REQUEST', await buildCsr(key, [['CN', 'claim']]));
        submit.textContent = 'Claiming…';
        const cert = await post('/public/claim', { token, csr: csrPem });
        submit.textContent = 'Packing the PKCS#12…';
        const leaf = pemBlocks(cert.pem);
        const chain = pemBlocks(cert.chain_pem || '').filter((d) => !sameBytes(d, leaf[0]));
        const p12 = await buildPkcs12({ key: key.privateKey, certs: [...leaf, ...chain], password, friendlyName: fileBase(cert.subject) });
        const name = `${fileBase(cert.subject)}.p12`;
        download(name, p12, 'application/x-pkcs12');
        history.replaceState(null, '', '/claim'); // the token is used up; keep it out of the history
        form.hidden = true;
        clear(result, h('div', { class: 'card' }, h('h1', {}, 'Your certificate is ready'),
          h('p', { role: 'status' }, `${name} was downloaded. It holds your private key and certificate, protected by your password.`),
          h('p', {}, `Subject: ${cert.subject} · serial ${cert.serial}`),
          h('button', { type: 'button', class: 'secondary', onclick: () => download(name, p12, 'application/x-pkcs12') }, 'Download again')));
      } else {
        if (!csr.value.includes('CERTIFICATE REQUEST')) { csr.focus(); throw new Error('Paste a CSR in PEM form.'); }
        const cert = await post('/public/claim', { token, csr: csr.value.trim() });
        history.replaceState(null, '', '/claim');
        form.hidden = true;
        clear(result, h('div', { class: 'card' }, h('h1', {}, 'Your certificate is ready'),
          textBlock('Certificate (PEM)', cert.pem, `${fileBase(cert.subject)}.pem`),
          cert.chain_pem ? textBlock('Chain (PEM)', cert.chain_pem, `${fileBase(cert.subject)}-chain.pem`) : null));
      }
    }).finally(() => { submit.textContent = 'Claim certificate'; });
  });
  main.append(form, result);
}

function sameBytes(a, b) {
  return a && b && a.length === b.length && a.every((x, i) => x === b[i]);
}
