// The console walk (see test_console_browser.py): every step as a user does it, with a
// screenshot. Fails on any console error, failed request or unexpected HTTP error.
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { launch, accessibilityViolations } from '../harness/browser/browser.mjs';

const BASE = process.env.RELAY_URL;
const SETUP_URL = process.env.SETUP_URL;
const ADMIN = { name: 'admin', password: 'correct horse battery staple' };
const P12_PASSWORD = 'claim-Passw0rd!';
const CPS_TEXT = 'Example Root CA practice statement: certificates for example.com only.';
const result = { steps: [], cps_text: CPS_TEXT };

const s = await launch('console');
const { page } = s;
page.setDefaultTimeout(20000);

async function step(name, fn) {
  process.stdout.write(`step ${name} … `);
  await fn();
  await s.shot(name);
  s.check();
  // every state the walk reaches passes axe-core's WCAG 2.1 A/AA rules (serious and critical)
  const a11y = await accessibilityViolations(page);
  assert.deepEqual(a11y, [], `accessibility problems after step ${name}`);
  result.steps.push(name);
  console.log('ok');
}

const alertText = () => page.getByRole('alert').first().innerText();

try {
  await step('login-page', async () => {
    await page.goto(BASE + '/');
    await page.waitForURL(/\/login/);
    await page.getByRole('heading', { name: 'Log in to pki-relay' }).waitFor();
  });

  await step('setup', async () => {
    await page.goto(SETUP_URL);
    await page.getByLabel('User name').fill(ADMIN.name);
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByLabel('Repeat the password').fill('short');
    await page.getByRole('button', { name: 'Create administrator' }).click();
    assert.match(await alertText(), /at least 8 characters/);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Repeat the password').fill(ADMIN.password);
    await s.shot('setup-form');
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    assert.ok(!page.url().includes('token='), 'the set-up token stays out of the address bar');
  });

  await step('home', async () => {
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    assert.equal(await page.locator('.who').innerText(), ADMIN.name);
  });

  await step('login-wrong-password', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);
    await page.waitForFunction(() => document.activeElement && document.activeElement.name === 'name');
    s.expectStatus(401, '/api/v1/session');
    // keyboard only: the user name field has focus, Tab to the password, Enter submits
    await page.keyboard.type(ADMIN.name);
    await page.keyboard.press('Tab');
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    assert.match(await alertText(), /invalid|wrong|password/i);
  });

  await step('login', async () => {
    assert.equal(await page.getByLabel('User name').inputValue(), ADMIN.name);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
  });

  await step('api-token', async () => {
    await page.getByRole('link', { name: 'My Account' }).click();
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    await page.getByLabel('Token name').fill('ci');
    await page.getByRole('button', { name: 'Create token' }).click();
    const box = page.getByLabel('API token');
    await box.waitFor();
    result.api_token = await box.inputValue();
    await page.getByRole('button', { name: 'Copy' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), result.api_token);
    await page.getByRole('cell', { name: 'ci', exact: true }).waitFor();
  });

  await step('api-token-delete', async () => {
    await page.getByLabel('Token name').fill('temporary');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('cell', { name: 'temporary', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Delete token temporary' }).click();
    const dlg = page.getByRole('dialog', { name: 'Delete API token' });
    await dlg.waitFor();
    await s.shot('api-token-confirm');
    await dlg.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('cell', { name: 'temporary', exact: true }).waitFor({ state: 'detached' });
  });

  await step('audit-log', async () => {
    await page.getByRole('link', { name: 'Audit Log' }).click();
    await page.getByRole('cell', { name: 'session.login_failed' }).first().waitFor();
    await page.getByRole('cell', { name: 'token.delete' }).first().waitFor();
  });

  await step('phone-menu', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.equal(await nav.isVisible(), false, 'the menu is folded on a phone');
    await page.getByRole('button', { name: 'Menu' }).click();
    await nav.getByRole('link', { name: 'My Account' }).waitFor();
    await s.shot('phone-menu-open');
    await nav.getByRole('link', { name: 'Audit Log' }).click();
    await page.getByRole('heading', { name: 'Audit Log' }).waitFor();
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await walkPki();
} catch (e) {
  await s.shot('FAILED').catch(() => {});
  const alerts = await page.locator('[role=alert]').allInnerTexts().catch(() => []);
  if (alerts.length) console.log('messages on the page: ' + alerts.join(' | '));
  console.log('\n' + (s.problems.length ? 'browser problems:\n  ' + s.problems.join('\n  ') + '\n' : ''));
  throw e;
} finally {
  fs.writeFileSync(process.env.RESULT_JSON, JSON.stringify(result, null, 2));
}
await s.finish();

// ---- the PKI guides (CAs, templates, workflows, revocation) ----
// Runs fn (a click that changes the page) and waits until the console has finished the new view.
async function routed(fn) {
  const before = await page.evaluate(() => document.getElementById('app')?.dataset.view || '');
  await fn();
  await page.waitForFunction((v) => {
    const app = document.getElementById('app');
    return app && app.dataset.view && app.dataset.view !== v && !app.hasAttribute('aria-busy');
  }, before);
}
async function selectCa(name) {
  const sel = page.getByLabel('Active CA');
  const value = await sel.locator('option', { hasText: name }).first().getAttribute('value');
  await routed(() => sel.selectOption(value));
  assert.equal(await page.getByLabel('Active CA').inputValue(), value);
}
async function nav(label) {
  const main = page.getByRole('navigation', { name: 'Main' });
  await routed(() => main.getByRole('link', { name: label, exact: true }).click());
}
async function menu(label) {
  await page.getByRole('button', { name: label, exact: true }).click();
}
async function clipboard() {
  return page.evaluate(() => navigator.clipboard.readText());
}
async function saveDownload(click, name) {
  const [dl] = await Promise.all([page.waitForEvent('download'), click()]);
  const file = `${s.downloads}/${name || dl.suggestedFilename()}`;
  await dl.saveAs(file);
  return file;
}
// Every request with a body the page sends until stop() (method, path, body): what left the
// browser, for the checks that a browser-made private key never does.
function recordBodies() {
  const sent = [];
  const on = (r) => {
    const body = r.postData();
    if (body !== null) sent.push({ method: r.method(), path: new URL(r.url()).pathname, body });
  };
  page.on('request', on);
  return { sent, stop: () => page.off('request', on) };
}
// A claim body as the test keeps it: the one-time token replaced (it stays out of artifacts).
function redactToken(body) {
  const j = JSON.parse(body);
  if (typeof j.token === 'string') j.token = '<token>';
  return JSON.stringify(j);
}
function assertNoPrivateKey(body, what) {
  const privateJwkMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi'];
  assert.doesNotMatch(body, /PRIVATE KEY/, `${what} carries a PEM private key`);
  let j = null;
  try { j = JSON.parse(body); } catch { /* not JSON: the text checks above and in Python apply */ }
  const walk = (v) => {
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      assert.ok(!privateJwkMembers.includes(k), `${what} carries a JWK private member "${k}"`);
      assert.ok(!/p12|pkcs12|pfx/i.test(k), `${what} carries a PKCS#12 member "${k}"`);
      walk(x);
    }
  };
  walk(j);
}

// The request just submitted: the console highlights it after Submit CSR.
async function openRequestModal() {
  const row = page.locator('tr.highlight');
  await row.getByRole('button', { name: /^#\d+$/ }).click();
  return page.getByRole('dialog');
}

async function walkPki() {
  await step('no-ca', async () => {
    await page.getByRole('link', { name: 'pki-relay' }).click();
    await page.getByRole('heading', { name: 'Create your first certificate authority' }).waitFor();
    await nav('Manage Templates'); // every CA-scoped page leads to CA creation
    await page.getByRole('heading', { name: 'Create your first certificate authority' }).waitFor();
  });

  await step('create-root-ca', async () => {
    await nav('Create New CA');
    await page.getByLabel('CA name').fill('Example Root');
    await page.getByLabel('Common name (CN) — required').fill('Example Root CA');
    await page.getByLabel('Organization (O)').fill('Example Org');
    await page.getByLabel('Country (C, two letters)').fill('DE');
    await s.shot('create-root-ca-form');
    await page.getByRole('button', { name: 'Create New CA' }).click();
    await page.getByRole('heading', { name: 'Example Root' }).waitFor({ timeout: 60000 });
    await page.getByText('active', { exact: true }).first().waitFor();
    assert.match(await page.getByLabel('Active CA').locator('option:checked').innerText(), /Example Root/);
    result.root_ca_id = Number(page.url().match(/\/cas\/(\d+)/)[1]);
  });

  await step('error-duplicate-ca', async () => {
    await nav('Create New CA');
    await page.getByLabel('CA name').fill('Example Root');
    await page.getByLabel('Common name (CN) — required').fill('Another Root');
    s.expectStatus(409, '/api/v1/cas');
    await page.getByRole('button', { name: 'Create New CA' }).click();
    assert.match(await alertText(), /Example Root.*\(conflict\)/);
    await nav('Manage CAs');
    await page.getByRole('link', { name: 'Example Root' }).click();
  });

  await step('ca-service-urls', async () => {
    await menu('Show CA Service URLs');
    for (const label of ['CA certificate (DER)', 'CRL (DER)', 'OCSP responder'])
      await page.getByRole('cell', { name: label }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'CRL (DER)' });
    await row.getByRole('button', { name: 'Copy' }).click();
    result.crl_url = await clipboard();
    assert.match(result.crl_url, /^https?:\/\//);
  });

  await step('get-ca-certificates', async () => {
    await menu('Get CA Certificate(s)');
    const pemBox = page.getByLabel('CA certificate (PEM)');
    await pemBox.waitFor();
    assert.match(await pemBox.inputValue(), /BEGIN CERTIFICATE/);
    result.root_pem = await pemBox.inputValue();
  });

  await step('edit-ca', async () => {
    await menu('Edit CA');
    await page.getByLabel('Certification practice statement').fill(CPS_TEXT);
    await page.getByLabel('CRL validity (hours)').fill('48');
    await page.getByLabel('Regenerate every (hours)').fill('12');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('CA saved').waitFor();
    await menu('Details');
    await page.getByText('48 hours, remade every 12 hours').waitFor();
  });

  await step('renew-ocsp-certificate', async () => {
    const before = await page.getByRole('link', { name: /^certificate #\d+$/ }).innerText();
    await page.getByRole('button', { name: 'Make a new OCSP responder certificate' }).click();
    await page.getByRole('dialog', { name: 'New OCSP responder certificate' }).getByRole('button', { name: 'Make it' }).click();
    await page.getByText('New OCSP responder certificate made').waitFor();
    await page.waitForFunction((b) => [...document.querySelectorAll('main a')].some((a) => /^certificate #\d+$/.test(a.textContent) && a.textContent !== b), before);
  });

  await step('create-intermediate-csr', async () => {
    await nav('Create New CA');
    await page.getByLabel('CA name').fill('Example Issuing');
    await page.getByLabel('Common name (CN) — required').fill('Example Issuing CA');
    await page.getByLabel('Organization (O)').fill('Example Org');
    await page.getByLabel('CSR Only (intermediate CA signed by another CA)').check();
    await page.getByRole('button', { name: 'Create New CA' }).click();
    const csrBox = page.getByLabel('CSR (PEM)');
    await csrBox.waitFor({ timeout: 60000 });
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    result.intermediate_csr = await clipboard();
    assert.match(result.intermediate_csr, /BEGIN CERTIFICATE REQUEST/);
    result.issuing_ca_id = Number(page.url().match(/\/cas\/(\d+)/)[1]);
  });

  await step('ca-template-from-starter', async () => {
    await selectCa('Example Root');
    await nav('Create Template');
    await page.getByLabel('Certificate Authority').check();
    assert.equal(await page.getByLabel('Template name').inputValue(), 'Certificate Authority');
    await page.getByRole('button', { name: 'Create Template' }).click();
    await page.getByRole('heading', { name: 'Edit Template' }).waitFor();
    // the tabs work with the keyboard: arrow keys move between them
    await page.getByRole('tab', { name: 'General' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', { name: 'Basic Constraints' }).getAttribute('aria-selected'), 'true');
    assert.equal(await page.getByLabel('Certificate authority (CA: true)').isChecked(), true);
  });

  await step('submit-intermediate-csr', async () => {
    await menu('Submit CSR');
    await page.getByLabel('Certificate signing request (PEM)').fill(result.intermediate_csr);
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByRole('heading', { name: 'Pending Requests' }).waitFor();
    await page.locator('tr.highlight').filter({ hasText: 'Example Issuing CA' }).waitFor();
  });

  await step('approve-intermediate', async () => {
    const dlg = await openRequestModal();
    await s.shot('request-modal');
    await dlg.getByRole('button', { name: 'Approve and sign' }).click();
    await dlg.waitFor({ state: 'detached' });
  });

  await step('copy-intermediate-certificate', async () => {
    await nav('Issued Certificates');
    await page.getByRole('link', { name: /Example Issuing CA/ }).first().click();
    await page.getByLabel('Certificate (PEM)').waitFor();
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    result.intermediate_pem = await clipboard();
    assert.match(result.intermediate_pem, /BEGIN CERTIFICATE/);
  });

  await step('import-intermediate', async () => {
    await nav('Manage CAs');
    await page.getByRole('link', { name: 'Example Issuing' }).click();
    await menu('Import Signed Certificate');
    await page.getByLabel('Signed certificate (PEM)').fill(result.root_pem);
    s.expectStatus(null, '/certificate');
    await page.getByRole('button', { name: 'Import Certificate' }).click();
    assert.match(await alertText(), /key_mismatch|not_a_ca/);
    await s.shot('import-wrong-certificate');
    await page.getByLabel('Signed certificate (PEM)').fill(result.intermediate_pem);
    await page.getByRole('button', { name: 'Import Certificate' }).click();
    await page.getByRole('button', { name: 'Get CA Certificate(s)' }).waitFor({ timeout: 30000 });
    await selectCa('Example Issuing');
  });

  await step('template-from-starter', async () => {
    await nav('Create Template');
    await page.getByLabel('Client Authentication').check();
    await page.getByLabel('Template name').fill('Clients');
    await page.getByRole('button', { name: 'Create Template' }).click();
    await page.getByRole('heading', { name: 'Edit Template' }).waitFor();
    await page.getByLabel('Allow public requests').check();
    await page.getByLabel('Description').fill('Client certificates for staff');
    await s.shot('template-edit-general');
    await page.getByRole('button', { name: 'Save Template' }).click();
    await page.getByText('Template saved').waitFor();
    await nav('Manage Templates');
    await page.getByRole('link', { name: 'Clients' }).waitFor();
    await page.getByRole('link', { name: 'Web Server' }).waitFor(); // made with every new CA
  });

  await step('submit-csr', async () => {
    await page.getByRole('link', { name: 'Web Server' }).click();
    await menu('Submit CSR');
    await page.getByLabel('Certificate signing request (PEM)').fill(process.env.SERVER_CSR);
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByRole('heading', { name: 'Pending Requests' }).waitFor();
  });

  await step('approve-with-override', async () => {
    const dlg = await openRequestModal();
    await dlg.getByText('CN=server.example.com').waitFor();
    await dlg.getByText('Overrides (optional)').click();
    await dlg.getByLabel('Subject alternative names').fill('www.example.com, example.com');
    await dlg.getByLabel('Validity', { exact: true }).selectOption('days');
    await dlg.getByLabel('Valid for (days from now)').fill('30');
    await s.shot('approve-override-modal');
    await dlg.getByRole('button', { name: 'Approve and sign' }).click();
    await dlg.waitFor({ state: 'detached' });
  });

  await step('decline', async () => {
    await nav('Manage Templates');
    await page.getByRole('link', { name: 'Web Server' }).click();
    await menu('Submit CSR');
    await page.getByLabel('Certificate signing request (PEM)').fill(process.env.SERVER_CSR);
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.locator('tr.highlight').waitFor();
    const dlg = await openRequestModal();
    await dlg.getByRole('button', { name: 'Decline' }).click();
    const confirm = page.getByRole('dialog', { name: 'Decline request' });
    await confirm.getByRole('button', { name: 'Decline' }).click();
    await page.getByText(/Request #\d+ declined/).waitFor();
    await page.locator('tr.highlight').waitFor({ state: 'detached' }); // the declined request left the pending list
  });

  await step('public-request', async () => {
    await nav('Manage Templates');
    await page.getByRole('link', { name: 'Clients' }).click();
    await menu('Public Certificate Request');
    await page.getByRole('button', { name: 'Copy link' }).click();
    const url = await clipboard();
    await page.goto(url);
    await page.getByRole('heading', { name: 'Request a certificate' }).waitFor();
    await page.getByLabel('Fill in a form (this browser makes the key)').check();
    await page.getByLabel('Common name (CN) — required').fill('bob');
    await page.getByLabel('Subject alternative names').fill('bob@example.com');
    await page.getByLabel('Password for the private key').fill('bob-key-password');
    await page.getByLabel('Repeat the password').fill('bob-key-password');
    await s.shot('public-request-form');
    const rec = recordBodies();
    result.public_key_file = await saveDownload(() => page.getByRole('button', { name: 'Submit request' }).click(), 'bob.key');
    await page.getByRole('heading', { name: 'Request submitted' }).waitFor();
    rec.stop();
    // the only thing sent is the CSR (the key is downloaded, encrypted, and never sent)
    assert.deepEqual(rec.sent.map((r) => `${r.method} ${r.path}`), [`POST ${new URL(url).pathname.replace(/^\/request\//, '/api/v1/public/templates/')}/requests`]);
    for (const r of rec.sent) assertNoPrivateKey(r.body, 'the public request');
    assert.deepEqual(Object.keys(JSON.parse(rec.sent[0].body)), ['csr']);
    assert.match(JSON.parse(rec.sent[0].body).csr, /^-----BEGIN CERTIFICATE REQUEST-----/);
    result.public_request_sent = rec.sent;
  });

  await step('bulk-approve', async () => {
    await page.goto(BASE + '/requests');
    await page.getByRole('checkbox', { name: /^Select request \d+$/ }).first().waitFor();
    assert.equal(await page.getByRole('checkbox', { name: /^Select request \d+$/ }).count(), 1, 'only the public request is pending');
    await page.getByLabel('Select all pending requests').check();
    await page.getByRole('button', { name: 'Approve selected' }).click();
    await page.getByText('1 request(s) approved').waitFor();
  });

  await step('preapproved-request', async () => {
    await nav('Manage Templates');
    await page.getByRole('link', { name: 'Clients' }).click();
    await menu('Create Pre-Approved Request');
    await page.getByLabel('Common name (CN) — required').fill('alice');
    await page.getByLabel('Organization (O)').fill('Example Org');
    await page.getByLabel('Subject alternative names').fill('alice@example.com');
    await page.getByRole('button', { name: 'Create the claim link' }).click();
    await page.getByLabel('Claim link').waitFor();
    result.claim_url = await page.getByLabel('Claim link').inputValue();
    assert.match(result.claim_url, /\/claim#token=/);
  });

  await step('claim-with-browser-key', async () => {
    await page.getByRole('link', { name: 'Claim now' }).click();
    await page.getByRole('heading', { name: 'Claim your certificate' }).waitFor();
    await page.getByLabel('Password for the PKCS#12 file').fill(P12_PASSWORD);
    await page.getByLabel('Repeat the password').fill(P12_PASSWORD);
    await s.shot('claim-form');
    const rec = recordBodies();
    result.p12_file = await saveDownload(() => page.getByRole('button', { name: 'Claim certificate' }).click(), 'alice.p12');
    await page.getByRole('heading', { name: 'Your certificate is ready' }).waitFor();
    rec.stop();
    // "The key never leaves the browser": one POST, the token and a CSR, nothing else
    assert.deepEqual(rec.sent.map((r) => `${r.method} ${r.path}`), ['POST /api/v1/public/claim']);
    for (const r of rec.sent) assertNoPrivateKey(r.body, 'the claim');
    const claim = JSON.parse(rec.sent[0].body);
    assert.deepEqual(Object.keys(claim).sort(), ['csr', 'token']);
    assert.match(claim.csr, /^-----BEGIN CERTIFICATE REQUEST-----/);
    result.claim_sent = rec.sent.map((r) => ({ ...r, body: redactToken(r.body) }));
    result.p12_password = P12_PASSWORD;
    assert.ok(!page.url().includes('token='), 'the used claim token leaves the address bar');
  });

  await step('claim-link-used', async () => {
    await page.goto('about:blank');
    await page.goto(result.claim_url.replace(/^https?:\/\/[^/]+/, BASE));
    await page.getByLabel('I have my own CSR').check();
    await page.getByLabel('Certificate signing request (PEM)').fill(process.env.SERVER_CSR);
    s.expectStatus(404, '/api/v1/public/claim');
    await page.getByRole('button', { name: 'Claim certificate' }).click();
    assert.match(await alertText(), /not valid/);
  });

  await step('public-request-refused', async () => {
    // "Web Server" does not allow public requests: its public page says so
    const t = await page.evaluate(async (ca) => (await (await fetch(`/api/v1/cas/${ca}/templates`)).json()).templates.find((x) => x.name === 'Web Server').id, result.issuing_ca_id);
    await page.goto(`${BASE}/request/${t}`);
    await page.getByLabel('Certificate signing request (PEM)').fill(process.env.SERVER_CSR);
    s.expectStatus(404, `/api/v1/public/templates/${t}/requests`);
    await page.getByRole('button', { name: 'Submit request' }).click();
    assert.match(await alertText(), /does not accept public requests/);
  });

  await step('revoke', async () => {
    await page.goto(BASE + '/certificates');
    await page.getByRole('link', { name: /CN\s*=\s*bob/ }).first().click();
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: 'Revoke certificate' });
    await dlg.getByLabel('Reason').selectOption('keyCompromise');
    await dlg.getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('Certificate revoked').waitFor();
    await page.getByRole('definition').filter({ hasText: 'keyCompromise' }).waitFor();
    result.revoked_serial = (await page.locator('dd code').first().innerText()).trim();
  });

  await step('hold', async () => {
    await nav('Issued Certificates');
    await page.getByRole('link', { name: /server\.example\.com/ }).first().click();
    result.server_p7 = await saveDownload(() => page.getByRole('button', { name: 'Download PKCS#7' }).click(), 'server.p7b');
    result.server_der = await saveDownload(() => page.getByRole('button', { name: 'Download DER' }).click(), 'server.cer');
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: 'Revoke certificate' });
    await dlg.getByLabel('Reason').selectOption('certificateHold');
    await dlg.getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('Certificate put on hold').waitFor();
    result.server_cert_id = Number(page.url().match(/\/certificates\/(\d+)/)[1]);
  });

  await step('unrevoke', async () => {
    await page.getByRole('button', { name: 'Unrevoke (take off hold)' }).click();
    await page.getByRole('dialog', { name: 'Unrevoke certificate' }).getByRole('button', { name: 'Unrevoke' }).click();
    await page.getByText('Certificate taken off hold').waitFor();
    await page.getByRole('button', { name: 'Revoke', exact: true }).waitFor();
  });

  await step('template-service-urls', async () => {
    await nav('Manage Templates');
    await page.getByRole('link', { name: 'Clients' }).click();
    await menu('Show Template Service URLs');
    await page.getByRole('cell', { name: 'SCEP', exact: true }).waitFor();
    await page.getByRole('cell', { name: 'Public certificate request page', exact: true }).waitFor();
  });

  await step('acme-policy-and-eab', async () => {
    await nav('Policies and EAB');
    await page.getByLabel('Policy name').fill('web servers');
    await page.getByLabel('Template', { exact: true }).selectOption({ label: 'Web Server' });
    await page.getByLabel('Pre-approved domains (no challenge)').fill('*.example.com');
    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('cell', { name: 'web servers', exact: true }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('ci-runner');
    await page.getByRole('button', { name: 'Create EAB credential' }).click();
    const hmac = page.getByLabel('EAB HMAC key');
    await hmac.waitFor();
    result.eab_kid = await page.getByLabel('EAB key ID').inputValue();
    assert.ok((await hmac.inputValue()).length >= 32);
    await page.getByRole('cell', { name: 'ci-runner', exact: true }).waitFor();
  });

  await step('delete-template-in-use', async () => {
    await nav('Manage Templates');
    await page.getByRole('link', { name: 'Web Server' }).click();
    await menu('Delete');
    await page.getByRole('button', { name: 'Delete Web Server' }).click();
    s.expectStatus(409, '/api/v1/templates/');
    await page.getByRole('dialog', { name: 'Delete template' }).getByRole('button', { name: 'Delete template' }).click();
    assert.match(await alertText(), /still active or on hold.*\(template_in_use\)/);
  });

  await step('delete-template', async () => {
    await nav('Create Template');
    await page.getByLabel('Code Signing').check();
    await page.getByLabel('Template name').fill('Unused');
    await page.getByRole('button', { name: 'Create Template' }).click();
    await page.getByRole('heading', { name: 'Edit Template' }).waitFor();
    await menu('Delete');
    await page.getByRole('button', { name: 'Delete Unused' }).click();
    const dlg = page.getByRole('dialog', { name: 'Delete template' });
    await dlg.getByRole('button', { name: 'Delete template' }).click();
    await page.getByRole('heading', { name: 'Manage Templates' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Unused' }).count(), 0);
  });

  await step('phone-pages', async () => {
    // Every page fits a phone's width (no sideways scrolling) and keeps its heading.
    await page.setViewportSize({ width: 360, height: 780 });
    const pages = ['/cas', `/cas/${result.root_ca_id}`, '/cas/new', '/templates', '/templates/new', '/requests?status=issued',
      '/certificates', `/certificates/${result.server_cert_id}`, '/acme', '/logs', '/account', '/users'];
    for (const path of pages) {
      await page.goto(BASE + path);
      await page.locator('main h1').first().waitFor();
      await page.waitForLoadState('networkidle');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${path} is ${overflow}px wider than the phone`);
    }
    await page.goto(BASE + '/certificates');
    await page.getByRole('link', { name: /server\.example\.com/ }).first().waitFor();
    await s.shot('phone-certificates');
    await page.goto(BASE + `/cas/${result.root_ca_id}`);
    await page.getByRole('button', { name: 'Edit CA' }).waitFor();
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await step('import-existing-ca', async () => {
    await nav('Import Existing CA');
    await page.getByLabel('CA name').fill('Imported');
    await page.getByLabel('Private key (PEM or PKCS#8)').fill(process.env.IMPORT_KEY);
    await page.getByLabel('Key password (when the key is encrypted)').fill('wrong password');
    await page.getByLabel('CA certificate (PEM)').fill(process.env.IMPORT_CERT);
    s.expectStatus(400, '/api/v1/cas');
    await page.getByRole('button', { name: 'Import CA' }).click();
    assert.match(await alertText(), /bad_key/);
    await page.getByLabel('Key password (when the key is encrypted)').fill(process.env.IMPORT_KEY_PASSWORD);
    await page.getByRole('button', { name: 'Import CA' }).click();
    await page.getByRole('heading', { name: 'Imported' }).waitFor({ timeout: 60000 });
    await page.getByText('CN=Imported Root').first().waitFor();
  });

  await step('appliances', async () => {
    await nav('Appliances');
    await page.getByText('No appliance is enrolled yet.').waitFor();
    await page.getByLabel('For CA').selectOption({ label: 'Example Issuing' });
    await page.getByLabel('Valid for (hours)').fill('2');
    await page.getByRole('button', { name: 'Create enrolment token' }).click();
    const tok = page.getByLabel('Enrolment token');
    await tok.waitFor();
    assert.match(await tok.inputValue(), /^enrol_/);
    assert.match(await page.getByLabel('Link URL').inputValue(), /^wss?:\/\//);
  });

  await step('create-hsm-ca', async () => {
    // CA-5: key type HSM makes a CA that waits for its appliance and shows the HSM
    // provisioning certificate with the relay fingerprint the appliance will ask to confirm.
    await nav('Create New CA');
    await page.getByLabel('CA name').fill('Example HSM Root');
    await page.getByLabel('Common name (CN) — required').fill('Example HSM Root CA');
    await page.getByLabel('Key type').selectOption({ label: 'HSM (YubiKey in an IoT-HSM appliance)' });
    assert.equal(await page.getByLabel('Signature algorithm').isVisible(), false);
    await page.getByRole('button', { name: 'Create New CA' }).click();
    await page.getByRole('heading', { name: 'HSM Provisioning Certificate' }).waitFor({ timeout: 60000 });
    await page.getByText('awaiting_appliance', { exact: true }).first().waitFor();
    const pem = page.getByLabel('Provisioning certificate (PEM)');
    result.hsm_provisioning_first = await pem.inputValue();
    result.hsm_fingerprint = await page.locator('code.fingerprint').innerText();
    result.hsm_ca_id = Number(page.url().match(/\/cas\/(\d+)/)[1]);
    await s.shot('hsm-provisioning-certificate');
    // the menu item gives it again, with a new one-time token
    await menu('Details');
    await menu('Download HSM Provisioning Certificate');
    await page.waitForFunction((old) => {
      const el = [...document.querySelectorAll('textarea')].find((t) => /BEGIN CERTIFICATE/.test(t.value));
      return el && el.value !== old;
    }, result.hsm_provisioning_first);
    result.hsm_provisioning = await page.getByLabel('Provisioning certificate (PEM)').inputValue();
    await menu('Import Signed Certificate');
    await page.getByText('No appliance has offered a slot for this CA yet.', { exact: false }).waitFor();
  });

  await step('users', async () => {
    await nav('Users');
    await page.getByLabel('User name').fill('operator');
    await page.getByLabel('Initial password').fill('operator-password');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('cell', { name: 'operator', exact: true }).waitFor();
  });

  await step('tenancy', async () => {
    // another user sees none of admin's CAs (P-2) and is led to create one (P-3)
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to pki-relay' }).waitFor();
    await page.getByLabel('User name').fill('operator');
    await page.getByLabel('Password').fill('operator-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Create your first certificate authority' }).waitFor();
    assert.equal(await page.getByLabel('Active CA').count(), 0);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to pki-relay' }).waitFor();
    await page.getByLabel('User name').fill(ADMIN.name);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByLabel('Active CA').waitFor();
  });

  await step('delete-ca', async () => {
    await nav('Create New CA');
    await page.getByLabel('CA name').fill('Scratch');
    await page.getByLabel('Common name (CN) — required').fill('Scratch CA');
    await page.getByRole('button', { name: 'Create New CA' }).click();
    await page.getByRole('heading', { name: 'Scratch' }).waitFor({ timeout: 60000 });
    await menu('Delete');
    await page.getByRole('button', { name: 'Delete Scratch' }).click();
    const dlg = page.getByRole('dialog', { name: 'Delete CA' });
    const confirm = dlg.getByRole('button', { name: 'Delete CA' });
    assert.equal(await confirm.isDisabled(), true, 'deleting needs the typed name');
    await dlg.getByLabel('Type “Scratch” to confirm').fill('Scratch');
    await s.shot('delete-ca-confirm');
    await confirm.click();
    await page.getByRole('heading', { name: 'Manage CAs' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Scratch', exact: true }).count(), 0);
  });
}
