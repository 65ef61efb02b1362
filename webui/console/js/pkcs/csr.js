// PKCS#10 certification requests (RFC 2986) made in the browser with a WebCrypto key.
import { seq, setOf, int, oid, utf8, printable, ia5, bitString, explicit, octets, implicitPrim, algId, concat } from './der.js';

const ATTR = {
  CN: ['2.5.4.3', utf8], C: ['2.5.4.6', printable], ST: ['2.5.4.8', utf8], L: ['2.5.4.7', utf8],
  O: ['2.5.4.10', utf8], OU: ['2.5.4.11', utf8], emailAddress: ['1.2.840.113549.1.9.1', ia5],
};

// subject: [['CN','host'], ['O','Org'], …] in order, most significant first (as openssl prints).
export function name(subject) {
  return seq(subject.filter(([, v]) => v).map(([k, v]) => {
    const a = ATTR[k];
    if (!a) throw new Error(`unknown subject attribute ${k}`);
    return setOf(seq(oid(a[0]), a[1](v)));
  }));
}

function ipBytes(text) {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) return Uint8Array.from(text.split('.').map(Number));
  return null;
}

// sans: ['example.com', 'user@example.com', '192.0.2.1', 'https://…']
export function generalNames(sans) {
  return seq(sans.map((s) => {
    const ip = ipBytes(s);
    if (ip) return implicitPrim(7, ip);
    if (s.includes('@')) return implicitPrim(1, new TextEncoder().encode(s));
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return implicitPrim(6, new TextEncoder().encode(s));
    return implicitPrim(2, new TextEncoder().encode(s));
  }));
}

export async function generateRsaKey(bits = 2048) {
  return crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256' },
    true, ['sign', 'verify']);
}

export async function buildCsr(keyPair, subject, sans = []) {
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', keyPair.publicKey));
  const attrs = sans.length
    ? [seq(oid('1.2.840.113549.1.9.14'), setOf(seq(seq(oid('2.5.29.17'), octets(generalNames(sans))))))]
    : [];
  const info = seq(int(0), name(subject), spki, explicit(0, concat(attrs)));
  const sig = new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', keyPair.privateKey, info));
  return seq(info, algId('1.2.840.113549.1.1.11'), bitString(sig));
}
