// The console walk (see test_console_browser.py): every step as a user does it, with a
// screenshot. Fails on any console error, failed request or unexpected HTTP error.
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { launch } from '../harness/browser/browser.mjs';

const BASE = process.env.RELAY_URL;
const SETUP_URL = process.env.SETUP_URL;
const ADMIN = { name: 'admin', password: 'correct horse battery staple' };
const result = { steps: [] };

const s = await launch('console');
const { page } = s;
page.setDefaultTimeout(20000);

async function step(name, fn) {
  process.stdout.write(`step ${name} … `);
  await fn();
  await s.shot(name);
  s.check();
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
} catch (e) {
  await s.shot('FAILED').catch(() => {});
  console.log('\n' + (s.problems.length ? 'browser problems:\n  ' + s.problems.join('\n  ') + '\n' : ''));
  throw e;
} finally {
  fs.writeFileSync(process.env.RESULT_JSON, JSON.stringify(result, null, 2));
}
await s.finish();
