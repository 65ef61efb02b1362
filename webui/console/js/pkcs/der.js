// A small DER encoder (X.690) for what the browser builds itself: PKCS#10 requests and
// PKCS#12 files. Every function returns a Uint8Array holding one complete TLV.

export function concat(...parts) {
  const list = parts.flat(Infinity);
  const n = list.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of list) { out.set(p, o); o += p.length; }
  return out;
}

function lengthBytes(n) {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function tlv(tag, ...content) {
  const body = concat(content);
  return concat(Uint8Array.of(tag), lengthBytes(body.length), body);
}

export const seq = (...items) => tlv(0x30, items);
// SET OF in DER is sorted by encoding (X.690 11.6).
export function setOf(...items) {
  const list = items.flat(Infinity).slice().sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  });
  return tlv(0x31, list);
}
export const nul = () => Uint8Array.of(0x05, 0x00);
export const octets = (bytes) => tlv(0x04, bytes);
export const bitString = (bytes) => tlv(0x03, Uint8Array.of(0), bytes);
export const explicit = (n, ...inner) => tlv(0xa0 | n, inner);
export const implicitPrim = (n, bytes) => tlv(0x80 | n, bytes);

// Non-negative INTEGER from a number or big-endian bytes, minimal and positive.
export function int(v) {
  let bytes;
  if (typeof v === 'number') {
    const b = [];
    let x = v;
    do { b.unshift(x & 0xff); x = Math.floor(x / 256); } while (x > 0);
    bytes = Uint8Array.from(b);
  } else bytes = v;
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0 && !(bytes[i + 1] & 0x80)) i++;
  bytes = bytes.slice(i);
  if (bytes[0] & 0x80) bytes = concat(Uint8Array.of(0), bytes);
  return tlv(0x02, bytes);
}

export function oid(text) {
  const arcs = text.split('.').map(Number);
  const out = [40 * arcs[0] + arcs[1]];
  for (const a of arcs.slice(2)) {
    const b = [a & 0x7f];
    for (let v = Math.floor(a / 128); v > 0; v = Math.floor(v / 128)) b.unshift(0x80 | (v & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, Uint8Array.from(out));
}

const enc = new TextEncoder();
export const utf8 = (s) => tlv(0x0c, enc.encode(s));
export const printable = (s) => tlv(0x13, enc.encode(s));
export const ia5 = (s) => tlv(0x16, enc.encode(s));
export function bmp(s) {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) { out[2 * i] = s.charCodeAt(i) >> 8; out[2 * i + 1] = s.charCodeAt(i) & 0xff; }
  return tlv(0x1e, out);
}

export const algId = (o, params = nul()) => (params ? seq(oid(o), params) : seq(oid(o)));

// PEM <-> DER
export function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
export function fromBase64(text) {
  const s = atob(text.replace(/[^A-Za-z0-9+/=]/g, ''));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
export function pem(label, der) {
  const b64 = toBase64(der).replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}
// Every PEM block of the given label in text, as DER.
export function pemBlocks(text, label = 'CERTIFICATE') {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => fromBase64(m[1]));
}
