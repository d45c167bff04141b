// Shared by the browser tests: launching Debian's Chromium, signing up through the UI, waiting on
// visible state (never fixed sleeps) and saving screenshots.
// Env: BASE_URL (the server), ARTIFACTS (screenshot folder), CHROMIUM (default /usr/bin/chromium).

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const BASE = process.env.BASE_URL ?? (() => { throw new Error('BASE_URL is not set'); })();
const ARTIFACTS = process.env.ARTIFACTS || 'artifacts';
export const TIMEOUT = 15000;
// A script that hangs is stopped here, before the Rust side's own timeout.
setTimeout(() => { console.error('script timed out after 80 s'); process.exit(3); }, 80000).unref();

/** Launches Chromium; `args` are extra command-line switches (fake media devices, ...). */
export async function launch(args = []) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', ...args],
  });
}

/** A new page; console errors and page errors are echoed so a failure shows them. The page is
 * in American English (the client speaks the browser's language) unless `options.locale` says
 * otherwise. */
export async function newPage(browser, name, options = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 }, locale: 'en-US', ...options });
  ctx.setDefaultTimeout(TIMEOUT);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.error(`[${name}] console: ${m.text()}`); });
  return page;
}

export async function shot(page, file) {
  await page.screenshot({ path: join(ARTIFACTS, file), fullPage: false });
}

export function unique(prefix) {
  return `${prefix}${Math.random().toString(36).slice(2, 8)}`;
}

export const PASSWORD = 'correct horse battery';

/** Registers through the sign-up form and waits for the conversation list. */
export async function register(page, username, displayName) {
  await page.goto(BASE);
  await page.locator('#auth-form').waitFor();
  await page.click('#auth-toggle');
  await page.fill('#auth-username', username);
  await page.fill('#auth-password', PASSWORD);
  await page.fill('#auth-display', displayName);
  await page.click('#auth-submit');
  await page.locator('#app').waitFor();
  await online(page);
}

/** Logs in through the form and waits for the conversation list. */
export async function login(page, username, password = PASSWORD) {
  await page.goto(BASE);
  await page.locator('#auth-form').waitFor();
  await page.fill('#auth-username', username);
  await page.fill('#auth-password', password);
  await page.click('#auth-submit');
  await page.locator('#app').waitFor();
  await online(page);
}

/** Waits until the WebSocket said hello. */
export async function online(page) {
  await page.waitForFunction(() => document.body.dataset.conn === 'online', null, { timeout: TIMEOUT });
}

/** Records what `page` opens that a person should never see: native dialogs (dismissed) and
 * new tabs. Returns the two lists, filled as it happens. */
export function watchPopups(page) {
  const native = [];
  page.on('dialog', (d) => { native.push(d.message()); d.dismiss(); });
  const tabs = [];
  page.context().on('page', (p) => tabs.push(p.url()));
  return { native, tabs };
}

/** The bounding box of `locator` once it is visible. A re-render (a media status, a reaction,
 * a late page) may replace the element between finding and measuring it, when Playwright's
 * answer is null: then it is found again, until `timeout` ms have passed. */
export async function boxOf(locator, timeout = 5000) {
  const end = Date.now() + timeout;
  for (;;) {
    await locator.waitFor({ state: 'visible', timeout: Math.max(1, end - Date.now()) });
    const box = await locator.boundingBox();
    if (box) return box;
    if (Date.now() >= end) throw new Error(`no bounding box for ${locator} within ${timeout} ms`);
  }
}

/** Fails with a message unless `cond` holds. */
export function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`);
}

/** Runs `body`, closing the browser afterwards; exits non-zero on failure. */
export async function run(body, { args = [] } = {}) {
  const browser = await launch(args);
  try {
    await body(browser);
    console.log('ok');
  } catch (e) {
    console.error(e.stack || String(e));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
