// One issued certificate: details, PEM with copy, downloads (PEM, DER, chain, PKCS#7), revoke
// with an RFC 5280 reason (confirmation; final unless certificateHold), unrevoke from hold.
import { get, post, api } from '../api.js';
import { h, field, messageBox, busy, pageHead, toast, confirmDialog, fmtTime, textBlock, download, modal } from '../ui.js';
import { statusBadge, select } from './common.js';

const REASONS = [['unspecified', 'Unspecified'], ['keyCompromise', 'Key compromise'], ['cACompromise', 'CA compromise'],
  ['affiliationChanged', 'Affiliation changed'], ['superseded', 'Superseded'], ['cessationOfOperation', 'Cessation of operation'],
  ['certificateHold', 'Certificate hold (can be undone)'], ['privilegeWithdrawn', 'Privilege withdrawn'], ['aACompromise', 'AA compromise']];

export async function render(ctx) {
  const { main, params, rerender } = ctx;
  const c = await get(`/certificates/${Number(params[0])}`);
  const msg = messageBox();
  const base = (c.subject.match(/CN\s*=\s*([^,/]+)/) || [null, `certificate-${c.serial}`])[1].trim().replace(/[^\w.-]+/g, '_');
  const dl = (format, name, type) => h('button', { type: 'button', class: 'secondary', onclick: (ev) => busy(ev.target, msg, async () => {
    const res = await api('GET', `/certificates/${c.id}/download?format=${format}`, undefined, { raw: true });
    download(name, await res.blob(), type);
  }) }, `Download ${{ pem: 'PEM', der: 'DER', chain: 'chain (PEM)', p7: 'PKCS#7' }[format]}`);
  const status = c.status === 'on_hold' ? 'hold' : c.status;
  const actions = [];
  if (c.status === 'issued' || c.status === 'on_hold') {
    actions.push(h('button', { type: 'button', class: 'danger', onclick: () => revokeDialog(c, rerender) }, c.status === 'on_hold' ? 'Revoke for good' : 'Revoke'));
  }
  if (c.status === 'on_hold') {
    const un = h('button', { type: 'button', class: 'primary' }, 'Unrevoke (take off hold)');
    un.addEventListener('click', async () => {
      if (!(await confirmDialog({ title: 'Unrevoke certificate', action: 'Unrevoke', danger: false, text: 'The certificate becomes valid again; the CRL and OCSP answers are updated.' }))) return;
      await busy(un, msg, async () => { await post(`/certificates/${c.id}/unrevoke`); toast('Certificate taken off hold'); await rerender(); });
    });
    actions.push(un);
  }
  main.append(pageHead(c.subject || `Certificate ${c.serial}`, statusBadge(status)), msg.el,
    h('div', { class: 'card' }, h('h2', {}, 'Details'), h('dl', { class: 'props' },
      h('dt', {}, 'Subject'), h('dd', {}, c.subject),
      h('dt', {}, 'Serial number'), h('dd', {}, h('code', {}, c.serial)),
      h('dt', {}, 'Kind'), h('dd', {}, c.kind),
      h('dt', {}, 'Valid from'), h('dd', {}, fmtTime(c.not_before)),
      h('dt', {}, 'Valid until'), h('dd', {}, fmtTime(c.not_after)),
      h('dt', {}, 'Status'), h('dd', {}, status),
      c.revoked_at ? [h('dt', {}, 'Revoked'), h('dd', {}, `${fmtTime(c.revoked_at)} (${c.revocation_reason})`)] : null,
      c.request_id ? [h('dt', {}, 'Request'), h('dd', {}, `#${c.request_id}`)] : null)),
    h('div', { class: 'actions', hidden: !actions.length }, actions),
    h('div', { class: 'card' }, h('h2', {}, 'Certificate'),
      c.pem ? textBlock('Certificate (PEM)', c.pem) : null,
      h('div', { class: 'actions' }, dl('pem', `${base}.pem`, 'application/x-pem-file'), dl('der', `${base}.cer`, 'application/pkix-cert'),
        dl('chain', `${base}-chain.pem`, 'application/x-pem-file'), dl('p7', `${base}.p7b`, 'application/pkcs7-mime'))));
}

function revokeDialog(c, rerender) {
  const msg = messageBox();
  const reason = select('reason', REASONS, c.status === 'on_hold' ? 'keyCompromise' : 'unspecified');
  const note = h('p', { class: 'warning' }, 'Revocation is final, except with the reason “Certificate hold”.');
  const ok = h('button', { type: 'button', class: 'danger' }, 'Revoke');
  const dlg = modal('Revoke certificate', h('div', {}, msg.el, h('p', {}, c.subject, ' · serial ', h('code', {}, c.serial)), field('Reason', reason), note), [ok]);
  reason.focus();
  ok.addEventListener('click', () => busy(ok, msg, async () => {
    await post(`/certificates/${c.id}/revoke`, { reason: reason.value });
    dlg.close();
    toast(reason.value === 'certificateHold' ? 'Certificate put on hold' : 'Certificate revoked');
    await rerender();
  }));
}
