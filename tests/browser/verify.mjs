// Phone and e-mail verification in the settings dialog: the profile phone, the number for texts
// about unread messages and the e-mail address are saved (shown "Not verified"), a code is sent
// (this script is the SMS and mail gateway the server was configured with), typed in and
// confirmed ("Verified"); an address another account verified is refused with the server's
// message, and a code asked for right after a save goes to the value saved. Env: USERNAME,
// OTHER_TOKEN (another account's token), GATEWAY_PORT.

import { createServer } from 'node:http';
import { run, newPage, login, check, shot, BASE, TIMEOUT } from './common.mjs';

// ----- the SMS gateway (form POST /send) and the mail gateway (JSON POST /mail) -----
const inbox = [];
const waiting = [];
const gateway = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const item = req.url === '/send'
      ? (({ to, text }) => ({ to, text }))(Object.fromEntries(new URLSearchParams(body)))
      : (({ to, text }) => ({ to, text }))(JSON.parse(body));
    inbox.push(item);
    waiting.splice(0).forEach((w) => w());
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise((ok) => gateway.listen(Number(process.env.GATEWAY_PORT), '127.0.0.1', ok));

/** The code of the next text or mail to `to`. */
async function codeFor(to) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const i = inbox.findIndex((m) => m.to === to);
    if (i >= 0) return inbox.splice(i, 1)[0].text.replace(/\D/g, '');
    check(Date.now() < deadline, `nothing sent to ${to}`);
    await new Promise((ok) => { waiting.push(ok); setTimeout(ok, 500); });
  }
}

async function api(method, path, body) {
  const r = await fetch(`${BASE}/api${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${process.env.OTHER_TOKEN}` },
    body: JSON.stringify(body),
  });
  check(r.ok, `${method} ${path} answered ${r.status}`);
}

try {
  await run(async (browser) => {
    // Another account verifies taken@example.org first.
    await api('PATCH', '/me', { email: 'taken@example.org' });
    await api('POST', '/me/email/verify', {});
    await api('POST', '/me/email/confirm', { code: await codeFor('taken@example.org') });

    const page = await newPage(browser, 'ivy');
    await login(page, process.env.USERNAME);
    await page.click('#me-button');
    await page.locator('#contact-phone').waitFor();

    /**
     * Saves `value` in row `id`, verifies it with the code sent to `to`. With `quick`, "Send code"
     * is clicked before the dialog has re-read what was saved (that read is held until then): the
     * code must still go to the value just saved, not to the one it replaced.
     */
    async function verify(id, value, to, { quick = false } = {}) {
      await page.fill(`#contact-${id}`, value);
      let open = () => {};
      let passed = null;
      if (quick) {
        const gate = new Promise((ok) => { open = ok; });
        let held = false;
        let pass = () => {};
        passed = new Promise((ok) => { pass = ok; });
        await page.route('**/api/me', async (route) => {
          if (route.request().method() !== 'GET' || held) return route.continue();
          held = true;
          await gate;
          await route.continue();
          pass();
        });
      }
      // The row may say "Not verified" already (an earlier value): wait for the save itself.
      await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'PATCH' && r.ok()),
        page.click(`#contact-${id}-save`),
      ]);
      await page.locator(`#contact-${id}-state`, { hasText: /^Not verified$/ }).waitFor();
      await page.click(`#contact-${id}-send`);
      if (quick) {
        open();
        await passed;
        await page.unroute('**/api/me');
      }
      await page.locator(`#contact-${id}-code`).waitFor();
      await page.fill(`#contact-${id}-code`, await codeFor(to));
      await page.click(`#contact-${id}-confirm`);
      await page.locator(`#contact-${id}-state`, { hasText: /^Verified$/ }).waitFor();
      check(await page.locator(`#contact-${id}-send`).isHidden(), `${id}: "Send code" still offered`);
    }

    await verify('phone', '+1 415 555 2671', '+14155552671');
    await verify('sms', '+41 44 668 18 00', '+41446681800');
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/push/settings') && r.request().method() === 'PATCH' && r.ok()),
      page.check('#contact-sms-fallback'),
    ]);

    // An address another account verified: the server's refusal is shown, nothing is sent.
    await page.fill('#contact-email', 'taken@example.org');
    await page.click('#contact-email-save');
    await page.locator('#contact-email-state', { hasText: /^Not verified$/ }).waitFor();
    await page.click('#contact-email-send');
    await page.locator('#settings-error', { hasText: 'email: already verified by another account' }).waitFor();
    check(!inbox.some((m) => m.to === 'taken@example.org'), 'a code was mailed to a taken address');

    await verify('email', 'ivy@example.org', 'ivy@example.org', { quick: true });
    await shot(page, 'verify-settings.png');
    // A reload shows what the server stored.
    await page.reload();
    await page.locator('#app').waitFor();
    await page.click('#me-button');
    for (const id of ['phone', 'sms', 'email']) {
      await page.locator(`#contact-${id}-state`, { hasText: /^Verified$/ }).waitFor();
    }
    check(await page.locator('#contact-sms-fallback').isChecked(), 'the SMS fallback is not on after a reload');
  });
} finally {
  gateway.close();
}
