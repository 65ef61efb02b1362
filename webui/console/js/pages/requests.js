// X509 Certificates -> Pending Requests (W-4): approve or decline in bulk, or one by one in a
// modal that may override subject, SANs and validity (days from now, or explicit start and end).
import { get, post } from '../api.js';
import { h, clear, field, input, textarea, messageBox, busy, pageHead, toast, modal, fmtTime, confirmDialog } from '../ui.js';
import { subjectFields, subjectString, parseSans, statusBadge, select } from './common.js';

export async function render(ctx) {
  const { main, ca } = ctx;
  const msg = messageBox();
  const statusSel = select('status', [['pending', 'Pending'], ['preapproved', 'Pre-approved (not yet claimed)'], ['issued', 'Issued'], ['declined', 'Declined'], ['', 'All']], 'pending');
  const list = h('div', {});
  const approveSel = h('button', { type: 'button', class: 'primary' }, 'Approve selected');
  const declineSel = h('button', { type: 'button', class: 'danger' }, 'Decline selected');
  const bulkBar = h('div', { class: 'actions', role: 'group', 'aria-label': 'Bulk actions' }, approveSel, declineSel);
  const templates = {};
  for (const t of (await get(`/cas/${ca.id}/templates`)).templates || []) templates[t.id] = t.name;
  let rows = [];
  const load = async () => {
    const query = statusSel.value ? `?status=${statusSel.value}` : '';
    const r = await get(`/cas/${ca.id}/requests${query}`);
    rows = r.requests || [];
    draw();
  };
  const selected = () => [...list.querySelectorAll('input[data-req]:checked')].map((c) => Number(c.dataset.req));
  const draw = () => {
    bulkBar.hidden = !rows.some((r) => r.status === 'pending');
    if (!rows.length) { clear(list, h('p', { class: 'empty' }, 'No requests.')); return; }
    const all = h('input', { type: 'checkbox', id: 'req-all', 'aria-label': 'Select all pending requests' });
    all.addEventListener('change', () => list.querySelectorAll('input[data-req]').forEach((c) => { c.checked = all.checked; }));
    clear(list, h('div', { class: 'table-wrap' }, h('table', {}, h('caption', {}, `Requests of ${ca.name}`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, all), ['Request', 'Subject', 'Template', 'Source', 'Status', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((r) => h('tr', {},
        h('td', { 'data-label': 'Select' }, r.status === 'pending' ? h('input', { type: 'checkbox', dataset: { req: r.id }, 'aria-label': `Select request ${r.id}` }) : ''),
        h('td', { 'data-label': 'Request' }, h('button', { type: 'button', class: 'secondary small', onclick: () => openRequest(r) }, `#${r.id}`)),
        h('td', { 'data-label': 'Subject' }, requestSubject(r)),
        h('td', { 'data-label': 'Template' }, templates[r.template_id] || `#${r.template_id}`),
        h('td', { 'data-label': 'Source' }, r.source),
        h('td', { 'data-label': 'Status' }, statusBadge(r.status)),
        h('td', { 'data-label': 'Created' }, fmtTime(r.created))))))));
    const want = Number(new URLSearchParams(location.search).get('highlight'));
    if (want) list.querySelector(`input[data-req="${want}"]`)?.closest('tr')?.classList.add('highlight');
  };
  const bulk = (action, button) => async () => {
    const ids = selected();
    if (!ids.length) { msg.error(new Error('Select at least one pending request.')); return; }
    if (action === 'decline' && !(await confirmDialog({ title: 'Decline requests', action: 'Decline', text: `Decline ${ids.length} request(s)? Declined requests cannot be approved later.` }))) return;
    await busy(button, msg, async () => {
      const r = await post(`/cas/${ca.id}/requests/bulk`, { action, ids });
      const failed = (r.results || []).filter((x) => x.error);
      if (failed.length) msg.error(new Error(failed.map((x) => `#${x.id}: ${x.error.message || x.error}`).join('; ')));
      else toast(`${ids.length} request(s) ${action === 'approve' ? 'approved' : 'declined'}`);
      await load();
    });
  };
  approveSel.addEventListener('click', bulk('approve', approveSel));
  declineSel.addEventListener('click', bulk('decline', declineSel));
  statusSel.addEventListener('change', () => busy(null, msg, load));
  const openRequest = (r) => requestModal(r, templates, load);
  main.append(pageHead('Pending Requests'), msg.el, h('div', { class: 'toolbar' }, field('Show', statusSel)), bulkBar, list);
  await busy(null, msg, load);
}

// What was asked for: a pre-approved request's fixed subject, else the CSR's.
function requestSubject(r) {
  const p = r.params || {};
  return p.subject || p.csr_subject || '—';
}

function requestSans(r) {
  const p = r.params || {};
  return p.sans || p.csr_sans || [];
}

function requestModal(r, templates, reload) {
  const msg = messageBox();
  const pending = r.status === 'pending';
  const info = h('dl', { class: 'props' },
    h('dt', {}, 'Template'), h('dd', {}, templates[r.template_id] || `#${r.template_id}`),
    h('dt', {}, 'Source'), h('dd', {}, r.source),
    h('dt', {}, 'Status'), h('dd', {}, r.status),
    h('dt', {}, 'Requested subject'), h('dd', {}, requestSubject(r)),
    h('dt', {}, 'Requested SANs'), h('dd', {}, requestSans(r).join(', ') || 'none'),
    r.params && r.params.key_type ? [h('dt', {}, 'Key'), h('dd', {}, r.params.key_type)] : null,
    h('dt', {}, 'Created'), h('dd', {}, fmtTime(r.created)));
  if (!pending) {
    const dlg = modal(`Request #${r.id}`, h('div', {}, info,
      r.certificate_id ? h('p', {}, h('a', { href: `/certificates/${r.certificate_id}`, 'data-link': '', onclick: () => dlg.close() }, 'View the issued certificate')) : null));
    return;
  }
  const subject = subjectFields(`ov${r.id}`, {}, { requireCn: false });
  const sans = textarea('override_sans', { rows: 2, placeholder: 'leave empty to keep the requested SANs' });
  const mode = select('validity_mode', [['template', 'Template default'], ['days', 'Days from now'], ['range', 'Explicit start and end']], 'template');
  const days = input('override_days', { type: 'number', min: 1, max: 36500, inputmode: 'numeric' });
  const start = input('not_before', { type: 'datetime-local' });
  const end = input('not_after', { type: 'datetime-local' });
  const daysF = field('Valid for (days from now)', days), startF = field('Valid from (UTC)', start, 'A future start is allowed.'), endF = field('Valid until (UTC)', end);
  const sync = () => { daysF.hidden = mode.value !== 'days'; startF.hidden = endF.hidden = mode.value !== 'range'; };
  mode.addEventListener('change', sync);
  sync();
  const approve = h('button', { type: 'button', class: 'primary' }, 'Approve and sign');
  const decline = h('button', { type: 'button', class: 'danger' }, 'Decline');
  const body = h('div', {}, msg.el, info,
    h('details', {}, h('summary', {}, 'Overrides (optional)'),
      h('p', { class: 'help' }, 'Filled-in subject attributes replace the whole requested subject; SANs replace the requested SANs.'),
      subject.el, field('Subject alternative names', sans, 'Comma-separated.'),
      h('fieldset', {}, h('legend', {}, 'Validity'), field('Validity', mode), daysF, startF, endF)));
  const dlg = modal(`Request #${r.id}`, body, [decline, approve]);
  const utc = (v) => (v ? `${v.length === 16 ? v + ':00' : v}Z` : '');
  approve.addEventListener('click', () => busy(approve, msg, async () => {
    const ov = {};
    const subj = subject.value();
    if (Object.keys(subj).length) {
      if (!subj.CN) throw new Error('An overriding subject needs a common name (CN).');
      ov.subject = subjectString(subj);
    }
    if (sans.value.trim()) ov.sans = parseSans(sans.value);
    if (mode.value === 'days') {
      if (!days.value) throw new Error('Enter the number of days.');
      ov.validity_days = Number(days.value);
    } else if (mode.value === 'range') {
      if (!start.value || !end.value) throw new Error('Enter both the start and the end.');
      if (end.value <= start.value) throw new Error('The end must be after the start.');
      ov.not_before = utc(start.value);
      ov.not_after = utc(end.value);
    }
    const res = await post(`/requests/${r.id}/approve`, ov);
    dlg.close();
    toast(`Request #${r.id} approved: certificate ${res.certificate ? res.certificate.serial : ''} issued`);
    await reload();
  }));
  decline.addEventListener('click', async () => {
    if (!(await confirmDialog({ title: 'Decline request', action: 'Decline', text: `Decline request #${r.id}? A declined request cannot be approved later.` }))) return;
    await busy(decline, msg, async () => {
      await post(`/requests/${r.id}/decline`);
      dlg.close();
      toast(`Request #${r.id} declined`);
      await reload();
    });
  });
}
