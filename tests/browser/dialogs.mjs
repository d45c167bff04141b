// Things that used to leave the page or block it, on a desktop and a phone-sized touch screen:
// - a photo in a message opens in a viewer over the page (no new tab), larger than in the
//   conversation, and closes with Escape, with its close button and with a click beside it;
// - the emoji picker closes once an emoji is picked (and with Escape);
// - deleting a message asks in the page, not with the browser's confirm(): Cancel keeps it,
//   Delete deletes it.
// No native dialog (alert, confirm, prompt) may open. Env: USERNAME (the reader), PEER (the other
// member's display name, who sent a photo with the text CAPTION).

import { run, newPage, login, shot, check, watchPopups, boxOf } from './common.mjs';

async function visit(page, name, phone) {
  const { native, tabs } = watchPopups(page);
  await login(page, process.env.USERNAME);
  await page.locator('.room', { hasText: process.env.PEER }).click();
  const photo = page.locator('#messages .msg', { hasText: process.env.CAPTION }).locator('img');
  await photo.waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('#messages .msg img')].every((i) => i.complete && i.naturalWidth > 0));
  const inline = await boxOf(photo);

  // The viewer: open it, look at the picture, close it three ways.
  const viewer = page.getByRole('dialog', { name: 'Picture' });
  const big = page.locator('#viewer-img');
  const open = async () => {
    await page.getByRole('button', { name: /^Show / }).click();
    await viewer.waitFor();
    await page.waitForFunction(() => {
      const img = document.getElementById('viewer-img');
      return img.complete && img.naturalWidth > 0;
    });
  };
  await open();
  const shown = await boxOf(big);
  check(shown.width > inline.width, `${name}: the viewer shows the photo larger (${shown.width} > ${inline.width})`);
  const vp = page.viewportSize();
  check(shown.x >= 0 && shown.y >= 0 && shown.x + shown.width <= vp.width && shown.y + shown.height <= vp.height, `${name}: the whole photo fits on the screen`);
  await shot(page, `viewer-${name}.png`);
  await page.keyboard.press('Escape');
  await viewer.waitFor({ state: 'hidden' });
  await open();
  await page.getByRole('button', { name: 'Close' }).click();
  await viewer.waitFor({ state: 'hidden' });
  await open();
  await page.mouse.click(8, vp.height - 8);
  await viewer.waitFor({ state: 'hidden' });
  check(tabs.length === 0, `${name}: no new tab opened: ${tabs.join(', ')}`);

  // The emoji picker closes after use.
  const picker = page.locator('#emoji-picker');
  await page.click('#emoji-button');
  await picker.waitFor();
  await picker.getByRole('button', { name: '🎉' }).click();
  await picker.waitFor({ state: 'hidden' });
  check((await page.locator('#composer-input').inputValue()).includes('🎉'), `${name}: the emoji is in the message`);
  await page.click('#emoji-button');
  await picker.waitFor();
  await page.keyboard.press('Escape');
  await picker.waitFor({ state: 'hidden' });

  // Deleting asks in the page.
  const text = `delete me from the ${name}`;
  await page.locator('#composer-input').fill(text);
  await page.click('#send-button');
  const mine = page.locator('#messages .msg.mine', { hasText: text });
  await mine.locator('.ticks.sent, .ticks.delivered, .ticks.read').waitFor();
  const askDelete = async () => {
    // On a touch screen a tap shows (or hides) the actions; they may still show from before.
    if (!phone) await mine.hover();
    else if (!(await mine.getByRole('button', { name: 'Delete' }).isVisible())) await mine.locator('.body').tap();
    await mine.getByRole('button', { name: 'Delete' }).click();
    await page.locator('#ask', { hasText: 'Delete this message for everyone?' }).waitFor();
  };
  await askDelete();
  await shot(page, `ask-${name}.png`);
  await page.locator('#ask').getByRole('button', { name: 'Cancel' }).click();
  await page.locator('#ask').waitFor({ state: 'hidden' });
  check((await mine.count()) === 1 && !(await mine.getAttribute('class')).includes('deleted'), `${name}: Cancel keeps the message`);
  await askDelete();
  // This message, by its key: the desktop's deleted message is in the same conversation, so
  // "a deleted message" would be found before this one is deleted (or be two of them).
  const key = await mine.getAttribute('data-key');
  await page.locator('#ask').getByRole('button', { name: 'Delete' }).click();
  await page.locator(`#messages .msg.mine.deleted[data-key="${key}"]`, { hasText: 'Message deleted' }).waitFor();
  check(native.length === 0, `${name}: no native dialog: ${native.join('; ')}`);
}

await run(async (browser) => {
  await visit(await newPage(browser, 'desktop'), 'desktop', false);
  await visit(await newPage(browser, 'phone', { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true }), 'phone', true);
});
