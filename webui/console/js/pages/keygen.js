// Shared by the public pages: a password pair and the browser-side key generation.
import { h, field, input } from '../ui.js';

export function passwordPair(prefix, purpose) {
  const pw = input(`${prefix}_password`, { type: 'password', autocomplete: 'new-password', minlength: 8 });
  const pw2 = input(`${prefix}_password2`, { type: 'password', autocomplete: 'new-password' });
  return {
    el: h('div', {}, field(`Password for ${purpose}`, pw, 'At least 8 characters. You need it to install the file; it never leaves this browser.'),
      field('Repeat the password', pw2)),
    check() {
      if (pw.value.length < 8) { pw.focus(); throw new Error('The password needs at least 8 characters.'); }
      if (pw.value !== pw2.value) { pw2.focus(); throw new Error('The two passwords differ.'); }
      return pw.value;
    },
    first: pw,
  };
}

export function fileBase(subjectOrCn) {
  const m = /CN\s*=\s*([^,/+]+)/.exec(subjectOrCn || '');
  return (m ? m[1] : subjectOrCn || 'certificate').trim().replace(/[^\w.-]+/g, '_') || 'certificate';
}
