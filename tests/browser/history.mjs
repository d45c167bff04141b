// History scrolls back: the conversation opens on its latest messages and scrolling up loads
// older pages until the first message, each message exactly once and in order.
// Env: USERNAME (who signs in), PEER (display name of the other side), COUNT (messages sent).

import { run, newPage, login, shot, check } from './common.mjs';

const count = Number(process.env.COUNT);

await run(async (browser) => {
  const page = await newPage(browser, 'reader');
  await login(page, process.env.USERNAME);
  await page.locator('.room', { hasText: process.env.PEER }).click();
  await page.locator('#messages .msg .body', { hasText: `history message ${count}` }).waitFor();
  const first = page.locator('#messages .msg .body', { hasText: /^history message 1$/ });
  check((await first.count()) === 0, 'the first message is not loaded before scrolling');
  const bodies = page.locator('#messages .msg .body');
  for (let i = 0; i < 20 && (await first.count()) === 0; i++) {
    const before = await bodies.count();
    await page.locator('#messages').evaluate((el) => { el.scrollTop = 0; });
    await page.waitForFunction((n) => document.querySelectorAll('#messages .msg').length > n, before);
  }
  await first.waitFor();
  const texts = await bodies.allTextContents();
  const expected = Array.from({ length: count }, (_, i) => `history message ${i + 1}`);
  check(JSON.stringify(texts) === JSON.stringify(expected), `every message once, in order; got ${texts.length}: ${texts.slice(0, 3)}…`);
  await shot(page, 'history.png');
});
