// Anyone's profile, on a desktop and then a phone-sized touch screen. Gus and Hal share the group
// Crew, where Hal wrote; Hal (online, desktop) has an avatar and an about text. Gus
// - clicks Hal's name beside his message: the profile shows Hal's picture, name, username,
//   about and "online", and follows a change of Hal's about text made meanwhile; Escape closes
//   it and gives focus back to the name;
// - opens it again from the group's member list and picks "Message": the dm with Hal opens (made
//   the first time), and what Gus writes there reaches Hal;
// - opens it from the dm's header and sets a nickname: shown in the profile, kept by the server
//   (GET /api/contacts), shown again when the profile is reopened and naming the dm in its
//   header;
// - blocks Hal (asked in the page): Hal's next message in the dm fails on his side and never
//   reaches Gus; after unblocking, Hal's message arrives.
// No native dialog opens. Env: GUS, HAL (usernames), HAL_ABOUT, GROUP (the group's name).

import { BASE, run, newPage, login, shot, check, TIMEOUT } from './common.mjs';

const PHONE = { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true };
/** Hal's about text as it is now (each visit changes it while Gus looks). */
let halAbout = process.env.HAL_ABOUT;

const roomEntry = (page, name) => page.locator('#room-list .room').filter({ has: page.locator('.name', { hasText: new RegExp(`^${name}$`) }) });

/** Sends `text` from the composer of the open conversation. */
async function send(page, text) {
  await page.locator('#composer-input').fill(text);
  await page.click('#send-button');
}

async function pictureIn(page, selector, what) {
  await page.waitForFunction((sel) => {
    const img = document.querySelector(sel);
    return img && img.complete && img.naturalWidth > 0;
  }, selector, { timeout: TIMEOUT }).catch(() => { throw new Error(`no picture in ${what} (${selector})`); });
}

async function visit(browser, phone) {
  const tag = phone ? 'phone' : 'desktop';
  const native = [];
  const hal = await newPage(browser, `hal-${tag}`);
  hal.on('dialog', (d) => { native.push(d.message()); d.dismiss(); });
  await login(hal, process.env.HAL);

  const gus = await newPage(browser, `gus-${tag}`, phone ? PHONE : {});
  gus.on('dialog', (d) => { native.push(d.message()); d.dismiss(); });
  await login(gus, process.env.GUS);
  await roomEntry(gus, process.env.GROUP).click();
  const name = gus.locator('#messages .msg button.from', { hasText: 'Hal' });
  await name.click();

  const profile = gus.locator('#profile-view');
  await profile.getByRole('heading', { name: 'Hal' }).waitFor();
  await profile.getByText(`@${process.env.HAL.toLowerCase()}`).waitFor();
  await profile.locator('.about', { hasText: new RegExp(`^${halAbout}$`) }).waitFor();
  await profile.locator('.presence', { hasText: /^online$/ }).waitFor();
  await pictureIn(gus, '#profile-view .avatar.big img', 'the profile');
  await shot(gus, `profile-${tag}.png`);
  // Hal changes his about text (as from another device): the open profile follows.
  halAbout = `${halAbout}, and the ${tag}`;
  const halToken = await hal.evaluate(() => localStorage.getItem('chat.token'));
  const changed = await hal.request.patch(`${BASE}/api/me`, { headers: { Authorization: `Bearer ${halToken}` }, data: { about: halAbout } });
  check(changed.ok(), `${tag}: about changed (${changed.status()})`);
  await profile.locator('.about', { hasText: new RegExp(`^${halAbout}$`) }).waitFor();
  check(await gus.evaluate(() => !!document.activeElement?.closest('#profile-view')), `${tag}: focus is in the profile`);
  await gus.keyboard.press('Escape');
  await profile.waitFor({ state: 'hidden' });
  // The name may have been redrawn meanwhile: focus finds it again as the dialog's close event runs.
  await gus.waitForFunction(() => document.activeElement?.classList.contains('from'), null, { timeout: 2000 })
    .catch(async () => { throw new Error(`${tag}: focus is not back on the name but on ${await gus.evaluate(() => document.activeElement?.outerHTML.slice(0, 120))}`); });

  // From the member list: Message opens (or makes) the dm.
  await gus.click('#chat-info');
  const panel = gus.locator('#group-panel');
  await panel.getByRole('button', { name: /^Hal$/ }).click();
  await profile.getByRole('heading', { name: 'Hal' }).waitFor();
  await profile.getByRole('button', { name: 'Message' }).click();
  await profile.waitFor({ state: 'hidden' });
  await panel.waitFor({ state: 'hidden' });
  // The dm is named by Gus's nickname for Hal once he has one (set on the desktop, below).
  await gus.locator('#chat-title', { hasText: phone ? /^Captain$/ : /^Hal$/ }).waitFor();
  const hello = `hello Hal from the ${tag}`;
  await send(gus, hello);
  await roomEntry(hal, 'Gus').click();
  await hal.locator('#messages .msg', { hasText: hello }).waitFor();

  // From the dm's header: a nickname, kept by the server.
  const nick = phone ? 'Skipper' : 'Captain';
  await gus.click('#chat-info');
  await profile.getByRole('heading', { name: 'Hal' }).waitFor();
  await profile.getByLabel(/Nickname/).fill(nick);
  await profile.getByRole('button', { name: 'Save nickname' }).click();
  await profile.getByText(`Your nickname: ${nick}`).waitFor();
  await gus.locator('#chat-title', { hasText: new RegExp(`^${nick}$`) }).waitFor();
  const token = await gus.evaluate(() => localStorage.getItem('chat.token'));
  const contacts = await (await gus.request.get(`${BASE}/api/contacts`, { headers: { Authorization: `Bearer ${token}` } })).json();
  check(contacts.contacts.some((c) => c.nickname === nick), `${tag}: the server keeps the nickname: ${JSON.stringify(contacts)}`);
  await profile.getByRole('button', { name: 'Close' }).click();
  await profile.waitFor({ state: 'hidden' });
  await gus.click('#chat-info');
  await profile.getByText(`Your nickname: ${nick}`).waitFor();
  check(await profile.getByLabel(/Nickname/).inputValue() === nick, `${tag}: the nickname field shows it again`);

  // Block: Hal's message fails and does not arrive; unblocked, it does.
  await profile.getByRole('button', { name: 'Block', exact: true }).click();
  const askBox = gus.locator('#ask');
  await askBox.getByText('Block Hal?').waitFor();
  await askBox.getByRole('button', { name: 'Block', exact: true }).click();
  await profile.getByRole('button', { name: 'Unblock' }).waitFor();
  await profile.getByText('Hal is blocked.').waitFor();
  await shot(gus, `profile-blocked-${tag}.png`);
  const stopped = `are you there, ${tag}?`;
  await send(hal, stopped);
  await hal.locator('#messages .msg.mine', { hasText: stopped }).locator('.ticks.failed').waitFor();
  await profile.getByRole('button', { name: 'Unblock' }).click();
  await profile.getByRole('button', { name: 'Block', exact: true }).waitFor();
  const back = `back again, ${tag}`;
  await send(hal, back);
  await gus.locator('#messages .msg', { hasText: back }).waitFor();
  check(await gus.locator('#messages .msg', { hasText: stopped }).count() === 0, `${tag}: the message sent while blocked never arrived`);
  check(native.length === 0, `${tag}: no native dialog: ${native.join('; ')}`);
  await gus.keyboard.press('Escape');
  await profile.waitFor({ state: 'hidden' });
  for (const p of [gus, hal]) await p.context().close();
}

await run(async (browser) => {
  await visit(browser, false);
  await visit(browser, true);
});
