// Muting and the notification sound, on a desktop and then a phone-sized touch screen (each with
// its own Ann and Ben, who share a dm and the group Club). Ben writes from his own page.
// - Sound on (the default, shown in the settings): Ben's message in the dm while Ann has Club
//   open plays the sound once; his message in Club, open and visible, plays none; with the tab
//   hidden, a message in the open conversation plays it.
// - Ann mutes the dm from its header's bell "For 8 hours": the list marks it muted, the server
//   has it muted until about 8 hours from now; Ben's next dm message raises the unread badge but
//   plays no sound. "Until I unmute it" and "For a week" are kept as such; "Unmute" ends it.
// - Sound off in the settings: a dm message plays nothing.
// Sounds are counted through the page's `chat:sound` events (document.body.dataset.sounds).
// Env: {DESKTOP,PHONE}_{ANN,BEN} (usernames).

import { BASE, run, newPage, login, check } from './common.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const HOUR = 3600 * 1000;

const sounds = (page) => page.evaluate(() => Number(document.body.dataset.sounds || 0));
const entry = (page, name) => page.locator('#room-list .room').filter({ has: page.locator('.name', { hasText: new RegExp(`^${name}$`) }) });

async function api(page, path) {
  const token = await page.evaluate(() => localStorage.getItem('chat.token'));
  const r = await page.request.get(`${BASE}/api${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return r.json();
}

async function open(page, name, phone) {
  if (phone && await page.locator('#back-button').isVisible()) await page.click('#back-button');
  await entry(page, name).click();
  await page.locator('#chat-title', { hasText: new RegExp(`^${name}$`) }).waitFor();
}

async function send(page, text) {
  await page.locator('#composer-input').fill(text);
  await page.click('#send-button');
  await page.locator('#messages .msg.mine', { hasText: text }).locator('.ticks:not(.pending)').waitFor();
}

/** Ben writes `text` in conversation `room` (opened on his page). */
async function benSays(ben, room, text) {
  await open(ben, room, false);
  await send(ben, text);
}

async function muteChoice(ann, choice) {
  await ann.click('#mute-button');
  const menu = ann.locator('#mute-menu');
  await menu.getByRole('heading', { name: 'Notifications for Ben' }).waitFor();
  await menu.getByRole('button', { name: choice, exact: true }).click();
  await menu.waitFor({ state: 'hidden' });
}

async function mutedUntil(ann, room) {
  const { settings } = await api(ann, '/push/settings');
  return settings.muted.find((m) => m.room === room);
}

async function visit(browser, phone) {
  const tag = phone ? 'phone' : 'desktop';
  const prefix = phone ? 'PHONE' : 'DESKTOP';
  const ann = await newPage(browser, `ann-${tag}`, phone ? PHONE : {});
  const ben = await newPage(browser, `ben-${tag}`);
  await login(ann, process.env[`${prefix}_ANN`]);
  await login(ben, process.env[`${prefix}_BEN`]);
  const dmId = await entry(ann, 'Ben').getAttribute('data-room');

  await ann.click('#me-button');
  check(await ann.getByLabel('Sound').isChecked(), `${tag}: sound is on by default`);
  await ann.getByRole('button', { name: 'Close' }).click();

  // A message in the dm while Club is open: one sound.
  await open(ann, 'Club', phone);
  await benSays(ben, 'Ann', `ping from ${tag}`);
  await ann.waitForFunction(() => document.body.dataset.sounds === '1');
  // In the open, visible conversation: none (shown, and still one sound).
  await benSays(ben, 'Club', `club news ${tag}`);
  await ann.locator('#messages .msg', { hasText: `club news ${tag}` }).waitFor();
  check(await sounds(ann) === 1, `${tag}: no sound for the open conversation`);
  // The tab hidden (as when another tab is in front): the open conversation sounds too.
  await ann.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await benSays(ben, 'Club', `while away ${tag}`);
  await ann.waitForFunction(() => document.body.dataset.sounds === '2');
  await ann.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });

  // Mute the dm for 8 hours from its header.
  await open(ann, 'Ben', phone);
  check(await ann.getByRole('button', { name: 'Mute notifications' }).isVisible(), `${tag}: the bell says what it does`);
  const before = Date.now();
  await muteChoice(ann, 'For 8 hours');
  const m8 = await mutedUntil(ann, dmId);
  check(m8 && m8.until >= before + 8 * HOUR - 60000 && m8.until <= Date.now() + 8 * HOUR + 60000, `${tag}: muted for 8 hours: ${JSON.stringify(m8)}`);
  await ann.getByRole('button', { name: /^Muted until / }).waitFor();
  if (phone) await ann.click('#back-button');
  await entry(ann, 'Ben').locator('.muted-mark').waitFor();
  await open(ann, 'Club', phone);
  // On a phone the list is a screen of its own: Ann goes back to it to watch.
  if (phone) await ann.click('#back-button');
  await benSays(ben, 'Ann', `muted ping ${tag}`);
  await entry(ann, 'Ben').locator('.badge', { hasText: '1' }).waitFor();
  check(await sounds(ann) === 2, `${tag}: a muted conversation plays no sound`);

  // Until unmuted, a week, then unmute.
  await open(ann, 'Ben', phone);
  await muteChoice(ann, 'Until I unmute it');
  check((await mutedUntil(ann, dmId))?.until === null, `${tag}: muted for ever`);
  await muteChoice(ann, 'For a week');
  const week = await mutedUntil(ann, dmId);
  check(week && week.until > Date.now() + 7 * 24 * HOUR - 120000, `${tag}: muted for a week: ${JSON.stringify(week)}`);
  await muteChoice(ann, 'Unmute');
  check(!(await mutedUntil(ann, dmId)), `${tag}: unmuted on the server`);
  await ann.getByRole('button', { name: 'Mute notifications' }).waitFor();
  await open(ann, 'Club', phone);
  if (phone) await ann.click('#back-button');
  await entry(ann, 'Ben').locator('.name').waitFor();
  check(await entry(ann, 'Ben').locator('.muted-mark').count() === 0, `${tag}: the list no longer marks it muted`);

  // Sound off: nothing plays.
  await ann.click('#me-button');
  await ann.getByLabel('Sound').uncheck();
  await ann.waitForFunction(async () => {
    const r = await fetch('/api/me/settings', { headers: { Authorization: `Bearer ${localStorage.getItem('chat.token')}` } });
    return (await r.json()).settings.notifications.sound === false;
  });
  await ann.getByRole('button', { name: 'Close' }).click();
  await benSays(ben, 'Ann', `quiet ping ${tag}`);
  await entry(ann, 'Ben').locator('.last', { hasText: `quiet ping ${tag}` }).waitFor();
  check(await sounds(ann) === 2, `${tag}: sound off plays nothing`);
  await ann.context().close();
  await ben.context().close();
}

await run(async (browser) => {
  await visit(browser, false);
  await visit(browser, true);
}, { args: ['--autoplay-policy=no-user-gesture-required'] });
