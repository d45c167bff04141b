// Reading comforts for media, on a desktop and a phone-sized touch screen:
// - a video message opens in the viewer over the page (no new tab, no download) and plays there
//   (the server's WebM); Escape and the close button close it and stop it;
// - a file message names the file once, shows the size of what its link serves, and downloads
//   under the original name;
// - emoji are drawn in colour, in the picker and in messages (pixels of a screenshot), and the
//   picker closes once one is picked;
// - on the phone the photo, voice, video and file buttons are behind one "Attach" button whose
//   menu opens, closes with Escape and sends a file; touch targets are at least 44×44 px;
// - no native alert/confirm/prompt: none opens, and none is left in static/.
// Env: USERNAME (the reader), PEER (the other member's display name, who sent VIDEO_CAPTION with
// a video, FILE_NAME of FILE_SIZE bytes without a caption, and EMOJI_TEXT).

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run, newPage, login, shot, check, watchPopups, boxOf } from './common.mjs';
import { colourfulPixels } from './pixels.mjs';

const { VIDEO_CAPTION, FILE_NAME, EMOJI_TEXT } = process.env;
const FILE_SIZE = Number(process.env.FILE_SIZE);

/** The size as a person expects to read it, worked out here independently of the client. */
function expectedSize(n) {
  if (n < 1024) return `${n} B`;
  const kb = n / 1024;
  if (kb < 1024) return `${kb < 10 ? kb.toFixed(1) : Math.round(kb)} KB`;
  const mb = kb / 1024;
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

async function atLeast44(locator, what) {
  const box = await locator.boundingBox();
  check(box && box.width >= 44 && box.height >= 44, `${what} is at least 44×44 px: ${JSON.stringify(box)}`);
}

async function visit(page, name, phone) {
  const { native, tabs } = watchPopups(page);
  await login(page, process.env.USERNAME);
  await page.locator('.room', { hasText: process.env.PEER }).click();

  // The video: a still in the conversation, playing in the viewer.
  const clip = page.locator('#messages .msg', { hasText: VIDEO_CAPTION });
  const play = clip.getByRole('button', { name: /^Play / });
  await play.waitFor();
  const viewer = page.getByRole('dialog', { name: 'Video' });
  const big = page.locator('#viewer-video');
  const open = async () => {
    await play.click();
    await viewer.waitFor();
    await page.waitForFunction(() => {
      const v = document.getElementById('viewer-video');
      return v && !v.paused && v.currentTime > 0.2 && v.videoWidth > 0;
    });
  };
  await open();
  const src = await big.evaluate((v) => v.currentSrc);
  const info = await page.evaluate(async (url) => {
    const r = await fetch(url);
    return { type: r.headers.get('content-type'), disposition: r.headers.get('content-disposition') };
  }, src);
  check(src.includes('/media/') && info.type === 'video/webm', `${name}: the viewer plays the server's WebM: ${src} ${info.type}`);
  check(!info.disposition?.startsWith('attachment'), `${name}: the video is not a download: ${info.disposition}`);
  const shown = await boxOf(big);
  const vp = page.viewportSize();
  check(shown.x >= 0 && shown.y >= 0 && shown.x + shown.width <= vp.width && shown.y + shown.height <= vp.height, `${name}: the whole video fits on the screen`);
  if (phone) await atLeast44(page.getByRole('button', { name: 'Close' }), `${name}: the viewer's close button`);
  await shot(page, `video-viewer-${name}.png`);
  await page.keyboard.press('Escape');
  await viewer.waitFor({ state: 'hidden' });
  // Closing stops it: the player goes (after the dialog's close event, a moment later).
  await big.waitFor({ state: 'detached' });
  await open();
  await page.getByRole('button', { name: 'Close' }).click();
  await viewer.waitFor({ state: 'hidden' });

  // The file: its name once, the size of what the link serves, the original name on download.
  const link = page.locator('#messages .msg a.file', { hasText: FILE_NAME });
  await link.waitFor();
  const fileMsg = page.locator('#messages .msg', { has: page.locator('a.file', { hasText: FILE_NAME }) });
  const text = await fileMsg.innerText();
  check(text.split(FILE_NAME).length - 1 === 1, `${name}: the file's name is shown once: ${JSON.stringify(text)}`);
  const served = await page.evaluate(async (url) => (await (await fetch(url)).arrayBuffer()).byteLength, await link.getAttribute('href'));
  check(served === FILE_SIZE, `${name}: the link serves the file (${served} of ${FILE_SIZE} bytes)`);
  const size = await fileMsg.locator('.file-size').innerText();
  check(size.includes(expectedSize(served)), `${name}: the size shown (${size}) is what the link serves (${expectedSize(served)})`);
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  check(download.suggestedFilename() === FILE_NAME, `${name}: the download keeps the name: ${download.suggestedFilename()}`);
  await download.cancel();

  // Emoji in colour, in a message and in the picker; a text-only line stays black on white.
  const emojiBody = page.locator('#messages .msg .body', { hasText: EMOJI_TEXT });
  // ⚡ has a plain black glyph in DejaVu Sans, Debian's default sans-serif: it comes out in
  // colour only if the page asks for the colour emoji font for it.
  for (const e of ['🎉', '⚡']) {
    await emojiBody.evaluate((b, e) => {
      // A span around the emoji alone, so that the screenshot holds nothing else.
      const walker = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
      let node = walker.nextNode();
      while (node && !node.textContent.includes(e)) node = walker.nextNode();
      const at = node.textContent.indexOf(e);
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + e.length);
      const span = document.createElement('span');
      span.className = 'emoji-probe';
      range.surroundContents(span);
    }, e);
    const inMessage = colourfulPixels(await page.locator('.emoji-probe').screenshot());
    check(inMessage >= 20, `${name}: ${e} in a message is in colour (${inMessage} coloured pixels)`);
    await page.locator('.emoji-probe').evaluate((span) => span.replaceWith(...span.childNodes));
  }
  const plain = colourfulPixels(await page.locator('#messages .msg .body', { hasText: VIDEO_CAPTION }).screenshot());
  check(plain <= 3, `${name}: plain text is not counted as colour (${plain} coloured pixels)`);
  const picker = page.locator('#emoji-picker');
  await page.click('#emoji-button');
  await picker.waitFor();
  for (const e of ['🎉', '❤️', '👍', '⚡']) {
    const n = colourfulPixels(await picker.getByRole('button', { name: e, exact: true }).screenshot());
    check(n >= 20, `${name}: ${e} in the picker is in colour (${n} coloured pixels)`);
  }
  await shot(page, `emoji-picker-${name}.png`);
  await picker.getByRole('button', { name: '🎉', exact: true }).click();
  await picker.waitFor({ state: 'hidden' });
  check((await page.locator('#composer-input').inputValue()).includes('🎉'), `${name}: the emoji is in the message`);
  // Typed among text, in the composer, too (⚡ ☕ ❤ have black glyphs in DejaVu Sans).
  const input = page.locator('#composer-input');
  const composerColour = async (text) => {
    await input.fill(text);
    await input.evaluate((e) => e.blur());
    return colourfulPixels(await input.screenshot());
  };
  const typed = await composerColour('ok ⚡☕❤ ok');
  const untyped = await composerColour('ok ok ok ok');
  check(typed >= untyped + 30, `${name}: emoji typed in the composer are in colour (${typed} coloured pixels, ${untyped} for text alone)`);
  await page.locator('#composer-input').fill('');

  // The composer: on a phone, one Attach button with a menu; on a desktop, the row of buttons.
  const attach = page.getByRole('button', { name: 'Attach', exact: true });
  const row = ['Take a photo', 'Record a voice note', 'Record a video', 'Attach files'];
  if (!phone) {
    check(!(await attach.isVisible()), `${name}: no Attach menu on a desktop`);
    for (const label of row) check(await page.locator('#composer').getByRole('button', { name: label }).isVisible(), `${name}: ${label} in the composer`);
  } else {
    for (const label of row) check(!(await page.locator('#composer').getByRole('button', { name: label }).isVisible()), `${name}: ${label} is in the menu, not the composer`);
    await atLeast44(attach, `${name}: Attach`);
    await atLeast44(page.getByRole('button', { name: 'Emoji' }), `${name}: Emoji`);
    await atLeast44(page.getByRole('button', { name: 'Send' }), `${name}: Send`);
    const menu = page.getByRole('menu', { name: 'Attach' });
    await attach.click();
    await menu.waitFor();
    check(await attach.getAttribute('aria-expanded') === 'true', `${name}: the button says the menu is open`);
    const items = menu.getByRole('menuitem');
    check(await items.count() === 4, `${name}: four ways to attach`);
    for (let i = 0; i < 4; i++) await atLeast44(items.nth(i), `${name}: menu item ${await items.nth(i).innerText()}`);
    for (const control of await page.locator('#composer > :visible').all()) {
      const box = await control.boundingBox();
      check(box.x >= 0 && box.x + box.width <= vp.width, `${name}: ${await control.getAttribute('aria-label') || await control.innerText()} fits on the screen (${box.x}+${box.width})`);
    }
    const composerBox = await page.locator('#composer-input').boundingBox();
    check(composerBox.width >= 200, `${name}: the message field has room (${composerBox.width} px)`);
    await shot(page, `attach-menu-${name}.png`);
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'hidden' });
    check(await attach.evaluate((b) => b === document.activeElement), `${name}: Escape gives focus back to Attach`);
    await attach.click();
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), menu.getByRole('menuitem', { name: 'Send a file' }).click()]);
    await menu.waitFor({ state: 'hidden' });
    const mine = `from-the-${name}.txt`;
    await chooser.setFiles({ name: mine, mimeType: 'text/plain', buffer: Buffer.from('sent from the menu\n') });
    const sent = page.locator('#messages .msg.mine', { has: page.locator('a.file', { hasText: mine }) });
    await sent.locator('.ticks.sent, .ticks.delivered, .ticks.read').waitFor();
    const sentText = await sent.innerText();
    check(sentText.split(mine).length - 1 === 1, `${name}: my file's name is shown once: ${JSON.stringify(sentText)}`);
    check((await sent.locator('.file-size').innerText()).includes('19 B'), `${name}: my file's size`);
  }

  check(tabs.length === 0, `${name}: no new tab opened: ${tabs.join(', ')}`);
  check(native.length === 0, `${name}: no native dialog: ${native.join('; ')}`);
}

/** Calls of alert(), confirm() or prompt() left in the client's code (comments aside). */
function nativeDialogCalls() {
  const found = [];
  const walk = (dir) => {
    for (const f of readdirSync(dir)) {
      const path = join(dir, f);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(m?js|html)$/.test(f)) {
        const code = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/<!--[\s\S]*?-->/g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
        for (const m of code.matchAll(/(?<!function\s+)(?<![\w$.-])(?:window\.)?(alert|confirm|prompt)\s*\(/g)) found.push(`${path}: ${m[0]}`);
      }
    }
  };
  walk(join(process.cwd(), '..', '..', 'static'));
  return found;
}

await run(async (browser) => {
  const left = nativeDialogCalls();
  check(left.length === 0, `no native dialogs in static/: ${left.join('; ')}`);
  await visit(await newPage(browser, 'desktop'), 'desktop', false);
  await visit(await newPage(browser, 'phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }), 'phone', true);
});
