// Browser-test support for the web UIs (console and appliance).
//
// launch() starts Debian's /usr/bin/chromium headless through playwright-core (never a
// downloaded browser) with a fresh profile, and watches the page: any console error, uncaught
// exception, failed request or HTTP answer >= 400 is recorded, and finish() throws if there was
// one (tests may declare answers they provoke on purpose with session.expectStatus()).
// shot(name) saves a numbered full-page screenshot under $PKI_TEST_ARTIFACTS/<test name>/.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = process.env.PKI_CHROMIUM || '/usr/bin/chromium';

// axe-core (pinned in package.json) checks the page against WCAG 2 A/AA rules. It is evaluated
// through the DevTools protocol, so the page's Content-Security-Policy stays in force.
let axeSource = null;
export async function accessibilityViolations(page, { impacts = ['serious', 'critical'] } = {}) {
  if (!axeSource) {
    const here = path.dirname(new URL(import.meta.url).pathname);
    axeSource = fs.readFileSync(path.join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  }
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  return r.violations.filter((v) => impacts.includes(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

export function artifactsDir(testName) {
  const base = process.env.PKI_TEST_ARTIFACTS ||
    path.join(process.env.PKI_BUILD_DIR || os.tmpdir(), 'test-artifacts');
  const dir = path.join(base, testName);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export async function launch(testName, { viewport = { width: 1280, height: 860 }, isMobile = false } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pki-chromium-'));
  const dir = artifactsDir(testName);
  const downloads = path.join(dir, 'downloads');
  fs.mkdirSync(downloads, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true, // the relay's self-signed certificate in tests
    acceptDownloads: true,
    downloadsPath: downloads,
    viewport,
    isMobile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']).catch(() => {});
  const problems = [];
  const expected = []; // [{status, urlPart}] answers the test provokes on purpose
  let shotNo = 0;
  const watch = (page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') {
        const text = m.text();
        // Chromium logs every non-2xx fetch as a console error; those are judged by status below.
        if (/Failed to load resource: the server responded with a status of (\d+)/.test(text)) return;
        problems.push(`console error: ${text}`);
      }
    });
    page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
    page.on('requestfailed', (r) => {
      const f = r.failure();
      // A download navigation is reported as aborted; that is not a failure.
      if (f && /ERR_ABORTED/.test(f.errorText) && r.isNavigationRequest()) return;
      problems.push(`request failed: ${r.method()} ${r.url()} (${f ? f.errorText : '?'})`);
    });
    page.on('response', (r) => {
      if (r.status() < 400) return;
      const i = expected.findIndex((e) => (e.status === null ? r.status() < 500 : e.status === r.status()) && r.url().includes(e.urlPart));
      if (i >= 0) { expected.splice(i, 1); return; }
      problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
    });
  };
  context.on('page', watch);
  const page = context.pages()[0] || await context.newPage();
  watch(page);
  return {
    context, page, dir, downloads, problems,
    // An error answer the test provokes on purpose (status null: any 4xx), matched once.
    expectStatus(status, urlPart) { expected.push({ status, urlPart }); },
    async shot(name) {
      shotNo += 1;
      const file = path.join(dir, `${String(shotNo).padStart(2, '0')}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    // Call after each step: also fails when an error the test expected did not come.
    check() {
      for (const e of expected.splice(0)) problems.push(`expected HTTP ${e.status ?? '4xx'} from ${e.urlPart} did not happen`);
      if (problems.length) throw new Error('browser problems:\n  ' + problems.join('\n  '));
    },
    async finish() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
      if (problems.length) throw new Error('browser problems:\n  ' + problems.join('\n  '));
    },
  };
}
