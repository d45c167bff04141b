// Read ticks survive a reload: messages the other member already read show as read (blue ✓✓)
// when the conversation is opened in a fresh page, not as merely sent.
// Env: USERNAME (the sender), PEER (the reader's display name), COUNT (messages sent and read).

import { run, newPage, login, check } from './common.mjs';

const count = Number(process.env.COUNT);

await run(async (browser) => {
  const page = await newPage(browser, 'sender');
  await login(page, process.env.USERNAME);
  await page.locator('.room', { hasText: process.env.PEER }).click();
  await page.locator('#messages .msg.mine').nth(count - 1).waitFor();
  await page.waitForFunction((n) => document.querySelectorAll('#messages .msg.mine .ticks.read').length === n, count);
  check((await page.locator('#messages .msg.mine .ticks.sent').count()) === 0, 'no message shown as only sent');
});
