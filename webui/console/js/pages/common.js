// Pieces several pages share: subject fields, key choices, service-URL lists, PEM downloads.
import { get } from '../api.js';
import { h, field, input, select, textBlock, copyButton, download, table } from '../ui.js';

export const KEY_TYPES = [
  ['rsa', 'RSA'], ['ec-p256', 'ECDSA P-256'], ['ec-p384', 'ECDSA P-384'], ['ec-p521', 'ECDSA P-521'], ['ed25519', 'Ed25519'],
];
export const SIG_ALGS = {
  rsa: ['sha256WithRSAEncryption', 'sha384WithRSAEncryption', 'sha512WithRSAEncryption', 'rsassa-pss-sha256', 'rsassa-pss-sha384', 'rsassa-pss-sha512'],
  'ec-p256': ['ecdsa-with-SHA256', 'ecdsa-with-SHA384', 'ecdsa-with-SHA512'],
  'ec-p384': ['ecdsa-with-SHA384', 'ecdsa-with-SHA256', 'ecdsa-with-SHA512'],
  'ec-p521': ['ecdsa-with-SHA512', 'ecdsa-with-SHA384', 'ecdsa-with-SHA256'],
  ed25519: ['Ed25519'],
};

export const SUBJECT_ATTRS = [
  ['CN', 'Common name (CN)'], ['O', 'Organization (O)'], ['OU', 'Organizational unit (OU)'],
  ['L', 'Locality (L)'], ['ST', 'State or province (ST)'], ['C', 'Country (C, two letters)'],
];

// Subject inputs; returns { el, value() -> {CN:…}, inputs }.
export function subjectFields(prefix, initial = {}, { requireCn = true } = {}) {
  const inputs = {};
  const els = SUBJECT_ATTRS.map(([k, label]) => {
    inputs[k] = input(`${prefix}_${k}`, { value: initial[k] || '', maxlength: k === 'C' ? 2 : 64, autocomplete: 'off',
      required: k === 'CN' && requireCn });
    return field(label + (k === 'CN' && requireCn ? ' — required' : ''), inputs[k]);
  });
  return {
    el: h('fieldset', {}, h('legend', {}, 'Subject'), h('div', { class: 'grid2' }, els)),
    inputs,
    value() {
      const o = {};
      for (const [k] of SUBJECT_ATTRS) if (inputs[k].value.trim()) o[k] = inputs[k].value.trim();
      return o;
    },
  };
}

export function subjectText(o) {
  return SUBJECT_ATTRS.filter(([k]) => o && o[k]).map(([k]) => `${k}=${o[k]}`).join(', ');
}

// A list of named URLs with a copy button each.
export function urlList(urls, labels) {
  const rows = Object.entries(labels).filter(([k]) => urls[k]).map(([k, label]) => ({ k, label, url: urls[k] }));
  return table([
    { label: 'Service', key: 'label' },
    { label: 'URL', render: (r) => h('code', {}, r.url) },
    { label: 'Copy', render: (r) => copyButton(r.url, 'Copy') },
  ], rows, { caption: 'Public URLs' });
}

// GET of an API text resource (PEM) shown in a copyable block with a download button.
export async function pemBlock(label, apiPath, fileName) {
  const text = await get(apiPath);
  return textBlock(label, text, fileName);
}

export async function downloadApi(apiPath, fileName, type = 'application/x-pem-file') {
  const text = await get(apiPath);
  download(fileName, text, type);
}

export function sansText(sans) {
  return (sans || []).join(', ');
}

export function parseList(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

export function statusBadge(status) {
  const cls = { active: 'ok', issued: 'ok', good: 'ok', pending: 'warn', awaiting_appliance: 'warn', preapproved: 'warn', hold: 'warn', revoked: 'bad', declined: 'bad', expired: 'bad' }[status] || '';
  return h('span', { class: `badge ${cls}` }, status);
}

export { select };

// A subject object as the relay's name text in openssl's order ("/C=DE/O=Org/CN=host").
export function subjectString(o) {
  const order = ['C', 'ST', 'L', 'O', 'OU', 'CN'];
  return order.filter((k) => o[k]).map((k) => `/${k}=${String(o[k]).replace(/[\\/+]/g, '\\$&')}`).join('');
}

// SANs as the relay takes them ("DNS:x", "IP:…", "email:…", "URI:…", "UPN:…"); plain entries
// get their type guessed, so people can type "host.example.com, 192.0.2.1, a@example.com".
export function parseSans(text) {
  return parseList(text).map((s) => {
    if (/^(DNS|IP|email|URI|UPN):/i.test(s)) return s;
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s) || (/^[0-9a-f:]+$/i.test(s) && s.includes(':'))) return `IP:${s}`;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return `URI:${s}`;
    if (s.includes('@')) return `email:${s}`;
    return `DNS:${s}`;
  });
}
