// Certificate Authorities -> Import Existing CA (CA-4): a private key (PEM or PKCS#8, optionally
// encrypted) with its CA certificate and, when the relay cannot find it, the chain to a root.
import { post } from '../api.js';
import { h, field, input, textarea, messageBox, busy, pageHead, toast } from '../ui.js';

export async function render({ main, navigate, refreshCas, selectCa }) {
  const msg = messageBox();
  const name = input('name', { maxlength: 64, autocomplete: 'off' });
  const key = textarea('key_pem', { rows: 8, placeholder: '-----BEGIN (ENCRYPTED) PRIVATE KEY-----' });
  const pw = input('key_password', { type: 'password', autocomplete: 'off' });
  const cert = textarea('certificate_pem', { rows: 8, placeholder: '-----BEGIN CERTIFICATE-----' });
  const chain = textarea('chain_pem', { rows: 5, placeholder: 'Only for an intermediate whose chain the relay cannot fetch' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Import CA');
  const form = h('form', { class: 'card', novalidate: true }, msg.el,
    field('CA name', name, 'How the console lists this CA; unique among your CAs.'),
    field('Private key (PEM or PKCS#8)', key, 'The relay seals it under its master key; it is never shown again.'),
    field('Key password (when the key is encrypted)', pw),
    field('CA certificate (PEM)', cert), field('Chain up to the root (PEM, optional)', chain),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!name.value.trim()) { msg.error(new Error('Give the CA a name.')); name.focus(); return; }
    if (!key.value.includes('PRIVATE KEY')) { msg.error(new Error('Paste the private key in PEM form.')); key.focus(); return; }
    if (!cert.value.includes('BEGIN CERTIFICATE')) { msg.error(new Error('Paste the CA certificate in PEM form.')); cert.focus(); return; }
    const body = { name: name.value.trim(), type: 'import', key_pem: key.value.trim(), certificate_pem: cert.value.trim() };
    if (pw.value) body.key_password = pw.value;
    if (chain.value.trim()) body.chain_pem = chain.value.trim();
    busy(submit, msg, async () => {
      const ca = await post('/cas', body);
      key.value = ''; pw.value = '';
      selectCa(ca.id);
      await refreshCas();
      toast(`CA ${ca.name} imported`);
      navigate(`/cas/${ca.id}`);
    });
  });
  main.append(pageHead('Import Existing CA'), h('p', {}, 'Bring a CA whose key you already have, e.g. from another PKI.'), form);
}
