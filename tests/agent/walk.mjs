// The appliance walk (see test_agent_browser.py): log in, set up a factory-fresh virtual
// YubiKey, provision a self-signed root and an intermediate through the wizard, view the
// certificate, clear a slot, reload, then import a key from a PKCS#12 file (a wrong password
// first) and provision a self-signed root from it. A screenshot of every step; fails on any
// console error, failed request or unexpected HTTP error.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { launch } from '../harness/browser/browser.mjs';

const BASE = process.env.AGENT_URL;
const PASSWORD = process.env.AGENT_PASSWORD;
const SERIAL = process.env.SERIAL;
const TEMPLATE = fs.readFileSync(process.env.TEMPLATE_FILE, 'utf8');
const WORK = process.env.WORK_DIR;
const IMPORT_P12 = process.env.IMPORT_P12;
const IMPORT_P12_PASSWORD = process.env.IMPORT_P12_PASSWORD;
const PIN = '246810';
const PUK = '13579135';

const s = await launch('agent');
const { page } = s;
page.setDefaultTimeout(60000);
const done = [];

async function step(name, fn) {
  process.stdout.write(`step ${name} … `);
  await fn();
  await s.shot(name);
  s.check();
  done.push(name);
  console.log('ok');
}

const keySection = () => page.locator(`section.key[data-serial="${SERIAL}"]`);
const slotRow = (slot) => keySection().locator(`tr[data-slot="${slot}"]`);

try {
  await step('login-page', async () => {
    await page.goto(BASE + '/');
    await page.waitForURL(/\/login\.html$/);
    await page.getByLabel('Admin password').waitFor();
  });

  await step('keys', async () => {
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(BASE + '/');
    await keySection().waitFor();
    await keySection().getByText('factory PIN').waitFor();
  });

  await step('key-set-up', async () => {
    await page.locator(`#setup-pin-${SERIAL}`).fill('123456');
    await page.locator(`#setup-new-pin-${SERIAL}`).fill(PIN);
    await page.locator(`#setup-puk-${SERIAL}`).fill('12345678');
    await page.locator(`#setup-new-puk-${SERIAL}`).fill(PUK);
    await page.getByRole('button', { name: 'Set up this key' }).click();
    await page.getByText(`YubiKey ${SERIAL} is set up`).waitFor();
    await keySection().getByText('No configured slots.').waitFor();
  });

  await step('wizard-choose-slot', async () => {
    await page.getByRole('button', { name: 'Provision a New Slot' }).click();
    await page.locator('#wizard-key').selectOption(SERIAL);
    await page.locator('#wizard-slot').selectOption('9c');
  });

  await step('wizard-generate-key', async () => {
    await page.locator('#wizard-next').click();
    await page.locator('#gen-algorithm').selectOption('ec-p384');
    await page.locator('#key-pin').fill(PIN);
  });

  await step('wizard-bad-template', async () => {
    await page.locator('#key-submit').click();
    await page.locator('#public-key').waitFor({ state: 'attached' });
    // Garbage in the paste box: a clear message, nothing provisioned.
    s.expectStatus(400, '/slots/9c/provision');
    await page.locator('#template').fill('this is not a certificate');
    await page.locator('#mode-self-signed').check();
    await page.locator('#cert-pin').fill(PIN);
    await page.locator('#cert-submit').click();
    await page.locator('#wizard-error').getByText('HSM provisioning certificate: no PEM certificate found').waitFor();
  });

  await step('wizard-paste-template', async () => {
    await page.locator('#template').fill(TEMPLATE);
    await page.locator('#mode-self-signed').check();
    await page.locator('#cert-pin').fill(PIN);
  });

  await step('wizard-root-done', async () => {
    await page.locator('#cert-submit').click();
    await page.locator('#wizard-done').waitFor();
    const pem = await page.locator('#result-cert').innerText();
    fs.writeFileSync(path.join(WORK, 'root-9c.pem'), pem);
  });

  await step('view-certificate', async () => {
    await page.locator('#wizard-finish').click();
    await slotRow('9c').getByText('provisioned').waitFor();
    await slotRow('9c').getByRole('button', { name: 'View Certificate' }).click();
    await page.locator('#certificate-view').getByText('CN=Example HSM CA').first().waitFor();
    await page.locator('#certificate-pem').waitFor();
  });

  await step('wizard-csr', async () => {
    await page.locator('#dialog-close').click();
    await page.getByRole('button', { name: 'Provision a New Slot' }).click();
    await page.locator('#wizard-slot').selectOption('9d');
    await page.locator('#wizard-next').click();
    await page.locator('#gen-algorithm').selectOption('ec-p256');
    await page.locator('#key-pin').fill(PIN);
    await page.locator('#key-submit').click();
    await page.locator('#template').fill(TEMPLATE);
    await page.locator('#mode-csr').check();
    await page.locator('#cert-pin').fill(PIN);
    await page.locator('#cert-submit').click();
    const csr = await page.locator('#csr-output').inputValue();
    if (!csr.includes('BEGIN CERTIFICATE REQUEST')) throw new Error('no CSR shown');
    fs.writeFileSync(path.join(WORK, 'inter.csr'), csr);
  });

  await step('half-provisioned-slot', async () => {
    // Leave the wizard: the slot list offers "Complete Provisioning".
    await page.getByRole('button', { name: 'YubiKeys' }).click();
    await slotRow('9d').getByText('waiting for the signed certificate').waitFor();
    await slotRow('9d').getByRole('button', { name: 'Complete Provisioning' }).waitFor();
  });

  await step('complete-provisioning', async () => {
    // The offline root signs the request (openssl, outside the browser).
    execFileSync('openssl', ['x509', '-req', '-in', path.join(WORK, 'inter.csr'),
      '-CA', path.join(WORK, 'root.crt'), '-CAkey', path.join(WORK, 'root.key'), '-CAcreateserial',
      '-out', path.join(WORK, 'inter.crt'), '-days', '3650', '-copy_extensions', 'copyall'],
    { stdio: 'pipe' });
    await slotRow('9d').getByRole('button', { name: 'Complete Provisioning' }).click();
    await page.locator('#signed-cert').fill(fs.readFileSync(path.join(WORK, 'inter.crt'), 'utf8'));
    await page.locator('#chain').fill(fs.readFileSync(path.join(WORK, 'root.crt'), 'utf8'));
    await page.locator('#complete-pin').fill(PIN);
  });

  await step('intermediate-done', async () => {
    await page.locator('#complete-submit').click();
    await page.locator('#wizard-done').waitFor();
    await page.locator('#wizard-finish').click();
    await slotRow('9d').getByText('provisioned').waitFor();
  });

  await step('clear-slot-confirm', async () => {
    await slotRow('9c').getByRole('button', { name: 'Clear Slot' }).click();
    await page.locator('#clear-confirm').fill('9c');
    await page.locator('#clear-pin').fill(PIN);
  });

  await step('slot-cleared', async () => {
    await page.locator('#clear-submit').click();
    await page.getByText('Slot 9c of YubiKey').waitFor();
    await slotRow('9c').waitFor({ state: 'detached' });
  });

  await step('reload', async () => {
    await page.locator('#reload').click();
    await slotRow('9d').getByText('provisioned').waitFor();
  });

  await step('wizard-import-key', async () => {
    await page.getByRole('button', { name: 'Provision a New Slot' }).click();
    await page.locator('#wizard-key').selectOption(SERIAL);
    await page.locator('#wizard-slot').selectOption('9e');
    await page.locator('#wizard-next').click();
    await page.locator('#key-option-import').check();
    await page.locator('#import-box').waitFor();
    await page.getByRole('button', { name: 'Import key' }).waitFor();
    await page.locator('#import-pkcs12').setInputFiles(IMPORT_P12);
    await page.locator('#import-password').fill('not the password');
    await page.locator('#key-pin').fill(PIN);
  });

  await step('wizard-import-bad-password', async () => {
    // A wrong PKCS#12 password: a clear message, the wizard stays on the key step.
    s.expectStatus(400, '/slots/9e/import-key');
    await page.locator('#key-submit').click();
    await page.locator('#wizard-error').getByText('cannot open the PKCS#12 file: wrong password').waitFor();
    await page.locator('#import-password').fill(IMPORT_P12_PASSWORD);
  });

  await step('wizard-import-template', async () => {
    await page.locator('#key-submit').click();
    await page.locator('#public-key').waitFor({ state: 'attached' });
    const pub = await page.locator('#public-key').textContent();
    fs.writeFileSync(path.join(WORK, 'imported-9e.pub'), pub);
    await page.locator('#template').fill(TEMPLATE);
    await page.locator('#mode-self-signed').check();
    await page.locator('#cert-pin').fill(PIN);
  });

  await step('wizard-imported-root-done', async () => {
    await page.locator('#cert-submit').click();
    await page.locator('#wizard-done').waitFor();
    const pem = await page.locator('#result-cert').innerText();
    fs.writeFileSync(path.join(WORK, 'root-9e.pem'), pem);
  });

  await step('imported-slot-provisioned', async () => {
    await page.locator('#wizard-finish').click();
    await slotRow('9e').getByText('provisioned').waitFor();
  });
} catch (e) {
  console.log(`\nstep failed: ${e.stack || e}`);
  console.log(`problems so far: ${s.problems.join('; ')}`);
  throw e;
} finally {
  fs.writeFileSync(path.join(WORK, 'steps.json'), JSON.stringify(done));
  await s.finish();
}
