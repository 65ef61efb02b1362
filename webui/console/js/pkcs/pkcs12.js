// PKCS#12 (RFC 7292) built in the browser: the key in a pkcs8ShroudedKeyBag encrypted with
// PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), the certificates in cert bags, and an
// HMAC-SHA256 integrity MAC keyed by the PKCS#12 KDF — what OpenSSL 3 writes by default, so
// `openssl pkcs12 -info` and every current platform open it with the password.
import { seq, setOf, int, oid, octets, explicit, bmp, algId, nul, concat } from './der.js';

const enc = new TextEncoder();
const OID = {
  data: '1.2.840.113549.1.7.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  friendlyName: '1.2.840.113549.1.9.20',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacSha256: '1.2.840.113549.2.9',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
  sha256: '2.16.840.1.101.3.4.2.1',
};

const random = (n) => crypto.getRandomValues(new Uint8Array(n));
const dataInfo = (bytes) => seq(oid(OID.data), explicit(0, octets(bytes)));

async function pbes2Encrypt(password, plain, iterations) {
  const salt = random(16), iv = random(16);
  const base = await crypto.subtle.importKey('raw', enc.encode(password), 'PBKDF2', false, ['deriveKey']);
  const key = await crypto.subtle.deriveKey({ name: 'PBKDF2', salt, iterations, hash: 'SHA-256' }, base,
    { name: 'AES-CBC', length: 256 }, false, ['encrypt']);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key, plain));
  const alg = seq(oid(OID.pbes2), seq(
    seq(oid(OID.pbkdf2), seq(octets(salt), int(iterations), algId(OID.hmacSha256))),
    seq(oid(OID.aes256cbc), octets(iv))));
  return seq(alg, octets(ct)); // EncryptedPrivateKeyInfo
}

// RFC 7292 appendix B.2 with SHA-256 (u = 32, v = 64) for a 32-byte key: one block suffices.
async function pkcs12Kdf(password, salt, id, iterations) {
  const v = 64;
  const pw = new Uint8Array(password.length * 2 + 2); // BMPString, NUL-terminated
  for (let i = 0; i < password.length; i++) { pw[2 * i] = password.charCodeAt(i) >> 8; pw[2 * i + 1] = password.charCodeAt(i) & 0xff; }
  const fill = (src) => {
    if (!src.length) return new Uint8Array(0);
    const out = new Uint8Array(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length];
    return out;
  };
  let a = concat(new Uint8Array(v).fill(id), fill(salt), fill(pw));
  for (let i = 0; i < iterations; i++) a = new Uint8Array(await crypto.subtle.digest('SHA-256', a));
  return a;
}

// key: a CryptoKey (extractable private key); certs: DER certificates, the key's first.
export async function buildPkcs12({ key, certs, password, friendlyName = '', kdfIterations = 600000, macIterations = 10000 }) {
  if (!password) throw new Error('a password is required');
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', key));
  const keyId = new Uint8Array(await crypto.subtle.digest('SHA-1', certs[0]));
  const attrs = (withName) => setOf(
    seq(oid(OID.localKeyId), setOf(octets(keyId))),
    withName && friendlyName ? seq(oid(OID.friendlyName), setOf(bmp(friendlyName))) : []);
  const certBags = certs.map((der, i) => seq(oid(OID.certBag),
    explicit(0, seq(oid(OID.x509Certificate), explicit(0, octets(der)))),
    i === 0 ? attrs(true) : []));
  const keyBag = seq(oid(OID.shroudedKeyBag), explicit(0, await pbes2Encrypt(password, pkcs8, kdfIterations)), attrs(true));
  pkcs8.fill(0);
  const authSafe = seq(dataInfo(seq(certBags)), dataInfo(seq(keyBag)));
  const macSalt = random(16);
  const macKey = await crypto.subtle.importKey('raw', await pkcs12Kdf(password, macSalt, 3, macIterations),
    { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', macKey, authSafe));
  return seq(int(3), dataInfo(authSafe), seq(seq(algId(OID.sha256, nul()), octets(mac)), octets(macSalt), int(macIterations)));
}

// The private key alone as an EncryptedPrivateKeyInfo (PEM "ENCRYPTED PRIVATE KEY"), for
// users who requested with a browser-made key and install the certificate themselves.
export async function encryptPrivateKey(key, password, iterations = 600000) {
  if (!password) throw new Error('a password is required');
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', key));
  try {
    return await pbes2Encrypt(password, pkcs8, iterations);
  } finally {
    pkcs8.fill(0);
  }
}
