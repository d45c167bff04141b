// Other people's profile changes arrive live and avatars are shown: while Hugo has the app open,
// Gina (through the API, as her other device would) changes her display name and sets an avatar.
// Without a reload, Hugo's conversation list, the open conversation's header and her message in
// a group show the new name, and the list, the header and the message show her picture.
// Env: USERNAME (Hugo's), PEER (Gina's display name before), GINA_TOKEN, AVATAR (a ready avatar
// upload of Gina's), GROUP (the group's name).

import { run, newPage, login, check, shot, BASE, TIMEOUT } from './common.mjs';

const NEW_NAME = 'Gina Rossi';

/** Waits for a loaded picture (naturalWidth > 0) inside `selector`. */
async function pictureShown(page, selector, what) {
  await page.waitForFunction((sel) => {
    const img = document.querySelector(sel);
    return img && img.complete && img.naturalWidth > 0;
  }, selector, { timeout: TIMEOUT }).catch(() => { throw new Error(`no picture for ${what} (${selector})`); });
}

await run(async (browser) => {
  const page = await newPage(browser, 'hugo');
  await login(page, process.env.USERNAME);
  await page.locator('.room').filter({ has: page.locator('.name', { hasText: new RegExp(`^${process.env.PEER}$`) }) }).click();
  await page.locator('#chat-title', { hasText: process.env.PEER }).waitFor();

  const r = await fetch(`${BASE}/api/me`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${process.env.GINA_TOKEN}` },
    body: JSON.stringify({ display_name: NEW_NAME, avatar: process.env.AVATAR }),
  });
  check(r.ok, `profile change answered ${r.status}`);

  await page.locator('#chat-title', { hasText: NEW_NAME }).waitFor();
  await page.locator('.room .name', { hasText: NEW_NAME }).waitFor();
  await pictureShown(page, '#chat-avatar img', 'the header');
  await pictureShown(page, '.room.active .avatar img', 'the conversation list');

  await page.locator('.room').filter({ has: page.locator('.name', { hasText: process.env.GROUP }) }).click();
  const from = page.locator('#messages .msg .from-name', { hasText: NEW_NAME });
  await from.first().waitFor();
  await pictureShown(page, '#messages .msg .from .avatar img', 'her message in the group');
  check((await page.locator('#messages .msg .from-name', { hasText: new RegExp(`^${process.env.PEER}$`) }).count()) === 0,
    'the old name is still shown beside a message');
  await shot(page, 'profiles.png');
});
