// A conversation with photos opens at its newest message and stays there while the photos
// load: the last message (caption and time) is fully visible above the composer, on a desktop
// and on a phone-sized screen. The reader has read them all (with unread messages it would open
// at the first of those: reading.mjs).
// Env: USERNAME (the reader), PEER (the other member's display name), LAST (the newest body).

import { run, newPage, login, shot, check } from './common.mjs';

async function lastIsVisible(page, name) {
  await page.locator('.room', { hasText: process.env.PEER }).click();
  const last = page.locator('#messages .msg', { hasText: process.env.LAST }).last();
  await last.waitFor();
  // Every photo has loaded (the layout is final) and the newest message's time is inside the
  // visible part of the list; waited for, since the list scrolls as each photo's load event runs.
  const settled = await page.waitForFunction((last) => {
    const imgs = [...document.querySelectorAll('#messages img')];
    if (imgs.length < 3 || !imgs.every((i) => i.complete && i.naturalHeight > 0)) return false;
    const msgs = [...document.querySelectorAll('#messages .msg')].filter((m) => m.textContent.includes(last));
    const meta = msgs.at(-1)?.querySelector('.meta')?.getBoundingClientRect();
    const list = document.getElementById('messages').getBoundingClientRect();
    return meta && meta.top >= list.top && meta.bottom <= list.bottom + 1;
  }, process.env.LAST, { timeout: 10000 }).then(() => true, () => false);
  const box = await last.locator('.meta').boundingBox();
  const list = await page.locator('#messages').boundingBox();
  await shot(page, `photos-${name}.png`);
  check(settled,
    `${name}: the newest message's time is inside the visible list (${JSON.stringify(box)} in ${JSON.stringify(list)})`);
}

await run(async (browser) => {
  const desk = await newPage(browser, 'desktop');
  await login(desk, process.env.USERNAME);
  await lastIsVisible(desk, 'desktop');
  const phone = await newPage(browser, 'phone', { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true });
  await login(phone, process.env.USERNAME);
  await lastIsVisible(phone, 'phone');
});
