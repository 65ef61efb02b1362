// The relay's HSM provisioning certificate in the wizard (see test_agent_browser_relay.py): log
// in, set up the virtual YubiKey, generate a key, paste the certificate, see the relay, CA and
// fingerprint to confirm, confirm, done; then "Unlock for signing" (a wrong PIN first) and
// "Lock". A screenshot of every step; fails on any console error, failed request or unexpected
// HTTP error.
import fs from 'node:fs';
import path from 'node:path';
import { launch } from '../harness/browser/browser.mjs';

const BASE = process.env.AGENT_URL;
const PASSWORD = process.env.AGENT_PASSWORD;
const SERIAL = process.env.SERIAL;
const TEMPLATE = fs.readFileSync(process.env.TEMPLATE_FILE, 'utf8');
const FINGERPRINT = process.env.FINGERPRINT; // hex, as the relay's console shows it
const LINK_URL = process.env.LINK_URL;
const WORK = process.env.WORK_DIR;
const PIN = '246810';
const PUK = '13579135';

const s = await launch('agent-relay');
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
  await step('set-up', async () => {
    await page.goto(BASE + '/login.html');
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(BASE + '/');
    await page.locator(`#setup-pin-${SERIAL}`).fill('123456');
    await page.locator(`#setup-new-pin-${SERIAL}`).fill(PIN);
    await page.locator(`#setup-puk-${SERIAL}`).fill('12345678');
    await page.locator(`#setup-new-puk-${SERIAL}`).fill(PUK);
    await page.getByRole('button', { name: 'Set up this key' }).click();
    await page.getByText(`YubiKey ${SERIAL} is set up`).waitFor();
  });

  await step('paste-relay-template', async () => {
    await page.getByRole('button', { name: 'Provision a New Slot' }).click();
    await page.locator('#wizard-key').selectOption(SERIAL);
    await page.locator('#wizard-slot').selectOption('9c');
    await page.locator('#wizard-next').click();
    await page.locator('#gen-algorithm').selectOption('ec-p256');
    await page.locator('#pin-policy').selectOption('once');
    await page.locator('#key-pin').fill(PIN);
    await page.locator('#key-submit').click();
    await page.locator('#public-key').waitFor({ state: 'attached' });
    await page.locator('#template').fill(TEMPLATE);
    await page.locator('#cert-pin').fill(PIN);
  });

  await step('confirm-relay', async () => {
    await page.locator('#cert-submit').click();
    // The fingerprint as pairs with colons, the relay's URL and the CA; nothing done yet.
    const shown = (await page.locator('#relay-fingerprint').innerText()).trim();
    if (shown.replaceAll(':', '') !== FINGERPRINT) throw new Error(`fingerprint shown: ${shown}`);
    await page.locator('#relay-details').getByText(LINK_URL).waitFor();
    await page.locator('#relay-details').getByText('(root)').waitFor();
    if (!(await page.locator('#relay-mode-self-signed').isChecked())) throw new Error('root mode not preselected');
  });

  await step('enrolled-and-provisioned', async () => {
    await page.locator('#relay-confirm').click();
    await page.locator('#wizard-done').waitFor();
    fs.writeFileSync(path.join(WORK, 'root-9c.pem'), await page.locator('#result-cert').innerText());
    await page.locator('#wizard-finish').click();
    await slotRow('9c').getByText('provisioned').waitFor();
  });

  await step('unlock-wrong-pin', async () => {
    s.expectStatus(403, `/api/keys/${SERIAL}/unlock`);
    await page.locator(`#unlock-pin-${SERIAL}`).fill('999999');
    await keySection().getByRole('button', { name: 'Unlock for signing' }).click();
    await keySection().getByText('wrong PIN').waitFor();
  });

  await step('unlocked', async () => {
    await page.locator(`#unlock-pin-${SERIAL}`).fill(PIN);
    await keySection().getByRole('button', { name: 'Unlock for signing' }).click();
    await keySection().getByText('Unlocked for signing').waitFor();
    fs.writeFileSync(path.join(WORK, 'unlocked'), 'yes');
  });

  await step('locked', async () => {
    await keySection().getByRole('button', { name: 'Lock' }).click();
    await keySection().getByRole('button', { name: 'Unlock for signing' }).waitFor();
  });
} catch (e) {
  console.log(`\nstep failed: ${e.stack || e}`);
  console.log(`problems so far: ${s.problems.join('; ')}`);
  throw e;
} finally {
  fs.writeFileSync(path.join(WORK, 'steps.json'), JSON.stringify(done));
  await s.finish();
}
