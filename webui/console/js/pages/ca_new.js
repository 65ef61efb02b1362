// Certificate Authorities -> Create New CA (CA-1 root, CA-2 intermediate by CSR, CA-5 a CA whose
// key lives on a YubiKey in an IoT-HSM appliance: key type "HSM").
import { post } from '../api.js';
import { h, field, input, select, checkbox, messageBox, busy, pageHead, toast, textarea } from '../ui.js';
import { KEY_TYPES, SIG_ALGS, subjectFields } from './common.js';

export async function render({ main, navigate, refreshCas, selectCa }) {
  const msg = messageBox();
  const name = input('name', { maxlength: 64, autocomplete: 'off' });
  const subject = subjectFields('subject');
  const keyType = select('key_type', [...KEY_TYPES, ['hsm', 'HSM (YubiKey in an IoT-HSM appliance)']], 'ec-p256');
  const rsaBits = select('rsa_bits', [['2048', '2048 bits'], ['3072', '3072 bits'], ['4096', '4096 bits']], '4096');
  const rsaField = field('RSA key size', rsaBits);
  const sigAlg = select('signature_algorithm', [], '');
  const validity = input('validity_days', { type: 'number', min: 1, max: 36500, value: '3650', inputmode: 'numeric' });
  const pathLen = input('path_len', { type: 'number', min: 0, max: 32, value: '', inputmode: 'numeric', placeholder: 'no limit' });
  const cps = textarea('cps', { rows: 4, spellcheck: 'true' });
  const csrOnly = checkbox('csr_only', false);
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create New CA');
  const sigField = field('Signature algorithm', sigAlg);
  const hsmHelp = h('p', { class: 'help', hidden: true },
    'The key is made on the appliance’s YubiKey (RSA 2048, ECDSA P-256 or P-384): after “Create New CA” you get the HSM provisioning certificate to paste into the appliance’s provisioning wizard.');
  const updateKey = () => {
    const hsm = keyType.value === 'hsm';
    rsaField.hidden = keyType.value !== 'rsa';
    sigField.hidden = hsm;
    hsmHelp.hidden = !hsm;
    sigAlg.replaceChildren(h('option', { value: '' }, 'Default for the key'),
      ...(SIG_ALGS[keyType.value] || []).map((a) => h('option', { value: a }, a)));
  };
  keyType.addEventListener('change', updateKey);
  updateKey();
  // Changing the defaults is allowed, but the user is warned (CA-1).
  const warn = h('p', { class: 'warning', hidden: true, role: 'status' },
    'You changed a default. The defaults suit most CAs; make sure relying parties support your choice.');
  for (const el of [keyType, rsaBits, sigAlg, validity, pathLen])
    el.addEventListener('change', () => { warn.hidden = false; });

  const form = h('form', { class: 'card', novalidate: true }, msg.el,
    field('CA name', name, 'How the console lists this CA; unique among your CAs.'),
    subject.el,
    h('fieldset', {}, h('legend', {}, 'Key and signature'),
      h('div', { class: 'grid2' }, field('Key type', keyType), rsaField, sigField,
        field('Validity (days)', validity), field('Path length constraint', pathLen, 'Empty: no limit.')), hsmHelp),
    h('p', { class: 'help' }, 'Key usage: keyCertSign, cRLSign, digitalSignature; basic constraints: CA.'),
    warn,
    field('Certification practice statement (optional)', cps, 'Shown on the CA’s public CPS page.'),
    field('CSR Only (intermediate CA signed by another CA)', csrOnly,
      'The relay makes the key and a CSR; the CA becomes active once you import its signed certificate.'),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const subj = subject.value();
    if (!name.value.trim()) { msg.error(new Error('Give the CA a name.')); name.focus(); return; }
    if (!subj.CN) { msg.error(new Error('The subject needs a common name (CN).')); subject.inputs.CN.focus(); return; }
    if (subj.C && !/^[A-Za-z]{2}$/.test(subj.C)) { msg.error(new Error('The country is two letters (ISO 3166), e.g. DE.')); subject.inputs.C.focus(); return; }
    const body = {
      name: name.value.trim(), type: csrOnly.checked ? 'intermediate' : 'root', subject: subj,
      key_type: keyType.value, validity_days: Number(validity.value || 3650),
    };
    if (keyType.value === 'rsa') body.rsa_bits = Number(rsaBits.value);
    const hsm = keyType.value === 'hsm';
    if (sigAlg.value && !hsm) body.signature_algorithm = sigAlg.value;
    if (pathLen.value !== '') body.path_len = Number(pathLen.value);
    if (cps.value.trim()) body.cps = cps.value;
    busy(submit, msg, async () => {
      const ca = await post('/cas', body);
      selectCa(ca.id);
      await refreshCas();
      if (hsm) {
        toast(`CA ${ca.name} created; it waits for its appliance`);
        navigate(`/cas/${ca.id}?show=provisioning`);
        return;
      }
      toast(csrOnly.checked ? `CA ${ca.name} created; its CSR is ready` : `Root CA ${ca.name} created`);
      navigate(csrOnly.checked ? `/cas/${ca.id}?show=csr` : `/cas/${ca.id}`);
    });
  });
  main.append(pageHead('Create New CA'), form);
}
