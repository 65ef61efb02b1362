// The console's in-browser PKI code against openssl: a WebCrypto RSA-2048 key and a PKCS#10
// request built in JS (openssl verifies the signature and reads subject and SANs), signed by an
// openssl CA, then a PKCS#12 built in JS that openssl opens with the password (and not without).
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { launch } from '../harness/browser/browser.mjs';

const BASE = process.env.RELAY_URL;
const OUT = process.env.OUT_DIR;
const PASSWORD = 'pässwörd 12';
const openssl = (...args) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const s = await launch('console-pkcs');
const { page } = s;
try {
  await page.goto(BASE + '/login');
  await page.getByRole('heading', { name: 'Log in to pki-relay' }).waitFor();
  const { csrPem, keyMs } = await page.evaluate(async () => {
    const { generateRsaKey, buildCsr } = await import('/console/js/pkcs/csr.js');
    const { pem } = await import('/console/js/pkcs/der.js');
    const t0 = performance.now();
    window.testKey = await generateRsaKey(2048);
    const keyMs = Math.round(performance.now() - t0);
    const der = await buildCsr(window.testKey, [['C', 'DE'], ['ST', 'Bayern'], ['L', 'München'], ['O', 'Example Org'], ['OU', 'Ops'], ['CN', 'device-1.example.com'], ['emailAddress', 'ops@example.com']],
      ['device-1.example.com', 'alt.example.com', '192.0.2.7', 'ops@example.com']);
    return { csrPem: pem('CERTIFICATE REQUEST', der), keyMs };
  });
  const csrFile = path.join(OUT, 'browser.csr');
  fs.writeFileSync(csrFile, csrPem);
  const text = execFileSync('openssl', ['req', '-in', csrFile, '-verify', '-noout', '-text', '-nameopt', 'utf8'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(text, /Public-Key: \(2048 bit\)/);
  assert.match(text, /C\s*=\s*DE, ST\s*=\s*Bayern, L\s*=\s*München, O\s*=\s*Example Org, OU\s*=\s*Ops, CN\s*=\s*device-1\.example\.com, emailAddress\s*=\s*ops@example\.com/);
  assert.match(text, /DNS:device-1\.example\.com, DNS:alt\.example\.com, IP Address:192\.0\.2\.7, email:ops@example\.com/);
  assert.match(text, /sha256WithRSAEncryption/);
  // the CSR signature verifies (openssl prints this on stderr for -verify, so check again quietly)
  openssl('req', '-in', csrFile, '-verify', '-noout');

  // an openssl CA signs it
  const ca = path.join(OUT, 'ca');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca + '.key',
    '-out', ca + '.pem', '-subj', '/CN=Test Root', '-days', '10');
  const certFile = path.join(OUT, 'browser.pem');
  openssl('x509', '-req', '-in', csrFile, '-CA', ca + '.pem', '-CAkey', ca + '.key', '-days', '5', '-out', certFile, '-copy_extensions', 'copy');

  const { p12b64, ms } = await page.evaluate(async ({ cert, chain, password }) => {
    const { buildPkcs12 } = await import('/console/js/pkcs/pkcs12.js');
    const { pemBlocks, toBase64 } = await import('/console/js/pkcs/der.js');
    const t0 = performance.now();
    const der = await buildPkcs12({ key: window.testKey.privateKey, certs: [...pemBlocks(cert), ...pemBlocks(chain)], password, friendlyName: 'device-1' });
    return { p12b64: toBase64(der), ms: Math.round(performance.now() - t0) };
  }, { cert: fs.readFileSync(certFile, 'utf8'), chain: fs.readFileSync(ca + '.pem', 'utf8'), password: PASSWORD });
  const p12 = path.join(OUT, 'browser.p12');
  fs.writeFileSync(p12, Buffer.from(p12b64, 'base64'));
  fs.writeFileSync(path.join(OUT, 'password.txt'), PASSWORD);

  const info = openssl('pkcs12', '-info', '-in', p12, '-passin', 'file:' + path.join(OUT, 'password.txt'), '-noenc');
  assert.match(info, /friendlyName: device-1/);
  assert.match(info, /BEGIN PRIVATE KEY/);
  assert.match(info, /subject=.*CN\s*=\s*device-1\.example\.com/);
  assert.match(info, /subject=.*CN\s*=\s*Test Root/);
  fs.writeFileSync(path.join(OUT, 'wrong.txt'), 'wrong password');
  assert.throws(() => openssl('pkcs12', '-in', p12, '-passin', 'file:' + path.join(OUT, 'wrong.txt'), '-noout'));
  s.check();
  console.log(`browser CSR and PKCS#12 accepted by openssl (RSA-2048 key in ${keyMs} ms, PKCS#12 built in ${ms} ms)`);
} finally {
  await s.finish();
}
